package node

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/store"
)

func sendN(t testing.TB, n *testNode, g *store.Group, count int, format string) []string {
	t.Helper()
	var ids []string
	gn := groupOn(t, n, g)
	for i := range count {
		m, err := n.Groups().Send(context.Background(), gn, fmt.Sprintf(format, i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.Event.ID.String())
	}
	return ids
}

func hasAll(t testing.TB, n *testNode, g *store.Group, ids []string) (bool, string) {
	have := historyIDs(t, n, groupOn(t, n, g))
	missing := 0
	for _, id := range ids {
		if !slices.Contains(have, id) {
			missing++
		}
	}
	return missing == 0, fmt.Sprintf("%d of %d missing", missing, len(ids))
}

// A posts while B is offline and C is the only one online with A; A leaves;
// B comes back and meets only C: B gets A's messages from C.
func TestStoreAndForward(t *testing.T) {
	a := startNode(t, "")
	c := startNode(t, "", a.info())
	bHome := Home(t.TempDir())
	b := startNode(t, bHome, a.info())
	g := joinAll(t, []*testNode{a, b, c})
	b.stop()

	sent := sendN(t, a, g, 200, "while b sleeps %d")
	eventually(t, 20*time.Second, "c to hold a's messages", func() (bool, string) { return hasAll(t, c, g, sent) })
	a.stop()

	b = startNode(t, bHome, c.info())
	eventually(t, 20*time.Second, "b to get a's messages from c", func() (bool, string) { return hasAll(t, b, g, sent) })
	if miss, err := b.Store().Missing(g.Scope()); err != nil || miss != 0 {
		t.Fatalf("b still misses %d events (%v)", miss, err)
	}
}

// A node that was away while others posted catches up completely, with
// its own messages from before and the others' in history order.
func TestCatchUpAfterRestart(t *testing.T) {
	a := startNode(t, "")
	bHome := Home(t.TempDir())
	b := startNode(t, bHome, a.info())
	g := joinAll(t, []*testNode{a, b})
	mine := sendN(t, b, g, 10, "before %d")
	b.stop()
	theirs := sendN(t, a, g, 1000, "while away %d")
	b = startNode(t, bHome, a.info())
	eventually(t, 30*time.Second, "b to catch up", func() (bool, string) { return hasAll(t, b, g, append(mine, theirs...)) })
	eventually(t, 10*time.Second, "identical histories", func() (bool, string) {
		x, y := historyIDs(t, a, g), historyIDs(t, b, groupOn(t, b, g))
		return slices.Equal(x, y), fmt.Sprintf("a %d, b %d", len(x), len(y))
	})
}

// mockNodes starts n nodes on a mock network, fully linked and connected.
func mockNodes(t *testing.T, n int) (mocknet.Mocknet, []*testNode) {
	t.Helper()
	mn := mocknet.New()
	t.Cleanup(func() { mn.Close() })
	var nodes []*testNode
	for i := range n {
		home := Home(t.TempDir())
		id, err := home.Init(nil)
		if err != nil {
			t.Fatal(err)
		}
		// Addresses in the discard prefix (RFC 6666), as mocknet's own.
		h, err := mn.AddPeer(id.Libp2pKey(), ma.StringCast(fmt.Sprintf("/ip6/100::%x/tcp/4242", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, startNodeWith(t, home, func(o *Options) {
			o.Host = h
			o.SyncInterval = time.Hour // only connection events and gaps trigger sync
		}))
	}
	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	if err := mn.ConnectAllButSelf(); err != nil {
		t.Fatal(err)
	}
	return mn, nodes
}

func setLinks(t *testing.T, mn mocknet.Mocknet, left, right []*testNode, up bool) {
	t.Helper()
	for _, l := range left {
		for _, r := range right {
			if up {
				if _, err := mn.LinkPeers(l.ID(), r.ID()); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err := mn.UnlinkPeers(l.ID(), r.ID()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if up {
		return
	}
	// With every link gone no new dial succeeds, but one that passed its
	// link check just before can still finish: disconnect until the halves
	// stay apart.
	clean := 0
	eventually(t, 10*time.Second, "the halves to be apart", func() (bool, string) {
		crossing := 0
		for _, l := range left {
			for _, r := range right {
				if len(l.Host().Network().ConnsToPeer(r.ID())) > 0 {
					crossing++
					mn.DisconnectPeers(l.ID(), r.ID())
				}
			}
		}
		if crossing > 0 {
			clean = 0
		} else {
			clean++
		}
		return clean >= 2, fmt.Sprintf("%d connections across", crossing)
	})
}

// Two halves of a group chat independently; when the partition heals every
// node converges to the identical history.
func TestPartitionHeals(t *testing.T) {
	mn, nodes := mockNodes(t, 6)
	g := joinAll(t, nodes)
	sendN(t, nodes[0], g, 5, "before %d")
	left, right := nodes[:3], nodes[3:]
	setLinks(t, mn, left, right, false)
	var all []string
	for i, n := range nodes {
		all = append(all, sendN(t, n, g, 30, fmt.Sprintf("node %d says %%d", i))...)
	}
	// Each half has its own messages only.
	eventually(t, 20*time.Second, "the left half to agree", func() (bool, string) {
		return slices.Equal(historyIDs(t, left[1], groupOn(t, left[1], g)), historyIDs(t, left[0], g)), "left differs"
	})
	if ok, _ := hasAll(t, left[0], g, all); ok {
		t.Fatal("the left half saw messages from across the partition")
	}

	setLinks(t, mn, left, right, true)
	// One connection across, as when a repeater comes back; the rest
	// follows from redials and gossip.
	if _, err := mn.ConnectPeers(left[0].ID(), right[0].ID()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "identical histories after the heal", func() (bool, string) {
		ref := historyIDs(t, nodes[0], g)
		if len(ref) != len(all)+5 {
			return false, fmt.Sprintf("node 0 has %d of %d", len(ref), len(all)+5)
		}
		for i, n := range nodes[1:] {
			if got := historyIDs(t, n, groupOn(t, n, g)); !slices.Equal(got, ref) {
				return false, fmt.Sprintf("node %d has %d", i+1, len(got))
			}
		}
		return true, ""
	})
}

// One's own message goes from stored to held by the peers that synced it.
func TestDeliveryStatus(t *testing.T) {
	a := startNode(t, "")
	b := startNode(t, "", a.info())
	c := startNode(t, "", a.info())
	g := joinAll(t, []*testNode{a, b, c})
	ctx := context.Background()
	ca, err := api.Dial(ctx, a.home.APIAddrFile(), a.home.APITokenFile())
	if err != nil {
		t.Fatal(err)
	}
	m, err := ca.Send(ctx, g.Name, "are you there?")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the message to be held by both peers", func() (bool, string) {
		p, err := ca.History(ctx, g.Name, 10, "")
		if err != nil || len(p.Messages) != 1 || p.Messages[0].ID != m.ID {
			return false, fmt.Sprint(p, err)
		}
		got := p.Messages[0]
		return got.Status == "held" && got.HeldBy == 2, fmt.Sprintf("status %q held by %d", got.Status, got.HeldBy)
	})

	// Alone, a message is only stored.
	b.stop()
	c.stop()
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
	a := startNode(t, "")
	b := startNode(t, "", a.info())
	g := joinAll(t, []*testNode{a, b})
	sent := sendN(t, a, g, 100, "message number %d")
	eventually(t, 20*time.Second, "b to have everything", func() (bool, string) { return hasAll(t, b, g, sent) })

	gb := groupOn(t, b, g)
	size, err := b.Store().ScopeBytes(g.Scope())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Groups().SetRetention(gb, 0, size/4); err != nil {
		t.Fatal(err)
	}
	kept := historyIDs(t, b, gb)
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
	if got := historyIDs(t, b, gb); !slices.Equal(got, kept) {
		t.Fatalf("after sync b has %d messages, want the %d it kept", len(got), len(kept))
	}
	// New messages still arrive.
	more := sendN(t, a, g, 3, "later %d")
	eventually(t, 20*time.Second, "b to get new messages", func() (bool, string) { return hasAll(t, b, g, more) })
}
