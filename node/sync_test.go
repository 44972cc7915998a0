package node_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/node/nodetest"
)

// A posts while B is offline and C is the only one online with A; A leaves;
// B comes back and meets only C: B gets A's messages from C.
func TestStoreAndForward(t *testing.T) {
	a := nodetest.Start(t, "")
	c := nodetest.Start(t, "", a.Info())
	bHome := home.Home(t.TempDir())
	b := nodetest.Start(t, bHome, a.Info())
	g := nodetest.JoinAll(t, []*nodetest.Node{a, b, c})
	b.Stop()

	sent := nodetest.SendN(t, a, g, 200, "while b sleeps %d")
	nodetest.Eventually(t, 20*time.Second, "c to hold a's messages", func() (bool, string) { return nodetest.HasAll(t, c, g, sent) })
	a.Stop()

	b = nodetest.Start(t, bHome, c.Info())
	nodetest.Eventually(t, 20*time.Second, "b to get a's messages from c", func() (bool, string) { return nodetest.HasAll(t, b, g, sent) })
	if miss, err := b.Store().Missing(g.Scope()); err != nil || miss != 0 {
		t.Fatalf("b still misses %d events (%v)", miss, err)
	}
}

// A node that was away while others posted catches up completely, with
// its own messages from before and the others' in history order.
func TestCatchUpAfterRestart(t *testing.T) {
	a := nodetest.Start(t, "")
	bHome := home.Home(t.TempDir())
	b := nodetest.Start(t, bHome, a.Info())
	g := nodetest.JoinAll(t, []*nodetest.Node{a, b})
	mine := nodetest.SendN(t, b, g, 10, "before %d")
	b.Stop()
	theirs := nodetest.SendN(t, a, g, 1000, "while away %d")
	b = nodetest.Start(t, bHome, a.Info())
	nodetest.Eventually(t, 30*time.Second, "b to catch up", func() (bool, string) { return nodetest.HasAll(t, b, g, append(mine, theirs...)) })
	nodetest.Eventually(t, 10*time.Second, "identical histories", func() (bool, string) {
		x, y := nodetest.HistoryIDs(t, a, g), nodetest.HistoryIDs(t, b, nodetest.GroupOn(t, b, g))
		return slices.Equal(x, y), fmt.Sprintf("a %d, b %d", len(x), len(y))
	})
}

// cutter is a connection gater that can cut a node off from some peers, as
// a repeater losing power cuts a village's network in two.
type cutter struct {
	mu  sync.Mutex
	off map[peer.ID]bool
}

func (c *cutter) set(peers []peer.ID, cut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range peers {
		c.off[p] = cut
	}
}

func (c *cutter) allowed(p peer.ID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.off[p]
}

func (c *cutter) InterceptPeerDial(p peer.ID) bool                 { return c.allowed(p) }
func (c *cutter) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return c.allowed(p) }
func (c *cutter) InterceptAccept(network.ConnMultiaddrs) bool      { return true }
func (c *cutter) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return c.allowed(p)
}
func (c *cutter) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

// cuttableNodes starts n nodes on loopback, each with a cutter, all
// connected to each other.
func cuttableNodes(t *testing.T, n int) ([]*nodetest.Node, []*cutter) {
	t.Helper()
	var nodes []*nodetest.Node
	var cutters []*cutter
	for range n {
		hm := home.Home(t.TempDir())
		id, err := hm.Init(nil)
		if err != nil {
			t.Fatal(err)
		}
		c := &cutter{off: map[peer.ID]bool{}}
		h, err := mesh.NewHost(mesh.HostOptions{Identity: id, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}, Gater: c})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, nodetest.StartWith(t, hm, func(o *node.Options) {
			o.Host = h
			o.SyncInterval = time.Hour // only connections and gaps start syncs
		}))
		cutters = append(cutters, c)
	}
	for i, a := range nodes {
		for _, b := range nodes[i+1:] {
			if err := a.Host().Connect(context.Background(), b.Info()); err != nil {
				t.Fatal(err)
			}
		}
	}
	return nodes, cutters
}

func ids(nodes []*nodetest.Node) []peer.ID {
	var out []peer.ID
	for _, n := range nodes {
		out = append(out, n.ID())
	}
	return out
}

// split cuts (or heals) every link between two halves.
func split(t *testing.T, nodes []*nodetest.Node, cutters []*cutter, half int, cut bool) {
	t.Helper()
	left, right := nodes[:half], nodes[half:]
	for i, n := range nodes {
		other := right
		if i >= half {
			other = left
		}
		cutters[i].set(ids(other), cut)
		if cut {
			for _, o := range other {
				n.Host().Network().ClosePeer(o.ID())
			}
		}
	}
}

