//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/home"
)

// A command run while the node is still starting waits for it, instead
// of saying that no node runs; one that cannot be helped by waiting (a
// node asking for its passphrase) says why at once.
func TestProcessCommandWaitsForStartingNode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := home.Home(filepath.Join(dir, "a"))
	// What a starting node does first: take the lock, say "starting".
	lock, err := h.Lock()
	if err != nil {
		t.Fatal(err)
	}
	id := exec.Command(banyanBin, "id", "--home", string(h))
	id.Env = testEnv
	stderr, err := id.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := id.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- id.Wait()
	}()
	select {
	case l := <-lines:
		if !strings.Contains(l, "is starting; waiting for it") {
			t.Fatalf("banyan id said %q, want that it waits", l)
		}
	case <-time.After(waitTimeout):
		t.Fatal("banyan id said nothing")
	}
	// Still waiting; a node that now asks for its passphrase cannot be
	// waited for.
	if err := lock.SetState(home.StatePassphrase); err != nil {
		t.Fatal(err)
	}
	var said []string
	for l := range lines {
		said = append(said, l)
	}
	if err := <-exited; err == nil || !strings.Contains(strings.Join(said, "\n"), "waiting for its passphrase") {
		t.Fatalf("banyan id: %v, said %q", err, said)
	}
	lock.Release()

	// The README's way: start a node in the background and ask it at
	// once, without waiting for it.
	p := &nodeProc{name: "A", home: string(h), logPath: filepath.Join(dir, "a.log"),
		args: []string{"run", "--home", string(h), "--no-mdns", "--api", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0"}}
	t.Cleanup(p.kill)
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	var n api.Node
	if err := cliJSON(p, &n, "id"); err != nil || n.PeerID == "" {
		t.Fatalf("banyan id right after banyan run: %v", err)
	}
	if err := p.stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	if r := runCLI("id", "--home", string(h)); r.code != 1 || !strings.Contains(r.stderr, "no banyan node is running") {
		t.Errorf("id after the node stopped: %v", r)
	}
}

// Two nodes on tcp/0, the second with the first as a static peer, are
// restarted with the same commands: each listens where it did before, and
// they reconnect. A peer that is away is logged at info, and when it is
// back.
func TestProcessRestartKeepsPortsAndPeers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := startNode(t, "A", filepath.Join(dir, "a"))
	infoA := waitUp(t, a)
	b := startNode(t, "B", filepath.Join(dir, "b"), infoA.Addrs...)
	infoB := waitUp(t, b)
	waitFor(t, "B to connect to A", func() (bool, string) { return hasPeers(b, infoA.PeerID) })
	waitFor(t, "A to see B", func() (bool, string) { return hasPeers(a, infoB.PeerID) })
	// A lists B where B listens, not the passing port B called from.
	var ps []api.Peer
	mustJSON(t, a, &ps, "peers")
	for _, p := range ps {
		if p.PeerID != infoB.PeerID {
			continue
		}
		for _, ad := range p.Addrs {
			if !strings.HasPrefix(infoB.Addrs[0], ad+"/p2p/") && !strings.HasPrefix(infoB.Addrs[1], ad+"/p2p/") {
				t.Errorf("A shows B at %s; B listens on %v", ad, infoB.Addrs)
			}
		}
	}

	for _, p := range []*nodeProc{a, b} {
		if err := p.stop(15 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	// Both again, B first, with the same arguments.
	for _, p := range []*nodeProc{b, a} {
		if err := p.start(); err != nil {
			t.Fatal(err)
		}
	}
	againA, againB := waitUp(t, a), waitUp(t, b)
	if strings.Join(againA.Addrs, " ") != strings.Join(infoA.Addrs, " ") || strings.Join(againB.Addrs, " ") != strings.Join(infoB.Addrs, " ") {
		t.Errorf("addresses changed across the restart:\nA %v -> %v\nB %v -> %v", infoA.Addrs, againA.Addrs, infoB.Addrs, againB.Addrs)
	}
	waitFor(t, "B to reconnect to A after both restarted", func() (bool, string) { return hasPeers(b, infoA.PeerID) })

	// A goes away: B says it cannot reach A, then that A is back.
	if err := a.stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B to log that it cannot reach A", func() (bool, string) {
		return logHas(b, "cannot reach peer", infoA.PeerID), tail(b.logPath, 5)
	})
	if err := a.start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B to log that A is back", func() (bool, string) {
		return logHas(b, "reached peer again", infoA.PeerID), tail(b.logPath, 5)
	})
	waitFor(t, "B to be connected to A again", func() (bool, string) { return hasPeers(b, infoA.PeerID) })
}

