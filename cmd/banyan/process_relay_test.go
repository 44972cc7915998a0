package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// 'banyan relay' runs a relay: it tells systemd it is ready (Type=notify)
// and, when stopped, that it is stopping; 'banyan relay status' shows what
// it keeps; it serves no web UI.
func TestProcessRelay(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify.sock")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	notes := make(chan string, 8)
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := ln.Read(buf)
			if err != nil {
				close(notes)
				return
			}
			notes <- string(buf[:n])
		}
	}()
	wantNote := func(want string) {
		t.Helper()
		select {
		case got := <-notes:
			if got != want {
				t.Fatalf("systemd was told %q, want %q", got, want)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("systemd was never told %q", want)
		}
	}
	home := filepath.Join(dir, "relay")
	p := &nodeProc{name: "relay", home: home, logPath: filepath.Join(dir, "relay.log")}
	p.args = []string{"relay", "--home", home, "--no-mdns", "--api", "127.0.0.1:0", "--log-format", "json",
		"--listen", "/ip4/127.0.0.1/tcp/0", "--relay-group-quota-mib", "100"}
	p.env = []string{"NOTIFY_SOCKET=" + sock}
	t.Cleanup(p.kill)
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	wantNote("READY=1")
	waitUp(t, p)
	r := runCLI("relay", "status", "--home", home)
	if r.code != 0 || !strings.Contains(r.stdout, "groups: 0 of at most 1024") || !strings.Contains(r.stdout, "100 MiB per group") {
		t.Fatalf("relay status: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runCLI("relay", "status", "--home", home, "--json"); r.code != 0 || !strings.Contains(r.stdout, `"group": 104857600`) {
		t.Fatalf("relay status --json: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runCLI("relay", "export", "--home", home, "nothex"); r.code != 2 {
		t.Fatalf("relay export of a bad scope: exit %d, want 2\n%s", r.code, r.stderr)
	}
	if err := p.stop(waitTimeout); err != nil {
		t.Fatal(err)
	}
	wantNote("STOPPING=1")
}
