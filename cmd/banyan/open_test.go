package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/banyan-mesh/banyan/node/home"
)

func TestUIURL(t *testing.T) {
	home := home.Home(t.TempDir())
	for addr, want := range map[string]string{
		"127.0.0.1:7342": "http://127.0.0.1:7342/#token=abc",
		"0.0.0.0:7342":   "http://127.0.0.1:7342/#token=abc",
		"[::1]:9":        "http://[::1]:9/#token=abc",
	} {
		os.WriteFile(home.APIAddrFile(), []byte(addr+"\n"), 0o600)
		os.WriteFile(home.APITokenFile(), []byte("abc\n"), 0o600)
		if got, err := uiURL(home); err != nil || got != want {
			t.Errorf("api.addr %s: %q, %v; want %q", addr, got, err, want)
		}
	}
	os.Remove(home.APIAddrFile())
	if _, err := uiURL(home); err == nil {
		t.Error("no error without api.addr")
	}
}

// 'banyan open --print' prints the address of the running node's app, and
// the app is there.
func TestProcessOpenPrint(t *testing.T) {
	t.Parallel()
	p := startNode(t, "A", filepath.Join(t.TempDir(), "a"))
	waitUp(t, p)
	r := runCLI("open", "--print", "--home", p.home)
	addr, _ := os.ReadFile(filepath.Join(p.home, "api.addr"))
	token, _ := os.ReadFile(filepath.Join(p.home, "api.token"))
	want := "http://" + strings.TrimSpace(string(addr)) + "/#token=" + strings.TrimSpace(string(token)) + "\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("open --print: %v\nwant stdout %q", r, want)
	}
	resp, err := http.Get(strings.TrimSpace(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET the app: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	if r := runCLI("open", "--print", "--home", t.TempDir()); r.code == 0 || !strings.Contains(r.stderr, "no banyan node is running") {
		t.Errorf("open without a node: %v", r)
	}
}