// logHas reports whether a line of p's log (since its last start) holds
// every string of want.
func logHas(p *nodeProc, want ...string) bool {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndex(s, "=== test: starting"); i >= 0 {
		s = s[i:]
	}
outer:
	for _, line := range strings.Split(s, "\n") {
		for _, w := range want {
			if !strings.Contains(line, w) {
				continue outer
			}
		}
		return true
	}
	return false
}

// A second node on a port in use is refused, in plain words, before it
// creates anything; the first node is undisturbed.
func TestProcessBusyPortRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := startNode(t, "A", filepath.Join(dir, "a"))
	infoA := waitUp(t, a)
	var tcp, udp string
	for _, ad := range infoA.Addrs {
		ad, _, _ = strings.Cut(ad, "/p2p/")
		switch {
		case strings.Contains(ad, "/tcp/"):
			tcp = ad
		case strings.Contains(ad, "/udp/"):
			udp = ad
		}
	}
	if tcp == "" || udp == "" {
		t.Fatalf("A's addresses: %v", infoA.Addrs)
	}
	for _, addr := range []string{tcp, udp} {
		second := filepath.Join(dir, "second")
		r := runCLI("run", "--home", second, "--no-mdns", "--api", "127.0.0.1:0", "--listen", addr)
		if r.code == 0 || !strings.Contains(r.stderr, "already in use") {
			t.Errorf("a second node on %s: %v", addr, r)
		}
		if _, err := os.Stat(second); err == nil {
			t.Errorf("the refused node created %s", second)
		}
	}
	// An address in use that the check could not see in time is refused
	// by the kernel too: a plain socket holds a port, and a node asked for
	// it fails instead of sharing it.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	r := runCLI("run", "--home", filepath.Join(dir, "third"), "--no-mdns", "--api", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/"+port)
	if r.code == 0 || !strings.Contains(r.stderr, "port "+port+" is already in use") {
		t.Errorf("a node on a port a socket holds: %v", r)
	}
	// So are an API or metrics address that cannot be listened on, before
	// anything is created.
	for _, bad := range [][]string{
		{"--api", l.Addr().String(), "--api: " + l.Addr().String() + ": the port is already in use"},
		{"--metrics", l.Addr().String(), "--metrics: " + l.Addr().String() + ": the port is already in use"},
		{"--api", "192.0.2.1:7342", "--api: 192.0.2.1:7342: cannot listen there"},
	} {
		fourth := filepath.Join(dir, "fourth")
		r := runCLI("run", "--home", fourth, "--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0", bad[0], bad[1])
		if r.code == 0 || !strings.Contains(r.stderr, bad[2]) {
			t.Errorf("%s %s: %v", bad[0], bad[1], r)
		}
		if _, err := os.Stat(fourth); err == nil {
			t.Errorf("%s %s created %s", bad[0], bad[1], fourth)
		}
	}
	if ok, state := hasPeers(a); !ok {
		t.Error(state)
	}
}

