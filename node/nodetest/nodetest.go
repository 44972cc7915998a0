// Package nodetest runs real Banyan nodes for tests: on loopback, each with
// its own data directory and API, stopped when the test ends; and the
// helpers multi-node tests share (waiting on a condition, joining a group,
// becoming contacts, searching a store for what it must not hold).
package nodetest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/goleak"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/node/private"
	"github.com/banyan-mesh/banyan/store"
)

// Node is a node running in the background of a test.
type Node struct {
	*node.Node
	Home home.Home
	stop func()
}

// QuietLogger logs only with go test -v, at info level, or at debug level
// with BANYAN_TEST_LOG=debug.
func QuietLogger() *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	level := slog.LevelInfo
	if os.Getenv("BANYAN_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// Start starts a node on loopback with a fresh (or the given) home. Peers
// are static peers to connect to.
func Start(t testing.TB, h home.Home, peers ...peer.AddrInfo) *Node {
	t.Helper()
	return StartWith(t, h, nil, peers...)
}

// StartWith is Start with a chance to adjust the options.
func StartWith(t testing.TB, h home.Home, adjust func(*node.Options), peers ...peer.AddrInfo) *Node {
	t.Helper()
	if h == "" {
		h = home.Home(t.TempDir())
	}
	if !h.Initialized() {
		if _, err := h.Init(nil); err != nil {
			t.Fatal(err)
		}
	}
	var static []string
	for _, p := range peers {
		as, err := peer.AddrInfoToP2pAddrs(&p)
		if err != nil {
			t.Fatal(err)
		}
		static = append(static, as[0].String())
	}
	opts := node.Options{
		Home:   h,
		Listen: []string{"/ip4/127.0.0.1/tcp/0"},
		Peers:  static,
		API:    "127.0.0.1:0",
		NoMDNS: true,
		Logger: QuietLogger(),
	}
	if adjust != nil {
		adjust(&opts)
	}
	n, err := node.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := n.Serve(ctx); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	select {
	case <-n.Ready():
	case <-done:
		t.Fatal("node stopped while starting")
	}
	var once sync.Once
	tn := &Node{Node: n, Home: h, stop: func() { once.Do(func() { cancel(); <-done }) }}
	t.Cleanup(tn.stop)
	return tn
}

// Stop stops the node and waits until it has closed its store.
func (n *Node) Stop() { n.stop() }

// Client returns a client of the node's local API.
func (n *Node) Client(t testing.TB) *api.Client {
	t.Helper()
	c, err := api.Dial(context.Background(), n.Home.APIAddrFile(), n.Home.APITokenFile())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Info returns the node's peer ID and addresses.
func (n *Node) Info() peer.AddrInfo { return peer.AddrInfo{ID: n.ID(), Addrs: n.Host().Addrs()} }

// Eventually polls cond until it holds or the deadline passes.
func Eventually(t testing.TB, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %s", d, what, detail)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// HistoryIDs lists the IDs of a group's history on n, oldest first.
func HistoryIDs(t testing.TB, n *Node, g *groupchat.Group) []string {
	t.Helper()
	msgs, _, err := n.Groups().History(g, store.Cursor{}, 100000)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.Event.ID.String()
	}
	return ids
}

// GroupOn returns node n's record of group g.
func GroupOn(t testing.TB, n *Node, g *groupchat.Group) *groupchat.Group {
	t.Helper()
	got, err := n.Groups().Group(g.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// JoinAll creates a group on nodes[0] and has every other node join it
// with an invite, waiting until every node sees the others in the topic.
func JoinAll(t testing.TB, nodes []*Node) *groupchat.Group {
	t.Helper()
	ctx := context.Background()
	g, err := nodes[0].Groups().Create("village")
	if err != nil {
		t.Fatal(err)
	}
	code := nodes[0].Groups().Invite(g).String()
	for _, n := range nodes[1:] {
		in, err := groupchat.ParseInvite(code)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.Groups().Join(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	Eventually(t, 20*time.Second, "every node to be in the group's gossip mesh", func() (bool, string) {
		for i, n := range nodes {
			if _, mesh := n.Groups().TopicPeers(GroupOn(t, n, g)); mesh == 0 {
				return false, fmt.Sprintf("node %d has no mesh peers", i)
			}
		}
		return true, ""
	})
	return g
}

// SendN sends count messages from n to g and returns their IDs.
func SendN(t testing.TB, n *Node, g *groupchat.Group, count int, format string) []string {
	t.Helper()
	var ids []string
	gn := GroupOn(t, n, g)
	for i := range count {
		m, err := n.Groups().Send(context.Background(), gn, fmt.Sprintf(format, i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.Event.ID.String())
	}
	return ids
}

// HasAll reports whether n holds every message of ids in g.
func HasAll(t testing.TB, n *Node, g *groupchat.Group, ids []string) (bool, string) {
	have := HistoryIDs(t, n, GroupOn(t, n, g))
	missing := 0
	for _, id := range ids {
		if !slices.Contains(have, id) {
			missing++
		}
	}
	return missing == 0, fmt.Sprintf("%d of %d missing", missing, len(ids))
}

// Befriend makes a and b contacts: b adds a's code, a accepts.
func Befriend(t testing.TB, a, b *Node) {
	t.Helper()
	ctx := context.Background()
	if _, err := b.DMs().Add(ctx, a.DMs().Code()); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 20*time.Second, "a to get b's request", func() (bool, string) {
		c, err := a.DMs().Contact(b.ID())
		return err == nil && c.State == private.ContactPending, fmt.Sprint(c, err)
	})
	c, _ := a.DMs().Contact(b.ID())
	if _, err := a.DMs().Accept(ctx, c); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 20*time.Second, "b to see the acceptance", func() (bool, string) {
		c, err := b.DMs().Contact(a.ID())
		return err == nil && c.State == private.ContactAccepted, fmt.Sprint(c, err)
	})
}

// WaitKeeps waits until n keeps the scope: a contact's scopes are kept a
// moment after the contact is accepted.
func WaitKeeps(t testing.TB, n *Node, scope event.Scope) {
	t.Helper()
	Eventually(t, 20*time.Second, "the scope to be kept", func() (bool, string) {
		return n.Engine().Keeps(scope), "not kept"
	})
}

// ScanFor lists which of the byte strings occur in any key or value of n's
// store, except in the named tables.
func ScanFor(t testing.TB, n *Node, needles map[string][]byte, skipTables ...string) []string {
	t.Helper()
	st := n.Store()
	seen := map[string]bool{}
	err := st.Scan(func(k, v []byte) error {
		if slices.Contains(skipTables, st.TableOf(k)) {
			return nil
		}
		for name, b := range needles {
			if bytes.Contains(k, b) || bytes.Contains(v, b) {
				seen[name] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for name := range seen {
		out = append(out, name)
	}
	return out
}

// SnapshotStore copies the store directory of a stopped node's home. The
// function it returns puts the copy back in place of the store, as though
// the store had lost every write made after the snapshot (a power cut
// losing Badger's memtable log, a disk that lost its newest blocks), while
// everything else in the home stays as it is.
func SnapshotStore(t testing.TB, h home.Home) (restore func()) {
	t.Helper()
	snap := filepath.Join(t.TempDir(), "store")
	if err := os.CopyFS(snap, os.DirFS(h.StoreDir())); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if err := os.RemoveAll(h.StoreDir()); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(h.StoreDir(), os.DirFS(snap)); err != nil {
			t.Fatal(err)
		}
	}
}

// VerifyNoLeaks runs a package's tests and fails if any goroutine is left
// when they end: nothing a node started may outlive its Serve. Use it as
// TestMain.
func VerifyNoLeaks(m *testing.M) {
	goleak.VerifyTestMain(m, LeakIgnores()...)
}

// LeakIgnores are the goroutines of libraries that outlive any one node
// by design (process-wide workers).
func LeakIgnores() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreCurrent(),
	}
}
