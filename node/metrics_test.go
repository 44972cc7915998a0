package node_test

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/metrics"
	"github.com/banyan-mesh/banyan/node/nodetest"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// A node asked for metrics serves its own, libp2p's and Go's on their own
// address, with no token, and says it is healthy.
func TestMetricsAndHealth(t *testing.T) {
	withMetrics := func(o *node.Options) { o.Metrics = "127.0.0.1:0" }
	a := nodetest.StartWith(t, "", withMetrics)
	b := nodetest.Start(t, "", a.Info())
	g := nodetest.JoinAll(t, []*nodetest.Node{a, b})
	ids := nodetest.SendN(t, b, g, 3, "hello %d")
	nodetest.Eventually(t, 20*time.Second, "a to hold b's messages", func() (bool, string) { return nodetest.HasAll(t, a, g, ids) })
	nodetest.SendN(t, a, g, 2, "from a %d")

	base := "http://" + a.MetricsAddr().String()
	code, body := get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	for _, want := range []string{
		"banyan_peers 1", "banyan_events_accepted_total", `banyan_store_bytes{part="lsm"}`,
		"banyan_gossip_peer_score_bucket", `banyan_sync_sessions_total{result="ok"}`, "banyan_mailbox_bytes",
		"libp2p_", "go_goroutines", "process_resident_memory_bytes",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "hello") || strings.Contains(body, "from a") {
		t.Error("/metrics shows message text")
	}
	// Its own two messages were timed, step by step.
	for _, step := range []string{"mark", "store"} {
		m := regexp.MustCompile(`\nbanyan_own_write_seconds_count\{step="` + step + `"\} (\d+)\n`).FindStringSubmatch(body)
		if m == nil {
			t.Errorf("/metrics has no count of own writes' %s step", step)
		} else if n, _ := strconv.Atoi(m[1]); n < 2 {
			t.Errorf("/metrics counts %d own writes' %s step, want at least 2", n, step)
		}
	}
	code, body = get(t, base+"/healthz")
	var h metrics.Health
	if err := json.Unmarshal([]byte(body), &h); err != nil || code != http.StatusOK || !h.Healthy {
		t.Fatalf("/healthz: %d %s (%v)", code, body, err)
	}
	if b.MetricsAddr() != nil {
		t.Error("a node not asked for metrics serves them")
	}
}