// Two halves of a group chat independently; when the partition heals every
// node converges to the identical history.
func TestPartitionHeals(t *testing.T) {
	nodes, cutters := cuttableNodes(t, 6)
	g := nodetest.JoinAll(t, nodes)
	nodetest.SendN(t, nodes[0], g, 5, "before %d")
	left, right := nodes[:3], nodes[3:]
	split(t, nodes, cutters, 3, true)
	var all, leftSaid, rightSaid []string
	for i, n := range nodes {
		said := nodetest.SendN(t, n, g, 30, fmt.Sprintf("node %d says %%d", i))
		all = append(all, said...)
		if i < 3 {
			leftSaid = append(leftSaid, said...)
		} else {
			rightSaid = append(rightSaid, said...)
		}
	}
	// Each half hears itself, and nothing from the other.
	for _, half := range [][]*nodetest.Node{left, right} {
		said := leftSaid
		if half[0] == right[0] {
			said = rightSaid
		}
		for _, n := range half {
			nodetest.Eventually(t, 20*time.Second, "a half to hear itself", func() (bool, string) { return nodetest.HasAll(t, n, g, said) })
		}
	}
	for _, id := range rightSaid {
		if slices.Contains(nodetest.HistoryIDs(t, left[0], g), id) {
			t.Fatal("a message crossed the partition")
		}
	}

	split(t, nodes, cutters, 3, false)
	// One connection across, as when a repeater comes back; the rest
	// follows from redials and gossip.
	if err := left[0].Host().Connect(context.Background(), right[0].Info()); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 30*time.Second, "identical histories after the heal", func() (bool, string) {
		ref := nodetest.HistoryIDs(t, nodes[0], g)
		if len(ref) != len(all)+5 {
			return false, fmt.Sprintf("node 0 has %d of %d", len(ref), len(all)+5)
		}
		for i, n := range nodes[1:] {
			if got := nodetest.HistoryIDs(t, n, nodetest.GroupOn(t, n, g)); !slices.Equal(got, ref) {
				return false, fmt.Sprintf("node %d has %d", i+1, len(got))
			}
		}
		return true, ""
	})
}

// One's own message goes from stored to held by the peers that synced it.
func TestDeliveryStatus(t *testing.T) {
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	c := nodetest.Start(t, "", a.Info())
	g := nodetest.JoinAll(t, []*nodetest.Node{a, b, c})
	ctx := context.Background()
	ca := groupchat.NewClient(a.Client(t))
	m, err := ca.Send(ctx, g.Name, "are you there?")
	if err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, "the message to be held by both peers", func() (bool, string) {
		p, err := ca.History(ctx, g.Name, 10, "")
		if err != nil || len(p.Messages) != 1 || p.Messages[0].ID != m.ID {
			return false, fmt.Sprint(p, err)
		}
		got := p.Messages[0]
		return got.Status == "held" && got.HeldBy == 2, fmt.Sprintf("status %q held by %d", got.Status, got.HeldBy)
	})

	// Alone, a message is only stored.
	b.Stop()
	c.Stop()
	alone, err := ca.Send(ctx, g.Name, "anyone?")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ca.History(ctx, g.Name, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	last := p.Messages[len(p.Messages)-1]
	if last.ID != alone.ID || last.Status != "stored" || last.HeldBy != 0 {
		t.Fatalf("message sent alone: %+v", last)
	}
}

// A node that keeps less history deletes the oldest, and sync does not
// bring it back.
func TestRetentionQuota(t *testing.T) {
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	g := nodetest.JoinAll(t, []*nodetest.Node{a, b})
	sent := nodetest.SendN(t, a, g, 100, "message number %d")
	nodetest.Eventually(t, 20*time.Second, "b to have everything", func() (bool, string) { return nodetest.HasAll(t, b, g, sent) })

	gb := nodetest.GroupOn(t, b, g)
	size, err := b.Store().ScopeBytes(g.Scope())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Groups().SetRetention(gb, 0, size/4); err != nil {
		t.Fatal(err)
	}
	kept := nodetest.HistoryIDs(t, b, gb)
	if len(kept) == 0 || len(kept) > 30 {
		t.Fatalf("b kept %d of 100 messages under a quarter of the space", len(kept))
	}
	if !slices.Equal(kept, sent[len(sent)-len(kept):]) {
		t.Fatal("b did not keep the newest messages")
	}
	// A full sync with a, which has everything, leaves b as it was.
	if _, err := b.Syncer().SyncPeer(context.Background(), a.ID()); err != nil {
		t.Fatal(err)
	}
	if got := nodetest.HistoryIDs(t, b, gb); !slices.Equal(got, kept) {
		t.Fatalf("after sync b has %d messages, want the %d it kept", len(got), len(kept))
	}
	// New messages still arrive.
	more := nodetest.SendN(t, a, g, 3, "later %d")
	nodetest.Eventually(t, 20*time.Second, "b to get new messages", func() (bool, string) { return nodetest.HasAll(t, b, g, more) })
}

// A peer that is not in the group holds none of it, however often it
// syncs; joining while already connected to the inviter brings the history
// at once.
func TestHeldOnlyByMembers(t *testing.T) {
	a := nodetest.Start(t, "")
	d := nodetest.Start(t, "", a.Info())
	g, err := a.Groups().Create("solo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Groups().Send(context.Background(), g, "just me"); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 10*time.Second, "a and d to be connected", func() (bool, string) {
		return len(a.Host().Network().ConnsToPeer(d.ID())) > 0, "not connected"
	})
	if _, err := a.Syncer().SyncPeer(context.Background(), d.ID()); err != nil {
		t.Fatal(err)
	}
	marks, err := a.Store().SyncedMarks(g.Scope())
	if err != nil || len(marks) != 0 {
		t.Fatalf("a non-member is recorded as holding the group: %v %v", marks, err)
	}

	in, err := groupchat.ParseInvite(a.Groups().Invite(g).String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Groups().Join(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 10*time.Second, "d to get the history on joining", func() (bool, string) {
		n := len(nodetest.HistoryIDs(t, d, nodetest.GroupOn(t, d, g)))
		return n == 1, fmt.Sprintf("%d messages", n)
	})
}
