//go:build linux

package main

// The village lab's network: Linux network namespaces joined by bridges,
// with 'banyan run' processes inside them that find each other with mDNS.
//
// Layout of a lab named NAME (NAME is "bl<pid>x<random>", so that parallel
// runs never clash and leftovers of dead runs can be recognised):
//
//	NAME-hub   a namespace with two bridges, br0 and br1, each with
//	           multicast snooping off, joined by a veth pair (trunk0 on br0,
//	           trunk1 on br1). Setting trunk0 down splits the village in two.
//	NAME-hK    host K (1..N): eth0 = 10.231.0.K/24, loopback up; the other
//	           end of eth0 is vK in the hub, on br0 for the first half of the
//	           hosts and on br1 for the second half.
//
// Nothing is routed anywhere: the hosts have no default route and the hub
// has no addresses. The test process reaches a node's local API (on
// 127.0.0.1 inside the node's namespace) through a forwarder on its own
// loopback that opens each upstream connection inside the namespace.
//
// Run it as root (CI does; it needs iproute2 and nftables):
//
//	go test -count=1 -run TestLab -v ./cmd/banyan
//
// Each node logs at debug level to a file; when a test fails, the tails of
// the logs are printed and the lab directory (logs and data directories) is
// kept. BANYAN_LAB_KEEP=1 keeps it after a pass too.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/home"
)

const labSkipMsg = "village lab needs root and iproute2/nftables; run as root (CI does)"

// labSubnet is the lab's own address range, used only on the lab's bridges.
const labSubnet = "10.231.0."

// labNetnsDir is where 'ip netns' keeps its named namespaces.
const labNetnsDir = "/run/netns"

// labTools are the paths of ip and nft, found by labRequire.
type labTools struct{ ip, nft string }

// labRequire skips the test unless it runs as root with ip and nft.
func labRequire(t *testing.T) labTools {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip(labSkipMsg)
	}
	var tl labTools
	for _, x := range []struct {
		name string
		dst  *string
	}{{"ip", &tl.ip}, {"nft", &tl.nft}} {
		p, err := exec.LookPath(x.name)
		// PATH may lack the sbin directories.
		for _, dir := range []string{"/usr/sbin", "/sbin"} {
			if err != nil {
				p, err = exec.LookPath(filepath.Join(dir, x.name))
			}
		}
		if err != nil {
			t.Skipf("%s (%s not found)", labSkipMsg, x.name)
		}
		*x.dst = p
	}
	return tl
}

// labCommand runs a command (not a node) with a timeout and returns its
// combined output.
func labCommand(stdin string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// labStaleName matches the namespaces of a lab: the pid of the test
// process that made it comes first.
var labStaleName = regexp.MustCompile(`^bl([0-9]+)x[0-9a-f]+-`)

// labCleanStale deletes the namespaces of labs whose test process is gone,
// killing whatever still runs in them (nodes of a crashed run).
func labCleanStale(t *testing.T, tl labTools) {
	t.Helper()
	ents, err := os.ReadDir(labNetnsDir)
	if err != nil {
		return // no named namespaces at all
	}
	for _, e := range ents {
		m := labStaleName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue // a live run, maybe in parallel with this one
		}
		t.Logf("removing stale lab namespace %s", e.Name())
		labKillIn(tl, e.Name())
		if _, err := labCommand("", tl.ip, "netns", "del", e.Name()); err != nil {
			t.Logf("remove stale namespace: %v", err)
		}
	}
}

