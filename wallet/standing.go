package wallet

import "github.com/banyan-mesh/banyan/crypto/event"

// Standing reports whether a has standing in the unit: it is a guarantor,
// a guarantor's grant names it, or an effective transfer from someone else
// credited it. Made-up keys have none. Nodes keep and forward the entries
// of accounts with standing; see docs/WALLET.md.
func (l *Ledger) Standing(a Account) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.guarantor[a] || l.named[a] {
		return true // without evaluating: nodes ask for every entry
	}
	l.ensure()
	_, named := l.d.limits[a]
	return named || l.d.credited[a]
}

// StandingCached is Standing without evaluating: guarantors, accounts a
// held grant names, and accounts credited as of the last evaluation. It
// may miss standing that entries added since give (ask Standing then),
// never the other way round; it is cheap enough to ask for every entry
// that arrives.
func (l *Ledger) StandingCached(a Account) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.guarantor[a] || l.named[a] || l.d.credited[a]
}

// Referred reports whether an entry held refers to id or follows it on its
// chain (id is then part of a history someone relies on).
func (l *Ledger) Referred(id event.ID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.referrers.any(id) || l.orphans[id] != nil {
		return true
	}
	n := l.nodes.get(id)
	return n != nil && n.child != nil
}

// Lacks reports whether the set shows that a's chain has entries the
// ledger does not hold: an entry of a waits for a predecessor, or someone
// else's entry refers to an entry of a's that is not held (a receipt or a
// refund of a's payment, a claim of a's envelope). A node that is about to
// write on a's chain must not while this holds: it would fork it.
func (l *Ledger) Lacks(a Account) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range l.entriesOf(a) {
		if !n.rooted {
			return true
		}
	}
	for n := range l.nodes.all() {
		if n.author() == a || n.counterparty() != a {
			continue
		}
		switch n.typ {
		case TypeReceipt, TypeRefund, TypeClaim:
			if l.nodes.get(n.en.Ref) == nil {
				return true
			}
		}
	}
	return false
}

// HeldClaims counts the claims held (in any state) of the envelope, and
// those whose author has no standing.
func (l *Ledger) HeldClaims(envelope event.ID) (all, strangers int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ensure()
	for r := range l.referrers.of(envelope) {
		if r.typ != TypeClaim || r.en.Ref != envelope {
			continue
		}
		all++
		if _, named := l.d.limits[r.author()]; !named && !l.guarantor[r.author()] && !l.d.credited[r.author()] {
			strangers++
		}
	}
	return all, strangers
}
