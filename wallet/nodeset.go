package wallet

import (
	"hash/maphash"
	"iter"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// nodeSet indexes nodes by an ID each of them holds (key: the node's own
// for the ledger's nodes, the entry it refers to for referrers). It is a
// table of node pointers with open addressing, so that an ID is not held a
// second time as a map key: a Go map from ID to node took about 60 bytes
// an entry, this takes 8 to 16. Positions come from a keyed hash with a
// seed of the ledger's own, so that no one can sign entries whose IDs
// crowd one part of the table. Keys are unique; nodes are never removed.
type nodeSet struct {
	seed  maphash.Seed
	key   func(*node) *event.ID
	slots []*node // a power of two in length, at most 3/4 full
	n     int
}

func newNodeSet(key func(*node) *event.ID) nodeSet {
	return nodeSet{seed: maphash.MakeSeed(), key: key}
}

func byID(n *node) *event.ID { return &n.id }

func (s *nodeSet) index(id *event.ID) uint64 {
	return maphash.Bytes(s.seed, id[:]) & uint64(len(s.slots)-1)
}

// get returns the node of id, or nil.
func (s *nodeSet) get(id event.ID) *node {
	if len(s.slots) == 0 {
		return nil
	}
	mask := uint64(len(s.slots) - 1)
	for i := s.index(&id); ; i = (i + 1) & mask {
		if x := s.slots[i]; x == nil || *s.key(x) == id {
			return x
		}
	}
}

// add adds n unless a node with its key is in the set, and reports
// whether it did.
func (s *nodeSet) add(n *node) bool {
	if 4*(s.n+1) > 3*len(s.slots) {
		old := s.slots
		s.slots = make([]*node, max(16, 2*len(old)))
		for _, x := range old {
			if x != nil {
				s.place(x)
			}
		}
	}
	k := s.key(n)
	mask := uint64(len(s.slots) - 1)
	i := s.index(k)
	for ; s.slots[i] != nil; i = (i + 1) & mask {
		if *s.key(s.slots[i]) == *k {
			return false
		}
	}
	s.slots[i] = n
	s.n++
	return true
}

// place puts n, whose key is not in the slots, in the first free one.
func (s *nodeSet) place(n *node) {
	mask := uint64(len(s.slots) - 1)
	i := s.index(s.key(n))
	for s.slots[i] != nil {
		i = (i + 1) & mask
	}
	s.slots[i] = n
}

func (s *nodeSet) len() int { return s.n }

// all yields every node, in no particular order.
func (s *nodeSet) all() iter.Seq[*node] {
	return func(yield func(*node) bool) {
		for _, x := range s.slots {
			if x != nil && !yield(x) {
				return
			}
		}
	}
}