// labKillIn kills, by process ID, every process left in namespace ns.
func labKillIn(tl labTools, ns string) {
	out, err := labCommand("", tl.ip, "netns", "pids", ns)
	if err != nil {
		return
	}
	for _, f := range strings.Fields(out) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// labNet is one lab: a hub namespace with the bridges and N host
// namespaces.
type labNet struct {
	t     *testing.T
	tools labTools
	name  string
	hub   string
	dir   string // logs and data directories
	hosts []*labHost

	mu         sync.Mutex
	namespaces []string // created so far, deleted on cleanup
}

// labHost is one computer of the village.
type labHost struct {
	lab  *labNet
	num  int    // 1..N
	ns   string // its namespace
	port string // its veth in the hub
	addr string // its IPv4 address
	side int    // 0: on br0, 1: on br1
}

func (h *labHost) String() string { return fmt.Sprintf("host %d (%s)", h.num, h.addr) }

// newLabNet builds a lab of n hosts: the first n-n/2 on br0, the others
// on br1. Everything is removed when the test ends; the lab directory is
// kept if the test failed.
func newLabNet(t *testing.T, n int) *labNet {
	t.Helper()
	tools := labRequire(t)
	labCleanStale(t, tools)
	var rnd [3]byte
	_, _ = rand.Read(rnd[:])
	name := fmt.Sprintf("bl%dx%x", os.Getpid(), rnd)
	dir, err := os.MkdirTemp("", "banyan-lab-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	ln := &labNet{t: t, tools: tools, name: name, hub: name + "-hub", dir: dir}
	t.Cleanup(func() {
		ln.destroy()
		switch {
		case t.Failed():
			t.Logf("lab %s failed; its logs and data directories are kept in %s", name, dir)
		case os.Getenv("BANYAN_LAB_KEEP") != "":
			t.Logf("BANYAN_LAB_KEEP is set: logs and data directories are kept in %s", dir)
		default:
			os.RemoveAll(dir)
		}
	})

	ln.addNS(ln.hub)
	hub := []string{
		"link set lo up",
		"link add br0 type bridge mcast_snooping 0 stp_state 0",
		"link add br1 type bridge mcast_snooping 0 stp_state 0",
		"link add trunk0 type veth peer name trunk1",
		"link set trunk0 master br0",
		"link set trunk1 master br1",
		"link set br0 multicast on up",
		"link set br1 multicast on up",
		"link set trunk0 multicast on up",
		"link set trunk1 multicast on up",
	}
	for _, c := range hub {
		ln.mustIP(append([]string{"-n", ln.hub}, strings.Fields(c)...)...)
	}
	for i := 1; i <= n; i++ {
		h := &labHost{
			lab: ln, num: i, ns: fmt.Sprintf("%s-h%d", name, i),
			port: fmt.Sprintf("v%d", i), addr: fmt.Sprintf("%s%d", labSubnet, i),
		}
		if i > n-n/2 {
			h.side = 1
		}
		ln.addNS(h.ns)
		ln.mustIP("-n", ln.hub, "link", "add", h.port, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
		ln.mustIP("-n", ln.hub, "link", "set", h.port, "master", fmt.Sprintf("br%d", h.side))
		ln.mustIP("-n", ln.hub, "link", "set", h.port, "multicast", "on", "up")
		ln.mustIP("-n", h.ns, "link", "set", "lo", "up")
		ln.mustIP("-n", h.ns, "addr", "add", h.addr+"/24", "dev", "eth0")
		ln.mustIP("-n", h.ns, "link", "set", "eth0", "multicast", "on", "up")
		ln.hosts = append(ln.hosts, h)
	}
	return ln
}

func (ln *labNet) addNS(ns string) {
	ln.t.Helper()
	ln.mustIP("netns", "add", ns)
	ln.mu.Lock()
	ln.namespaces = append(ln.namespaces, ns)
	ln.mu.Unlock()
}

func (ln *labNet) mustIP(args ...string) {
	ln.t.Helper()
	if _, err := labCommand("", ln.tools.ip, args...); err != nil {
		ln.t.Fatal(err)
	}
}

// destroy deletes the lab's namespaces (which deletes their veths). Nodes
// have been killed by their own cleanups, which run first.
func (ln *labNet) destroy() {
	ln.mu.Lock()
	nss := slices.Clone(ln.namespaces)
	ln.mu.Unlock()
	for _, ns := range slices.Backward(nss) {
		labKillIn(ln.tools, ns)
		if _, err := labCommand("", ln.tools.ip, "netns", "del", ns); err != nil {
			ln.t.Logf("cleanup: %v", err)
		}
	}
}

// split cuts the trunk between the bridges: hosts on br0 and hosts on br1
// can no longer reach each other; each side still works within itself.
func (ln *labNet) split() {
	ln.t.Helper()
	ln.mustIP("-n", ln.hub, "link", "set", "trunk0", "down")
}

// heal brings the trunk back.
func (ln *labNet) heal() {
	ln.t.Helper()
	ln.mustIP("-n", ln.hub, "link", "set", "trunk0", "up")
}

// labLoss is how a host loses packets.
type labLoss int

const (
	// labLossWire drops one packet in ten, at random, in each direction
	// on the host's LAN interface (netdev ingress and egress hooks), as
	// a bad radio link would: the sender does not notice.
	labLossWire labLoss = iota + 1
	// labLossFirewall drops one packet in ten, at random, in the input
	// and output hooks of the host's firewall. A packet dropped on output
	// fails the sender's sendmsg with EPERM, which quic-go treats as fatal
	// for the connection, so QUIC connections keep dying as well.
	labLossFirewall
)

const labLossTableName = "banyan_lab_loss"

var labLossTables = map[labLoss]string{
	labLossWire: `table netdev ` + labLossTableName + ` {
	chain ingress {
		type filter hook ingress device "eth0" priority filter; policy accept;
		numgen random mod 10 0 drop
	}
	chain egress {
		type filter hook egress device "eth0" priority filter; policy accept;
		numgen random mod 10 0 drop
	}
}
`,
	labLossFirewall: `table inet ` + labLossTableName + ` {
	chain input {
		type filter hook input priority filter; policy accept;
		iifname "eth0" numgen random mod 10 0 drop
	}
	chain output {
		type filter hook output priority filter; policy accept;
		oifname "eth0" numgen random mod 10 0 drop
	}
}
`,
}

// setLoss makes the host lose 10% of its LAN packets in each direction,
// the way kind says.
func (h *labHost) setLoss(kind labLoss) {
	t := h.lab.t
	t.Helper()
	if _, err := labCommand(labLossTables[kind], h.lab.tools.ip, "netns", "exec", h.ns, h.lab.tools.nft, "-f", "-"); err != nil {
		t.Fatal(err)
	}
}

// dialIn opens a TCP connection to addr from inside the host's namespace:
// a thread of this process enters the namespace just long enough to create
// the socket, which stays in that namespace.
func (h *labHost) dialIn(addr string) (net.Conn, error) {
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		// The thread is only given back to the runtime if it is back in
		// its own namespace; otherwise it ends with this goroutine.
		runtime.LockOSThread()
		c, err, restored := h.dialLocked(addr)
		if restored {
			runtime.UnlockOSThread()
		}
		ch <- res{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

func (h *labHost) dialLocked(addr string) (c net.Conn, err error, restored bool) {
	self, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
	if err != nil {
		return nil, err, true
	}
	defer self.Close()
	target, err := os.Open(filepath.Join(labNetnsDir, h.ns))
	if err != nil {
		return nil, err, true
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return nil, fmt.Errorf("enter %s: %w", h.ns, err), true
	}
	c, err = net.DialTimeout("tcp", addr, 5*time.Second)
	if rerr := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); rerr != nil {
		return c, err, false
	}
	return c, err, true
}

// labForwarder listens on this process's loopback and forwards each
// connection to an address inside a host's namespace.
type labForwarder struct {
	h      *labHost
	target func() (string, error)
	ln     net.Listener

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func newLabForwarder(h *labHost, target func() (string, error)) (*labForwarder, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &labForwarder{h: h, target: target, ln: ln, conns: map[net.Conn]bool{}}
	f.wg.Go(f.serve)
	return f, nil
}

func (f *labForwarder) addr() string { return f.ln.Addr().String() }

func (f *labForwarder) track(c net.Conn, on bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns == nil {
		return false // closed
	}
	if on {
		f.conns[c] = true
	} else {
		delete(f.conns, c)
	}
	return true
}

func (f *labForwarder) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		if !f.track(c, true) {
			c.Close()
			return
		}
		f.wg.Go(func() {
			defer f.track(c, false)
			defer c.Close()
			addr, err := f.target()
			if err != nil {
				return
			}
			up, err := f.h.dialIn(addr)
			if err != nil {
				return
			}
			if !f.track(up, true) {
				up.Close()
				return
			}
			defer f.track(up, false)
			defer up.Close()
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
			go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
			<-done
			// One side is finished: close both, which ends the other copy.
			c.Close()
			up.Close()
			<-done
		})
	}
}

func (f *labForwarder) close() {
	f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.conns = nil
	f.mu.Unlock()
	f.wg.Wait()
}

// labNode is a 'banyan run' process in a host's namespace, with default
// discovery (mDNS only) and default listen addresses, and its log in a
// file that survives restarts.
type labNode struct {
	t       *testing.T
	name    string
	host    *labHost
	home    string
	logPath string

	proc
	// mu guards the fields below.
	mu     sync.Mutex
	peerID string
	fwd    *labForwarder
	client *api.Client
}

// startLabNode starts a node on host h with a fresh data directory.
func startLabNode(t *testing.T, name string, h *labHost) *labNode {
	t.Helper()
	n := &labNode{
		t: t, name: name, host: h,
		home:    filepath.Join(h.lab.dir, name),
		logPath: filepath.Join(h.lab.dir, name+".log"),
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of %s's log (%s, on %s):\n%s", n.name, n.logPath, h, tail(n.logPath, 25))
		}
	})
	t.Cleanup(func() {
		n.kill()
		n.mu.Lock()
		f := n.fwd
		n.mu.Unlock()
		if f != nil {
			f.close()
		}
	})
	if err := n.start(); err != nil {
		t.Fatal(err)
	}
	return n
}

// start starts the node process (again), appending to its log.
func (n *labNode) start() error {
	args := []string{"netns", "exec", n.host.ns, banyanBin, "run", "--home", n.home, "--api", "127.0.0.1:0", "--log-level", "debug"}
	header := fmt.Sprintf("=== lab %s: starting ip %s", time.Now().UTC().Format(time.RFC3339Nano), strings.Join(args, " "))
	return n.launch(n.logPath, header, n.host.lab.tools.ip, args...)
}

// checkAlive fails the test if the node died on its own.
func (n *labNode) checkAlive() {
	n.t.Helper()
	if done, err := n.exited(); done {
		n.t.Fatalf("%s exited unexpectedly: %v; log:\n%s", n.name, err, tail(n.logPath, 30))
	}
}

// labResult is what one CLI command did.
type labResult struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r labResult) String() string {
	return fmt.Sprintf("banyan %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// cli runs 'banyan ARGS --home HOME' inside the node's namespace.
func (n *labNode) runCLI(args ...string) labResult {
	args = append(slices.Clone(args), "--home", n.home)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.host.lab.tools.ip, append([]string{"netns", "exec", n.host.ns, banyanBin}, args...)...)
	cmd.Env = testEnv
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := labResult{args: args, stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.code = -1
		r.stderr += "\n[lab: timed out]"
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		r.code = -1
		r.stderr += fmt.Sprintf("\n[lab: %v]", err)
	}
	return r
}

// cliJSON runs a command with --json and decodes what it prints.
func (n *labNode) cliJSON(v any, args ...string) error {
	r := n.runCLI(append(args, "--json")...)
	if r.code != 0 {
		return fmt.Errorf("%s: %v", n.name, r)
	}
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		return fmt.Errorf("%s: decode %q: %w", n.name, r.stdout, err)
	}
	return nil
}

