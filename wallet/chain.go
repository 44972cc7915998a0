package wallet

import "github.com/banyan-mesh/banyan/crypto/event"

// chain is one author's entries as the ledger holds them: the first entry
// at each position (the others at a position are its twins), and every
// entry in the order added.
//
// Positions are a slice indexed by seq-1 rather than a map entry each
// (8 bytes a position instead of about 70). The slice reaches at most
// twice the author's held entries plus farSlack, so that one entry with an
// enormous seq cannot make it enormous; entries beyond that wait in far
// until the slice reaches them.
type chain struct {
	account Account
	at      []*node
	far     map[uint64]*node
	all     []*node
	max     uint64
}

// farSlack is how far beyond twice its entries an author's positions are
// held in the slice.
const farSlack = 64

// first returns the first entry added at position seq, or nil.
func (c *chain) first(seq uint64) *node {
	if seq == 0 {
		return nil
	}
	if seq <= uint64(len(c.at)) {
		return c.at[seq-1]
	}
	return c.far[seq]
}

// add records n, of the author, and returns the first entry at n's
// position before it (nil if n is the first).
func (c *chain) add(n *node) *node {
	c.all = append(c.all, n)
	c.max = max(c.max, n.seq)
	if x := c.first(n.seq); x != nil {
		return x
	}
	bound := 2*uint64(len(c.all)) + farSlack
	if n.seq > bound {
		if c.far == nil {
			c.far = make(map[uint64]*node)
		}
		c.far[n.seq] = n
		return nil
	}
	if old := uint64(len(c.at)); n.seq > old {
		// Grow by doubling (within bound), so that a chain arriving in
		// order is copied a logarithmic number of times; take in the
		// positions of far that the slice now reaches.
		size := min(bound, max(n.seq, 2*old))
		c.at = append(c.at, make([]*node, size-old)...)
		for seq := old + 1; len(c.far) > 0 && seq <= size; seq++ {
			if x, ok := c.far[seq]; ok {
				c.at[seq-1] = x
				delete(c.far, seq)
			}
		}
	}
	c.at[n.seq-1] = n
	return nil
}

// at returns the first entry of a at position seq, or nil.
func (l *Ledger) at(a Account, seq uint64) *node {
	if c := l.chains[a]; c != nil {
		return c.first(seq)
	}
	return nil
}

// entriesOf returns every entry of a, in the order added.
func (l *Ledger) entriesOf(a Account) []*node {
	if c := l.chains[a]; c != nil {
		return c.all
	}
	return nil
}

// last returns the first entry of a at a's highest position, or nil.
func (l *Ledger) last(a Account) *node {
	if c := l.chains[a]; c != nil {
		return c.first(c.max)
	}
	return nil
}

// waitsFor reports whether n, whose prev is not held, names id as its
// prev.
func (l *Ledger) waitsFor(n *node, id event.ID) bool {
	for x := l.orphans[id]; x != nil; x = l.sibling(x) {
		if x == n {
			return true
		}
	}
	return false
}
