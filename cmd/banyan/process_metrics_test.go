package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A node run with --metrics answers /metrics and /healthz on that address,
// with no token.
func TestProcessMetricsAndHealth(t *testing.T) {
	dir := t.TempDir()
	p := &nodeProc{name: "relay", home: filepath.Join(dir, "relay"), logPath: filepath.Join(dir, "relay.log")}
	p.args = []string{"run", "--home", p.home, "--no-mdns", "--api", "127.0.0.1:0", "--log-format", "json",
		"--listen", "/ip4/127.0.0.1/tcp/0", "--metrics", "127.0.0.1:0"}
	t.Cleanup(p.kill)
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	waitUp(t, p)
	addrRE := regexp.MustCompile(`"metrics":"(127\.0\.0\.1:[0-9]+)"`)
	var addr string
	waitFor(t, "the log to say where metrics are served", func() (bool, string) {
		b, _ := os.ReadFile(p.logPath)
		if m := addrRE.FindSubmatch(b); m != nil {
			addr = string(m[1])
			return true, ""
		}
		return false, "not yet"
	})
	for path, want := range map[string]string{"/metrics": "banyan_events_accepted_total", "/healthz": `"healthy":true`} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d, want 200 with %q:\n%.300s", path, resp.StatusCode, want, body)
		}
	}
	// It is a member's node, not a relay, and 'relay status' says so.
	if r := runCLI("relay", "status", "--home", p.home); r.code == 0 || !strings.Contains(r.stderr, "the node running here is not a relay") {
		t.Errorf("relay status on a member's node: %v", r)
	}
	if err := p.stop(waitTimeout); err != nil {
		t.Fatal(err)
	}
}