func (n *labNode) mustCLI(v any, args ...string) {
	n.t.Helper()
	if err := n.cliJSON(v, args...); err != nil {
		n.t.Fatal(err)
	}
}

// waitUp waits until the node answers 'banyan id' with an address on the
// lab's network, and connects the API client.
func (n *labNode) waitUp(timeout time.Duration) {
	n.t.Helper()
	var id api.Node
	labWait(n.t, timeout, n.name+" to answer 'banyan id' with a LAN address", func() (bool, string) {
		n.checkAlive()
		if err := n.cliJSON(&id, "id"); err != nil {
			return false, err.Error()
		}
		return slices.ContainsFunc(id.Addrs, func(a string) bool { return strings.Contains(a, "/"+n.host.addr+"/") }), fmt.Sprint(id.Addrs)
	})
	n.mu.Lock()
	defer n.mu.Unlock()
	n.peerID = id.PeerID
	if n.fwd == nil {
		home := home.Home(n.home)
		f, err := newLabForwarder(n.host, func() (string, error) {
			b, err := os.ReadFile(home.APIAddrFile())
			return strings.TrimSpace(string(b)), err
		})
		if err != nil {
			n.t.Fatal(err)
		}
		token, err := os.ReadFile(home.APITokenFile())
		if err != nil {
			n.t.Fatal(err)
		}
		n.fwd = f
		n.client = api.NewClient(f.addr(), strings.TrimSpace(string(token)))
	}
}

