package wallet

import (
	"iter"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// referrers indexes the held entries by the entries they refer to. Most
// entries refer to one other (a receipt to its payment, a claim to its
// envelope) and most are referred to by one, so the first entry to refer
// to an ID, if it refers to nothing else, is kept in a table keyed by the
// reference it holds (nodeSet, about 12 bytes an entry); the others, and
// every reference of an entry that makes several (a settlement), are in a
// map from ID to list (about 80 bytes a referenced ID). However many
// entries refer to one ID, each is found and added in constant time.
type referrers struct {
	first nodeSet
	more  map[event.ID][]*node
}

func newReferrers() referrers {
	return referrers{first: newNodeSet(byRef), more: make(map[event.ID][]*node)}
}

func byRef(n *node) *event.ID { return &n.en.Ref }

// add records the references of n, which was not added before.
func (r *referrers) add(n *node) {
	if n.en.refs == nil && n.en.Ref != (event.ID{}) && r.first.add(n) {
		return
	}
	n.eachRef(func(id event.ID) { r.more[id] = append(r.more[id], n) })
}

// of yields the entries that refer to id, each once, in no particular
// order.
func (r *referrers) of(id event.ID) iter.Seq[*node] {
	return func(yield func(*node) bool) {
		if x := r.first.get(id); x != nil && !yield(x) {
			return
		}
		for _, x := range r.more[id] {
			if !yield(x) {
				return
			}
		}
	}
}

// any reports whether an entry refers to id.
func (r *referrers) any(id event.ID) bool {
	return r.first.get(id) != nil || len(r.more[id]) > 0
}
