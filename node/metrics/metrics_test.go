package metrics

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// /healthz answers 503 and names the part that is unwell.
func TestHealthzSaysWhatIsWrong(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sick := map[string]string{"store": "store cannot be read"}
	s := New(Options{Listener: ln, Gatherer: prometheus.NewRegistry(), Health: func(context.Context) map[string]string { return sick }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var h Health
	err = json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable || h.Healthy || h.Problems["store"] == "" {
		t.Fatalf("got %d %+v (%v), want 503 naming the store", resp.StatusCode, h, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}
