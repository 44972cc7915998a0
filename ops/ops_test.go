// Package ops_test checks what the repository ships to run Banyan as a
// service: the systemd units and the container image.
package ops_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// buildBanyan builds the binary the units start.
func buildBanyan(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "banyan")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/banyan").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

var units = []struct {
	file, exec string
	// want lists settings the unit must have.
	want []string
}{
	{"systemd/banyan-relay.service", "/usr/local/bin/banyan", []string{
		"Type=notify", "ExecStart=/usr/local/bin/banyan relay", "Restart=on-failure", "DynamicUser=yes",
		"StateDirectory=banyan-relay", "Environment=BANYAN_HOME=%S/banyan-relay", "ProtectSystem=strict", "ProtectHome=yes",
		"NoNewPrivileges=yes", "CapabilityBoundingSet=\n", "PrivateDevices=yes", "SystemCallFilter=@system-service",
	}},
	{"systemd/user/banyan.service", "%h/.local/bin/banyan", []string{
		"Type=notify", "ExecStart=%h/.local/bin/banyan run", "Restart=on-failure", "NoNewPrivileges=yes", "WantedBy=default.target",
	}},
}

// The units have their hardening, and systemd-analyze verify finds
// nothing to say about them; the relay's exposure, as systemd-analyze
// security rates it, is low.
func TestSystemdUnits(t *testing.T) {
	for _, u := range units {
		b, err := os.ReadFile(u.file)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range u.want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s lacks %q", u.file, strings.TrimSpace(w))
			}
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed here: the units are not verified (apt-get install systemd)")
	}
	bin := buildBanyan(t)
	dir := t.TempDir()
	for _, u := range units {
		b, _ := os.ReadFile(u.file)
		// verify checks that the command exists: point it at the binary
		// just built.
		path := filepath.Join(dir, filepath.Base(u.file))
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(b), u.exec, bin)), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, analyze, "verify", path).CombinedOutput()
		cancel()
		if err != nil || strings.Contains(string(out), filepath.Base(path)) {
			t.Errorf("systemd-analyze verify %s: %v\n%s", u.file, err, out)
		}
		if !strings.Contains(u.file, "relay") {
			continue
		}
		ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
		out, err = exec.CommandContext(ctx, analyze, "--offline=yes", "security", path).CombinedOutput()
		cancel()
		m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
		if err != nil && m == nil {
			t.Logf("systemd-analyze --offline=yes security is not available here (%v): exposure not rated", err)
			continue
		}
		if m == nil {
			t.Fatalf("systemd-analyze security said no exposure level:\n%s", out)
		}
		if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2 {
			t.Errorf("the relay unit's exposure is %s (want 2 or less):\n%s", m[1], out)
		}
	}
}

// The image builds where Docker runs.
func TestDockerImageBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a container image")
	}
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("docker is not installed here: the image is not built")
	}
	if out, err := exec.Command(docker, "info").CombinedOutput(); err != nil {
		t.Skipf("docker cannot reach its daemon here, the image is not built: %v\n%.300s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	tag := "banyan-relay-test:" + strconv.FormatInt(time.Now().UnixNano(), 36)
	out, err := exec.CommandContext(ctx, docker, "build", "-f", "Dockerfile", "-t", tag, "..").CombinedOutput()
	if err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	defer exec.Command(docker, "rmi", tag).Run()
	out, err = exec.CommandContext(ctx, docker, "run", "--rm", "--entrypoint", "/usr/local/bin/banyan", tag, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "banyan ") {
		t.Fatalf("the image's banyan version: %v\n%s", err, out)
	}
	out, err = exec.CommandContext(ctx, docker, "image", "inspect", "-f", "{{.Config.User}}", tag).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.HasPrefix(string(out), "0") || strings.HasPrefix(string(out), "root") {
		t.Fatalf("the image runs as user %q (%v): want a non-root user", out, err)
	}
}

// The Grafana dashboard is valid JSON and asks only for metrics the node
// serves.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile("grafana/banyan-relay.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	served, err := os.ReadFile("../node/observe.go")
	if err != nil {
		t.Fatal(err)
	}
	metric := regexp.MustCompile(`\bbanyan_[a-z_]+`)
	n := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, m := range metric.FindAllString(tg.Expr, -1) {
				n++
				if h, ok := strings.CutSuffix(m, "_bucket"); ok {
					m = h // a histogram's buckets
				}
				if !strings.Contains(string(served), `"`+m+`"`) {
					t.Errorf("panel %q asks for %s, which the node does not serve", p.Title, m)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("the dashboard asks for no Banyan metric")
	}
}
