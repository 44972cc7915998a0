package node

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/store"
)

// testNode is a node running in the background of a test.
type testNode struct {
	*Node
	home Home
	stop func()
}

func quietLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// startNode starts a node on loopback with a fresh (or given) home. Peers
// are static peers to connect to.
func startNode(t testing.TB, home Home, peers ...peer.AddrInfo) *testNode {
	t.Helper()
	return startNodeWith(t, home, nil, peers...)
}

// startNodeWith is startNode with a chance to adjust the options.
func startNodeWith(t testing.TB, home Home, adjust func(*Options), peers ...peer.AddrInfo) *testNode {
	t.Helper()
	if home == "" {
		home = Home(t.TempDir())
	}
	if !home.Initialized() {
		if _, err := home.Init(nil); err != nil {
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
	opts := Options{
		Home:   home,
		Listen: []string{"/ip4/127.0.0.1/tcp/0"},
		Peers:  static,
		API:    "127.0.0.1:0",
		NoMDNS: true,
		Logger: quietLogger(),
	}
	if adjust != nil {
		adjust(&opts)
	}
	n, err := New(opts)
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
	var once sync.Once
	tn := &testNode{Node: n, home: home, stop: func() { once.Do(func() { cancel(); <-done }) }}
	t.Cleanup(tn.stop)
	return tn
}

// client returns a client of the node's local API.
func (n *testNode) client(t testing.TB) *api.Client {
	t.Helper()
	c, err := api.Dial(context.Background(), n.home.APIAddrFile(), n.home.APITokenFile())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (n *testNode) info() peer.AddrInfo { return peer.AddrInfo{ID: n.ID(), Addrs: n.Host().Addrs()} }

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() (bool, string)) {
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

func historyIDs(t testing.TB, n *testNode, g *store.Group) []string {
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

// groupOn returns node n's record of group g.
func groupOn(t testing.TB, n *testNode, g *store.Group) *store.Group {
	t.Helper()
	got, err := n.Store().Group(g.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// joinAll creates a group on nodes[0] and has every other node join it with
// an invite, waiting until every node sees the others in the topic.
func joinAll(t testing.TB, nodes []*testNode) *store.Group {
	t.Helper()
	ctx := context.Background()
	g, err := nodes[0].Groups().Create("village")
	if err != nil {
		t.Fatal(err)
	}
	code := nodes[0].Groups().Invite(g).String()
	for _, n := range nodes[1:] {
		in, err := ParseInvite(code)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.Groups().Join(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 20*time.Second, "every node to be in the group's gossip mesh", func() (bool, string) {
		for i, n := range nodes {
			if _, mesh := n.Groups().TopicPeers(groupOn(t, n, g)); mesh == 0 {
				return false, fmt.Sprintf("node %d has no mesh peers", i)
			}
		}
		return true, ""
	})
	return g
}

func TestFiveNodesConverge(t *testing.T) {
	const nNodes, perNode = 5, 20
	nodes := []*testNode{startNode(t, "")}
	for range nNodes - 1 {
		nodes = append(nodes, startNode(t, "", nodes[0].info()))
	}
	g := joinAll(t, nodes)

	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gn := groupOn(t, n, g)
			for j := range perNode {
				if _, err := n.Groups().Send(context.Background(), gn, fmt.Sprintf("hello %d from %d", j, i)); err != nil {
					t.Errorf("send: %v", err)
				}
			}
		}()
	}
	wg.Wait()

	want := nNodes * perNode
	eventually(t, 30*time.Second, "identical histories", func() (bool, string) {
		ref := historyIDs(t, nodes[0], g)
		if len(ref) != want {
			var st []string
			for _, n := range nodes {
				st = append(st, fmt.Sprint(len(historyIDs(t, n, groupOn(t, n, g))), n.Stats().Accepted(), n.Stats().Rejected()))
			}
			return false, fmt.Sprintf("node 0 has %d of %d; %v", len(ref), want, st)
		}
		for i, n := range nodes[1:] {
			if got := historyIDs(t, n, groupOn(t, n, g)); !slices.Equal(got, ref) {
				return false, fmt.Sprintf("node %d has %d messages, not identical to node 0", i+1, len(got))
			}
		}
		return true, ""
	})
	for i, n := range nodes {
		if r := n.Stats().Rejected(); len(r) > 0 && r[reasonDuplicate] != uint64(sumValues(r)) {
			t.Errorf("node %d rejected honest messages: %v", i, r)
		}
	}
}

func sumValues(m map[string]uint64) (s uint64) {
	for _, v := range m {
		s += v
	}
	return s
}

func TestAPIRoundTrip(t *testing.T) {
	a := startNode(t, "")
	b := startNode(t, "", a.info())
	ctx := context.Background()
	ca := a.client(t)
	cb := b.client(t)
	g, err := ca.CreateGroup(ctx, "family")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.CreateGroup(ctx, "family"); err == nil {
		t.Error("a second group with the same name was accepted")
	}
	inv, err := ca.Invite(ctx, "family")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cb.JoinGroup(ctx, inv.Link); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "b to see a in the topic", func() (bool, string) {
		gs, err := cb.Groups(ctx)
		if err != nil || len(gs) != 1 {
			return false, fmt.Sprint(gs, err)
		}
		return gs[0].MeshPeers > 0, fmt.Sprint(gs)
	})

	// b watches the event stream while a sends.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan api.Event, 16)
	go cb.Events(sctx, 0, func(ev api.Event) error { got <- ev; return nil })

	m, err := ca.Send(ctx, g.ID, "dinner at seven")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-got:
		if ev.Message == nil || ev.Message.ID != m.ID || ev.Message.Text != "dinner at seven" || ev.Message.Mine {
			t.Fatalf("stream event %+v, want message %s from a", ev, m.ID)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no event on b's stream")
	}
	gs, err := cb.Groups(ctx)
	if err != nil || gs[0].Unread != 1 {
		t.Fatalf("b's unread = %v (%v), want 1", gs, err)
	}
	if err := cb.MarkRead(ctx, "family", ""); err != nil {
		t.Fatal(err)
	}
	if gs, _ := cb.Groups(ctx); gs[0].Unread != 0 {
		t.Fatalf("unread after mark read = %d", gs[0].Unread)
	}

	// Bad input gets a clear 4xx, not a crash.
	for name, call := range map[string]func() error{
		"empty text":    func() error { _, err := ca.Send(ctx, "family", ""); return err },
		"unknown group": func() error { _, err := ca.Send(ctx, "nope", "x"); return err },
		"bad invite":    func() error { _, err := ca.JoinGroup(ctx, "g1.garbage"); return err },
		"bad cursor":    func() error { _, err := ca.History(ctx, "family", 10, "!!"); return err },
		"too long text": func() error { _, err := ca.Send(ctx, "family", string(make([]byte, MaxTextSize+1))); return err },
		"empty name":    func() error { _, err := ca.CreateGroup(ctx, " "); return err },
		"wrong token":   func() error { _, err := api.NewClient(a.APIAddr(), "wrong").Node(ctx); return err },
	} {
		err := call()
		se, ok := err.(*api.StatusError)
		if !ok || se.Status < 400 || se.Status >= 500 {
			t.Errorf("%s: got %v, want a 4xx error", name, err)
		}
	}
}

func TestHistorySurvivesRestart(t *testing.T) {
	home := Home(t.TempDir())
	a := startNode(t, home)
	g, err := a.Groups().Create("diary")
	if err != nil {
		t.Fatal(err)
	}
	var sent []string
	for i := range 30 {
		m, err := a.Groups().Send(context.Background(), g, fmt.Sprintf("entry %d", i))
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, m.Event.ID.String())
	}
	a.stop()

	// A second node on the same directory is refused while one runs.
	b := startNode(t, home)
	if _, err := New(Options{Home: home, API: "off", NoMDNS: true, Listen: []string{"/ip4/127.0.0.1/tcp/0"}}); err == nil {
		t.Fatal("second node on the same home started")
	}
	if got := historyIDs(t, b, groupOn(t, b, g)); !slices.Equal(got, sent) {
		t.Fatalf("history after restart: %d messages, want %d in order", len(got), len(sent))
	}
	// The chain continues where it left off.
	m, err := b.Groups().Send(context.Background(), groupOn(t, b, g), "after restart")
	if err != nil {
		t.Fatal(err)
	}
	if m.Event.Seq != 31 {
		t.Fatalf("seq after restart = %d, want 31", m.Event.Seq)
	}
}
