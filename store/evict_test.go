package store_test

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/store"
)

// Over its quota, a scope loses the oldest events of the peer that gave
// the most: a flood pushes out itself, not what others gave. What was
// evicted stays listed for sync, as a ghost, and is not history.
func TestEvictFairly(t *testing.T) {
	s, _ := openTemp(t)
	scope := randomScope(t)
	quiet, flood := peer.ID("quiet peer"), peer.ID("flooding peer")
	var quietIDs, floodIDs []event.ID
	var floodEvs []*event.Event
	own := newAuthor(t, scope).next(1, "mine")
	mustPut(t, s, own, store.PutOptions{Local: true})
	for i := range 10 {
		e := newAuthor(t, scope).next(int64(100+i), "from the quiet peer")
		mustPut(t, s, e, store.PutOptions{Source: quiet})
		quietIDs = append(quietIDs, e.ID)
	}
	for i := range 100 {
		e := newAuthor(t, scope).next(int64(50+i), "from the flooding peer")
		mustPut(t, s, e, store.PutOptions{Source: flood})
		floodIDs = append(floodIDs, e.ID)
		floodEvs = append(floodEvs, e)
	}
	total, err := s.ScopeBytes(scope)
	if err != nil {
		t.Fatal(err)
	}
	per := total / 111
	quota := 50 * per
	n, err := s.EvictFairly(scope, quota)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := s.ScopeBytes(scope)
	if after > quota {
		t.Fatalf("%d bytes left, quota %d", after, quota)
	}
	for _, id := range append(quietIDs, own.ID) {
		if has, _ := s.HasEvent(id); !has {
			t.Fatal("an event of the quiet peer, or this node's own, was evicted")
		}
	}
	evicted := 0
	for _, id := range floodIDs {
		if has, _ := s.HasEvent(id); !has {
			evicted++
		}
	}
	if evicted != n || evicted < 55 {
		t.Fatalf("%d of the flood evicted (%d said)", evicted, n)
	}
	// The oldest of the flood went first.
	if has, _ := s.HasEvent(floodIDs[0]); has {
		t.Fatal("the flood's oldest event was kept")
	}
	if has, _ := s.HasEvent(floodIDs[99]); !has {
		t.Fatal("the flood's newest event was evicted before its oldest")
	}
	if c, _ := s.CountAfter(scope, store.Cursor{}); c != 111-evicted {
		t.Fatalf("history counts %d events, want %d", c, 111-evicted)
	}
	items := 0
	if err := s.ScopeItems(scope, nil, nil, func(uint64, event.ID) { items++ }); err != nil || items != 111 {
		t.Fatalf("sync lists %d items (%v), want all 111 with the ghosts", items, err)
	}
	hist, _, err := s.History(scope, store.Cursor{}, 1000)
	if err != nil || len(hist) != 111-evicted {
		t.Fatalf("history has %d events (%v)", len(hist), err)
	}
	if ghost, _ := s.IsGhost(scope, 50, floodIDs[0]); !ghost {
		t.Fatal("an evicted event is not a ghost")
	}
	if ghost, _ := s.IsGhost(scope, 100, quietIDs[0]); ghost {
		t.Fatal("a kept event is a ghost")
	}
	// An evicted event that comes again is not stored again.
	arrivals, err := s.PutEvents(floodEvs[:1], store.PutOptions{Source: quiet})
	if err != nil || arrivals[0] != 0 {
		t.Fatalf("an evicted event was stored again (arrival %d, %v)", arrivals[0], err)
	}
	if has, _ := s.HasEvent(floodIDs[0]); has {
		t.Fatal("an evicted event is held again")
	}
	if ghost, _ := s.IsGhost(scope, 50, floodIDs[0]); !ghost {
		t.Fatal("an evicted event that came again is no longer a ghost")
	}
	// The floor passing them takes ghosts and events alike.
	if _, _, err := s.Prune(scope, 1000, 0); err != nil {
		t.Fatal(err)
	}
	items = 0
	if err := s.ScopeItems(scope, nil, nil, func(uint64, event.ID) { items++ }); err != nil || items != 0 {
		t.Fatalf("after pruning everything, sync lists %d items (%v)", items, err)
	}
}
