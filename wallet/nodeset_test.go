package wallet

import (
	"math/rand/v2"
	"testing"

	"github.com/banyan-mesh/banyan/crypto/event"
)

func TestNodeSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	randomID := func() (id event.ID) {
		for i := range id {
			id[i] = byte(rng.Uint32())
		}
		return id
	}
	s := newNodeSet(byID)
	if s.get(randomID()) != nil || s.len() != 0 {
		t.Fatal("an empty set holds something")
	}
	const n = 10_000
	nodes := make(map[event.ID]*node, n)
	for range n {
		x := &node{id: randomID()}
		nodes[x.id] = x
		s.add(x)
	}
	// IDs that share their first 31 bytes must be told apart by the last.
	twin := &node{}
	for id := range nodes {
		twin.id = id
		twin.id[31] ^= 1
		break
	}
	s.add(twin)
	nodes[twin.id] = twin
	if s.len() != len(nodes) {
		t.Fatalf("len %d, want %d", s.len(), len(nodes))
	}
	for id, x := range nodes {
		if s.get(id) != x {
			t.Fatalf("get(%x) is not the node put", id[:4])
		}
	}
	for range 1000 {
		if id := randomID(); nodes[id] == nil && s.get(id) != nil {
			t.Fatalf("get(%x) found a node never put", id[:4])
		}
	}
	seen := 0
	for x := range s.all() {
		if nodes[x.id] != x {
			t.Fatal("all yielded a node never put")
		}
		seen++
	}
	if seen != len(nodes) {
		t.Errorf("all yielded %d nodes, want %d", seen, len(nodes))
	}
	if 4*s.len() > 3*len(s.slots) {
		t.Errorf("%d nodes in %d slots: over 3/4 full", s.len(), len(s.slots))
	}
}