// Every option is checked before anything is created: a mistake in a
// flag, a variable or the config file leaves no data directory behind
// and says which setting was wrong.
func TestProcessBadOptionsCreateNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(cfg, []byte("listen = [\"/ip4/127.0.0.1/tcp/x\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	unknown := filepath.Join(dir, "unknown.toml")
	if err := os.WriteFile(unknown, []byte("[wallet]\nunits = \"x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  []string
		code int
		want string
	}{
		{"listen", []string{"--listen", "/ip4/1.2.3/tcp/0"}, nil, 2, "--listen: "},
		{"listen without port", []string{"--listen", "/ip4/127.0.0.1"}, nil, 2, "no TCP or UDP port"},
		{"peer", []string{"--peer", "/ip4/127.0.0.1/tcp/1"}, nil, 2, "--peer: "},
		{"api", []string{"--api", "localhost"}, nil, 2, "--api: "},
		{"api port", []string{"--api", "127.0.0.1:99999"}, nil, 2, "not a number from 0 to 65535"},
		{"unit", []string{"--wallet-unit", "no spaces"}, nil, 2, "--wallet-unit: "},
		{"guarantor", []string{"--wallet-guarantor", "bob"}, nil, 2, "--wallet-guarantor: "},
		{"name", []string{"--name", "two\nlines"}, nil, 2, "--name: "},
		{"offline cap", []string{"--wallet-offline-cap", "lots"}, nil, 2, "--wallet-offline-cap"},
		{"passphrase file", []string{"--passphrase-file", filepath.Join(dir, "nope")}, nil, 1, "passphrase file"},
		{"env", nil, []string{"BANYAN_LISTEN=nonsense"}, 2, "BANYAN_LISTEN: "},
		{"file", []string{"--config", cfg}, nil, 1, "listen in " + cfg},
		{"unknown key", []string{"--config", unknown}, nil, 1, `unknown key "wallet.units" (did you mean "wallet.unit"?)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			r := invocation{args: append([]string{"run", "--home", h, "--no-mdns"}, tc.args...), env: tc.env}.run()
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("want exit %d and %q, got %v", tc.code, tc.want, r)
			}
			if _, err := os.Stat(h); err == nil {
				t.Errorf("a refused run created %s", h)
			}
		})
	}
	// A data directory that is a file is named as the mistake.
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"run", "id"} {
		r := runCLI(cmd, "--home", file)
		if r.code == 0 || !strings.Contains(r.stderr, "the data directory "+file+" is a file, not a directory") {
			t.Errorf("%s --home FILE: %v", cmd, r)
		}
	}
}

// On a terminal, run says what to do next; Ctrl-C stops the node.
func TestProcessRunOnTerminal(t *testing.T) {
	t.Parallel()
	h := filepath.Join(t.TempDir(), "a")
	p := startPty(t, "run", "--home", h, "--no-mdns", "--api", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0")
	for _, want := range []string{"Banyan is running on " + h, "/#token=", "banyan group create family --home " + h,
		"banyan contact invite --home " + h, "LAN discovery is off", "banyan run --peer /ip4/127.0.0.1/tcp/", "Ctrl-C"} {
		p.waitOutput(t, want)
	}
	p.typeText(t, "\x03")
	if code := p.wait(t); code != 0 {
		t.Errorf("exit %d after Ctrl-C", code)
	}
}

// Ctrl-C at the passphrase prompt stops banyan, and the terminal echoes
// again.
func TestProcessCtrlCAtPassphrasePrompt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h, pass := filepath.Join(dir, "a"), filepath.Join(dir, "pass")
	if err := os.WriteFile(pass, []byte("correct horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI("init", "--home", h, "--passphrase-file", pass); r.code != 0 {
		t.Fatal(r)
	}
	p := startPty(t, "run", "--home", h, "--no-mdns", "--api", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0")
	p.waitOutput(t, "Passphrase for ")
	// While it asks, other commands say so.
	if r := runCLI("id", "--home", h); r.code != 1 || !strings.Contains(r.stderr, "waiting for its passphrase") {
		t.Errorf("id while the node asks for its passphrase: %v", r)
	}
	if p.echoes(t) {
		t.Error("the terminal echoes the passphrase")
	}
	p.typeText(t, "\x03")
	if code := p.wait(t); code != 1 {
		t.Errorf("exit %d after Ctrl-C at the prompt, want 1", code)
	}
	p.waitOutput(t, "banyan: interrupted")
	if !p.echoes(t) {
		t.Error("the terminal does not echo after Ctrl-C at the prompt")
	}
}

// A JSON log holds only JSON, including what mDNS and QUIC print.
func TestProcessJSONLogIsJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := &nodeProc{name: "A", home: filepath.Join(dir, "a"), logPath: filepath.Join(dir, "a.log"),
		args: []string{"run", "--home", filepath.Join(dir, "a"), "--api", "127.0.0.1:0", "--log-level", "debug",
			"--log-format", "json", "--listen", "/ip4/127.0.0.1/tcp/0", "--listen", "/ip4/127.0.0.1/udp/0/quic-v1"}}
	t.Cleanup(p.kill)
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	waitUp(t, p)
	if err := p.stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")[1:] // after the test's header
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("not JSON: %q", l)
		}
	}
	if len(lines) < 3 {
		t.Errorf("only %d log lines", len(lines))
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := runCLI(args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "banyan 0.") {
			t.Errorf("%v: %v", args, r)
		}
	}
	// A broken configuration does not stop version or help.
	bad := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(bad, []byte("nonsense = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"version"}, {"help"}, {"run", "--help"}} {
		if r := runCLI(append(args, "--config", bad)...); r.code != 0 {
			t.Errorf("%v with a broken config: %v", args, r)
		}
	}
	if r := runCLI("id", "--config", bad); r.code != 1 || !strings.Contains(r.stderr, `unknown key "nonsense"`) {
		t.Errorf("id with a broken config: %v", r)
	}
}

// init writes a commented configuration file where none is; config show
// prints each value and where it comes from, flags over the environment
// over the file.
func TestConfigInitAndShow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg, h := filepath.Join(dir, "etc", "banyan.toml"), filepath.Join(dir, "home")
	r := runCLI("init", "--home", h, "--config", cfg)
	if r.code != 0 || !strings.Contains(r.stderr, "wrote the configuration file "+cfg) {
		t.Fatalf("init: %v", r)
	}
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"# listen = []", "[wallet]", `# unit = "village"`, "(flag --no-mdns, env BANYAN_NO_MDNS)"} {
		if !strings.Contains(string(text), w) {
			t.Errorf("the default file does not say %q:\n%s", w, text)
		}
	}
	// A second init leaves the file as it is.
	edited := strings.Replace(string(text), `# name = ""`, `name = "mei"`, 1)
	edited = strings.Replace(edited, `# level = "info"`, `level = "warn"`, 1)
	edited = strings.Replace(edited, `# unit = "village"`, `unit = "market"`, 1)
	if err := os.WriteFile(cfg, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI("init", "--home", h, "--config", cfg); r.code != 1 || strings.Contains(r.stderr, "wrote") {
		t.Errorf("second init: %v", r)
	}
	if b, _ := os.ReadFile(cfg); string(b) != edited {
		t.Error("a second init changed the file")
	}
	r = invocation{args: []string{"config", "show", "--config", cfg, "--log-level", "debug"},
		env: []string{"BANYAN_LOG_LEVEL=error", "BANYAN_NAME=ming", "BANYAN_HOME=" + h}}.run()
	if r.code != 0 {
		t.Fatal(r)
	}
	for _, w := range []string{
		"# config file: " + cfg + " (read)",
		`home = "` + h + `"`, "# env BANYAN_HOME",
		`name = "ming"`, "# env BANYAN_NAME",
		`level = "debug"`, "# flag --log-level",
		`unit = "market"`, "# file " + cfg,
		"mdns = true", "# default",
	} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("config show does not say %q:\n%s", w, r.stdout)
		}
	}
	var js struct {
		File    string
		Options []struct {
			Key   string
			Value any
			From  string
		}
	}
	r = runCLI("config", "show", "--json", "--config", cfg)
	if err := json.Unmarshal([]byte(r.stdout), &js); err != nil || js.File != cfg || len(js.Options) < 10 {
		t.Fatalf("config show --json: %v\n%v", err, r)
	}
}
