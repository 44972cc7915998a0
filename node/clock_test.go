package node_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/nodetest"
)

// A node whose clock is a day ahead is told so (API, and 'banyan id'
// through it), its peers are not; what it writes is refused by them as
// from the future, so it is never shown as held by them, and sync stops
// offering it to them again and again.
func TestClockAheadIsToldAndNotHeld(t *testing.T) {
	fast := func(o *node.Options) {
		o.SyncInterval = 300 * time.Millisecond
	}
	ahead := func(o *node.Options) {
		fast(o)
		o.Now = func() time.Time { return time.Now().Add(24 * time.Hour) }
	}
	b := nodetest.StartWith(t, "", fast)
	c := nodetest.StartWith(t, "", fast, b.Info())
	a := nodetest.StartWith(t, "", ahead, b.Info(), c.Info())
	g := nodetest.JoinAll(t, []*nodetest.Node{b, c, a})
	ctx := context.Background()
	for name, n := range map[string]*nodetest.Node{"a": a, "b": b, "c": c} {
		nodetest.Eventually(t, 20*time.Second, name+" to hear the time from both peers", func() (bool, string) {
			sk := n.Clock().Skew()
			return sk.Peers == 2, fmt.Sprint(sk)
		})
	}
	info, err := a.Client(t).Node(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(info.Clock.Warning, "1 day ahead of 2 peers' clocks; others cannot accept your messages") || info.Clock.AheadMS < (24*time.Hour-time.Minute).Milliseconds() {
		t.Fatalf("a's clock in the API: %+v", info.Clock)
	}
	for name, n := range map[string]*nodetest.Node{"b": b, "c": c} {
		info, err := n.Client(t).Node(ctx)
		if err != nil || info.Clock.Warning != "" || info.Clock.Peers != 2 {
			t.Errorf("%s's clock in the API: %+v, %v", name, info.Clock, err)
		}
	}

	ca := groupchat.NewClient(a.Client(t))
	m, err := ca.Send(ctx, g.Name, "from tomorrow")
	if err != nil {
		t.Fatal(err)
	}
	// B's message, from the past as a sees it, reaches a.
	mb := nodetest.SendN(t, b, g, 1, "from today %d")
	nodetest.Eventually(t, 20*time.Second, "a to hold b's message", func() (bool, string) { return nodetest.HasAll(t, a, g, mb) })

	// Let a and its peers sync a few times over.
	start := a.Syncer().Counters().Sessions
	nodetest.Eventually(t, 30*time.Second, "a few syncs", func() (bool, string) {
		got := a.Syncer().Counters().Sessions - start
		return got >= 6, fmt.Sprint(got, " syncs")
	})
	for name, n := range map[string]*nodetest.Node{"b": b, "c": c} {
		if ok, _ := nodetest.HasAll(t, n, g, []string{m.ID}); ok {
			t.Fatalf("%s took a message a day in its future", name)
		}
		if got := n.Stats().Rejected()[engine.ReasonFuture]; got > 2 {
			t.Errorf("%s refused a's message %d times: sync kept offering it", name, got)
		}
	}
	p, err := ca.History(ctx, g.Name, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range p.Messages {
		if msg.ID == m.ID && (msg.HeldBy != 0 || msg.Status != "stored") {
			t.Errorf("a's refused message shows as %s by %d", msg.Status, msg.HeldBy)
		}
	}
}

// A node whose clock is a day behind is told it cannot take others'
// messages, and what it refused never counts as held by it.
func TestClockBehindIsToldAndHoldsNothing(t *testing.T) {
	fast := func(o *node.Options) { o.SyncInterval = 300 * time.Millisecond }
	b := nodetest.StartWith(t, "", fast)
	c := nodetest.StartWith(t, "", fast, b.Info())
	d := nodetest.StartWith(t, "", func(o *node.Options) {
		fast(o)
		o.Now = func() time.Time { return time.Now().Add(-24 * time.Hour) }
	}, b.Info(), c.Info())
	g := nodetest.JoinAll(t, []*nodetest.Node{b, c, d})
	nodetest.Eventually(t, 20*time.Second, "d to hear the time from both peers", func() (bool, string) {
		sk := d.Clock().Skew()
		return sk.Peers == 2 && b.Clock().Skew().Peers == 2, fmt.Sprint(sk)
	})
	if w := d.Clock().Skew().Warning; !strings.Contains(w, "1 day behind 2 peers' clocks; you cannot accept others' messages") {
		t.Fatalf("d's warning: %q", w)
	}
	ctx := context.Background()
	cb := groupchat.NewClient(b.Client(t))
	m, err := cb.Send(ctx, g.Name, "today")
	if err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, "b's message to be held by c", func() (bool, string) {
		p, err := cb.History(ctx, g.Name, 10, "")
		if err != nil || len(p.Messages) == 0 {
			return false, fmt.Sprint(err)
		}
		got := p.Messages[len(p.Messages)-1]
		return got.ID == m.ID && got.HeldBy >= 1, fmt.Sprintf("held by %d", got.HeldBy)
	})
	start := b.Syncer().Counters().Sessions
	nodetest.Eventually(t, 30*time.Second, "a few syncs", func() (bool, string) {
		got := b.Syncer().Counters().Sessions - start
		return got >= 6, fmt.Sprint(got, " syncs")
	})
	p, err := cb.History(ctx, g.Name, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Messages[len(p.Messages)-1]; got.ID != m.ID || got.HeldBy != 1 {
		t.Errorf("b's message is held by %d, want 1 (c; not d, whose clock refused it)", got.HeldBy)
	}
	if ok, _ := nodetest.HasAll(t, d, g, []string{m.ID}); ok {
		t.Error("d took a message a day in its future")
	}
}
