package wallet

import (
	"math/rand/v2"
	"testing"
)

func chainNode(seq uint64) *node { return &node{seq: seq} }

func TestChainPositions(t *testing.T) {
	var c chain
	const n = 500
	seqs := make([]uint64, n)
	for i := range seqs {
		seqs[i] = uint64(i + 1)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { seqs[i], seqs[j] = seqs[j], seqs[i] })
	nodes := map[uint64]*node{}
	farMost := 0
	for _, s := range seqs {
		nodes[s] = chainNode(s)
		if x := c.add(nodes[s]); x != nil {
			t.Fatalf("seq %d: a first entry %p reported for a new position", s, x)
		}
		farMost = max(farMost, len(c.far))
	}
	if farMost == 0 {
		t.Fatal("no position waited beyond the slice: the test does not reach far")
	}
	for s := uint64(1); s <= n; s++ {
		if c.first(s) != nodes[s] {
			t.Fatalf("first(%d) is not the entry added there", s)
		}
	}
	if len(c.far) != 0 {
		t.Errorf("%d positions left out of the slice once the chain is whole", len(c.far))
	}
	if c.first(0) != nil || c.first(n+1) != nil || c.max != n || len(c.all) != n {
		t.Errorf("first(0), first(n+1), max, all: %v %v %d %d", c.first(0), c.first(n+1), c.max, len(c.all))
	}
	twin := chainNode(7)
	if c.add(twin) != nodes[7] || c.first(7) != nodes[7] {
		t.Error("a second entry at a position did not get the first one back, or replaced it")
	}
}

// One entry with a huge position, as a hostile author may sign, costs one
// map entry, not a slice up to it.
func TestChainHugePosition(t *testing.T) {
	var c chain
	huge := chainNode(1 << 62)
	c.add(huge)
	for s := uint64(1); s <= 10; s++ {
		c.add(chainNode(s))
	}
	if len(c.at) > 2*11+farSlack {
		t.Errorf("slice of %d positions for 11 entries", len(c.at))
	}
	if c.first(1<<62) != huge || c.max != 1<<62 {
		t.Error("the entry at the huge position is lost")
	}
	if c.first(1<<61) != nil {
		t.Error("an empty far position holds an entry")
	}
}
