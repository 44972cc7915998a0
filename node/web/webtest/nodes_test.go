package webtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/home"
)

// nodeProc is a 'banyan run' process on its own data directory.
type nodeProc struct {
	t       testing.TB
	name    string
	home    home.Home
	logPath string
	args    []string
	env     []string // added to testEnv
	cmd     *exec.Cmd
	done    chan struct{}
	addr    string // API address, kept across restarts
	token   string
	client  *api.Client
	info    *api.Node
}

// initHome creates an identity on a new data directory and returns its
// peer ID, for flags that name a node before it starts.
func initHome(t testing.TB, home string) string {
	t.Helper()
	cmd := exec.Command(banyanBin, "init", "--home", home)
	cmd.Env = testEnv
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("banyan init: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func startNode(t testing.TB, dir, name string, extra ...string) *nodeProc {
	t.Helper()
	return startNodeEnv(t, dir, name, nil, extra...)
}

// startNodeEnv is startNode with variables added to the environment.
func startNodeEnv(t testing.TB, dir, name string, env []string, extra ...string) *nodeProc {
	t.Helper()
	n := &nodeProc{
		t: t, name: name, home: home.Home(filepath.Join(dir, strings.ToLower(name))), env: env,
		logPath: filepath.Join(dir, strings.ToLower(name)+".log"),
		args: append([]string{"run", "--home", filepath.Join(dir, strings.ToLower(name)), "--name", name,
			"--no-mdns", "--log-level", "debug", "--listen", "/ip4/127.0.0.1/tcp/0"}, extra...),
	}
	t.Cleanup(func() {
		n.kill()
		if t.Failed() {
			t.Logf("last lines of %s's log (%s):\n%s", name, n.logPath, tail(n.logPath, 30))
		}
	})
	n.start("127.0.0.1:0")
	return n
}

func (n *nodeProc) start(apiAddr string) {
	n.t.Helper()
	log, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		n.t.Fatal(err)
	}
	defer log.Close()
	args := append(slices.Clone(n.args), "--api", apiAddr)
	fmt.Fprintf(log, "=== test: banyan %s\n", strings.Join(args, " "))
	n.cmd = exec.Command(banyanBin, args...)
	n.cmd.Env = append(slices.Clone(testEnv), n.env...)
	n.cmd.Stdout, n.cmd.Stderr = log, log
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(n.cmd, n.done)
	n.waitUp()
}

// waitUp waits until the node's API answers and it has addresses.
func (n *nodeProc) waitUp() {
	n.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-n.done:
			n.t.Fatalf("%s exited at start:\n%s", n.name, tail(n.logPath, 20))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := api.Dial(ctx, n.home.APIAddrFile(), n.home.APITokenFile())
		if err == nil {
			var info *api.Node
			if info, err = c.Node(ctx); err == nil && len(info.Addrs) > 0 {
				cancel()
				addr, _ := os.ReadFile(n.home.APIAddrFile())
				token, _ := os.ReadFile(n.home.APITokenFile())
				n.addr, n.token = strings.TrimSpace(string(addr)), strings.TrimSpace(string(token))
				n.client, n.info = c, info
				return
			}
		}
		cancel()
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	n.t.Fatalf("%s did not come up: %v", n.name, last)
}

// stop shuts the node down with SIGTERM, as a person's Ctrl-C does.
func (n *nodeProc) stop() {
	n.t.Helper()
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(20 * time.Second):
		n.kill()
		n.t.Fatalf("%s did not stop within 20 s of SIGTERM", n.name)
	}
}

// restart stops the node and starts it again on the same API address, so
// that an open page can find it again.
func (n *nodeProc) restart() {
	n.t.Helper()
	// Listen where the other nodes knew this one, too.
	listen, _, _ := strings.Cut(n.info.Addrs[0], "/p2p/")
	if i := slices.Index(n.args, "/ip4/127.0.0.1/tcp/0"); i >= 0 {
		n.args[i] = listen
	}
	n.stop()
	n.start(n.addr)
}

func (n *nodeProc) kill() {
	if n.cmd != nil && n.cmd.Process != nil {
		_ = n.cmd.Process.Kill()
		<-n.done
	}
}

// url is the address 'banyan open' opens.
func (n *nodeProc) url() string { return "http://" + n.addr + "/#token=" + n.token }

func (n *nodeProc) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	n.t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last state: %s", what, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