// api returns the node's API client (through the forwarder).
func (n *labNode) api() *api.Client {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.client == nil {
		n.t.Fatalf("%s: API used before waitUp", n.name)
	}
	return n.client
}

func (n *labNode) id() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.peerID
}

// history returns a group's whole history on the node, oldest first.
func (n *labNode) history(group string) ([]groupchat.MessageInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var all []groupchat.MessageInfo
	before := ""
	for range 1000 {
		p, err := groupchat.NewClient(n.api()).History(ctx, group, 1000, before)
		if err != nil {
			return nil, fmt.Errorf("%s: history: %w", n.name, err)
		}
		all = append(slices.Clone(p.Messages), all...)
		if p.Next == "" || len(p.Messages) == 0 {
			return all, nil
		}
		before = p.Next
	}
	return nil, fmt.Errorf("%s: history does not end", n.name)
}

// peers returns the peer IDs the node is connected to.
func (n *labNode) peers() ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ps, err := n.api().Peers(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range ps {
		out = append(out, p.PeerID)
	}
	return out, nil
}

// group returns what the node says about a group.
func (n *labNode) group(id string) (*groupchat.GroupInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	gs, err := groupchat.NewClient(n.api()).Groups(ctx)
	if err != nil {
		return nil, err
	}
	for _, g := range gs {
		if g.ID == id {
			return &g, nil
		}
	}
	return nil, fmt.Errorf("%s is not in group %s", n.name, id)
}

// labWait polls cond until it reports true, and fails the test when the
// timeout passes first. It returns how long it waited.
func labWait(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last state: %s", timeout, what, state)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
