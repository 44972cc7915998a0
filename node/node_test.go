package node_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/mesh/reconcile"
	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/node/pay"
	"github.com/banyan-mesh/banyan/node/private"
)

func TestMain(m *testing.M) { nodetest.VerifyNoLeaks(m) }

func TestFiveNodesConverge(t *testing.T) {
	const nNodes, perNode = 5, 20
	nodes := []*nodetest.Node{nodetest.Start(t, "")}
	for range nNodes - 1 {
		nodes = append(nodes, nodetest.Start(t, "", nodes[0].Info()))
	}
	g := nodetest.JoinAll(t, nodes)

	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gn := nodetest.GroupOn(t, n, g)
			for j := range perNode {
				if _, err := n.Groups().Send(context.Background(), gn, fmt.Sprintf("hello %d from %d", j, i)); err != nil {
					t.Errorf("send: %v", err)
				}
			}
		}()
	}
	wg.Wait()

	want := nNodes * perNode
	nodetest.Eventually(t, 30*time.Second, "identical histories", func() (bool, string) {
		ref := nodetest.HistoryIDs(t, nodes[0], g)
		if len(ref) != want {
			var st []string
			for _, n := range nodes {
				st = append(st, fmt.Sprint(len(nodetest.HistoryIDs(t, n, nodetest.GroupOn(t, n, g))), n.Stats().Accepted(), n.Stats().Rejected()))
			}
			return false, fmt.Sprintf("node 0 has %d of %d; %v", len(ref), want, st)
		}
		for i, n := range nodes[1:] {
			if got := nodetest.HistoryIDs(t, n, nodetest.GroupOn(t, n, g)); !slices.Equal(got, ref) {
				return false, fmt.Sprintf("node %d has %d messages, not identical to node 0", i+1, len(got))
			}
		}
		return true, ""
	})
	for i, n := range nodes {
		if r := n.Stats().Rejected(); len(r) > 0 && r[engine.ReasonDuplicate] != uint64(sumValues(r)) {
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
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	ctx := context.Background()
	ca := a.Client(t)
	cb := b.Client(t)
	gca, gcb := groupchat.NewClient(ca), groupchat.NewClient(cb)
	g, err := gca.Create(ctx, "family")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gca.Create(ctx, "family"); err == nil {
		t.Error("a second group with the same name was accepted")
	}
	inv, err := gca.Invite(ctx, "family")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gcb.Join(ctx, inv.Link); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, "b to see a in the topic", func() (bool, string) {
		gs, err := gcb.Groups(ctx)
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

	m, err := gca.Send(ctx, g.ID, "dinner at seven")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-got:
		var msg groupchat.MessageInfo
		if ev.Decode(&msg) != nil || msg.ID != m.ID || msg.Text != "dinner at seven" || msg.Mine {
			t.Fatalf("stream event %+v, want message %s from a", ev, m.ID)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no event on b's stream")
	}
	gs, err := gcb.Groups(ctx)
	if err != nil || gs[0].Unread != 1 {
		t.Fatalf("b's unread = %v (%v), want 1", gs, err)
	}
	if err := gcb.MarkRead(ctx, "family", ""); err != nil {
		t.Fatal(err)
	}
	if gs, _ := gcb.Groups(ctx); gs[0].Unread != 0 {
		t.Fatalf("unread after mark read = %d", gs[0].Unread)
	}

	// Bad input gets a clear 4xx, not a crash.
	for name, call := range map[string]func() error{
		"empty text":    func() error { _, err := gca.Send(ctx, "family", ""); return err },
		"unknown group": func() error { _, err := gca.Send(ctx, "nope", "x"); return err },
		"bad invite":    func() error { _, err := gca.Join(ctx, "g1.garbage"); return err },
		"bad cursor":    func() error { _, err := gca.History(ctx, "family", 10, "!!"); return err },
		"too long text": func() error {
			_, err := gca.Send(ctx, "family", string(make([]byte, groupchat.MaxTextSize+1)))
			return err
		},
		"empty name":  func() error { _, err := gca.Create(ctx, " "); return err },
		"wrong token": func() error { _, err := api.NewClient(a.APIAddr(), "wrong").Node(ctx); return err },
	} {
		err := call()
		se, ok := err.(*api.StatusError)
		if !ok || se.Status < 400 || se.Status >= 500 {
			t.Errorf("%s: got %v, want a 4xx error", name, err)
		}
	}
}

func TestHistorySurvivesRestart(t *testing.T) {
	h := home.Home(t.TempDir())
	a := nodetest.Start(t, h)
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
	a.Stop()

	// A second node on the same directory is refused while one runs.
	b := nodetest.Start(t, h)
	if _, err := node.New(node.Options{Home: h, API: "off", NoMDNS: true, Listen: []string{"/ip4/127.0.0.1/tcp/0"}}); err == nil {
		t.Fatal("second node on the same home started")
	}
	if got := nodetest.HistoryIDs(t, b, nodetest.GroupOn(t, b, g)); !slices.Equal(got, sent) {
		t.Fatalf("history after restart: %d messages, want %d in order", len(got), len(sent))
	}
	// The chain continues where it left off.
	m, err := b.Groups().Send(context.Background(), nodetest.GroupOn(t, b, g), "after restart")
	if err != nil {
		t.Fatal(err)
	}
	if m.Event.Seq != 31 {
		t.Fatalf("seq after restart = %d, want 31", m.Event.Seq)
	}
}

// The web interface draws QR codes through the API: a group's invite, a
// payment request, and only a payment request.
func TestQRRoutes(t *testing.T) {
	a := nodetest.Start(t, "")
	ctx := context.Background()
	c := a.Client(t)
	if _, err := groupchat.NewClient(c).Create(ctx, "family"); err != nil {
		t.Fatal(err)
	}
	req, err := pay.NewClient(c).Request(ctx, pay.RequestIn{Amount: 5})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{
		"/v1/groups/family/invite.png":                                     200,
		"/v1/groups/nope/invite.png":                                       404,
		"/v1/contacts/invite.png":                                          200,
		"/v1/wallet/requests/qr.png?link=" + url.QueryEscape(req.Link):     200,
		"/v1/wallet/requests/qr.png?link=" + url.QueryEscape("https://x/"): 400,
		"/v1/wallet/requests/qr.png?link=banyan:pay1.abcdef":               400,
	} {
		b, err := c.Bytes(ctx, path)
		switch {
		case want == 200 && (err != nil || !bytes.HasPrefix(b, []byte("\x89PNG"))):
			t.Errorf("%s: %v, not a PNG", path, err)
		case want != 200 && !api.IsStatus(err, want):
			t.Errorf("%s: %v, want %d", path, err, want)
		}
	}
}

// Once a node is ready it answers peers on every protocol: a peer that
// connects at once must not be told a protocol is not supported.
func TestReadyMeansAnswering(t *testing.T) {
	for range 5 {
		n := nodetest.Start(t, "")
		protos := n.Host().Mux().Protocols()
		for _, want := range []protocol.ID{mesh.DirectProtocol, mesh.ForwardProtocol, reconcile.ProtocolID, private.CodeProtocol} {
			if !slices.Contains(protos, want) {
				t.Fatalf("ready, but %s is not answered: %v", want, protos)
			}
		}
		n.Stop()
	}
}
