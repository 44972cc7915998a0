package wallet

import (
	"slices"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// Events reads held entries back from where they are stored. A ledger
// given one (Config.Events) keeps of each entry only what its rules and
// queries read, and reads the signed event through it when one is asked
// for (Event) or a fraud proof needs it; the store does, as every entry is
// stored before it is added.
type Events interface {
	Event(id event.ID) (*event.Event, error)
}

// entry is what the ledger keeps of an Entry. The fields most entries
// carry are values, but for the counterparty, which points to the one copy
// of the account that the ledger's entries share (a village has a few
// hundred accounts and a unit a million entries); the type is the node's
// (typ), among its flags, where it takes no room of its own. The rest,
// which only payments of requests, red envelopes, claims and settlements
// have, are behind extra, which points to noExtra (all zero, never
// written) for the others. The unit is the ledger's.
type entry struct {
	Counterparty *Account
	Amount       uint64
	Balance      int64
	Ref          event.ID
	Memo         string
	*extra
}

type extra struct {
	Nonce   Nonce
	Count   uint64
	Commit  [32]byte
	Expiry  int64
	Seed    Seed
	Claims  []event.ID
	Request RequestID
	Group   event.Scope
	Tag     [32]byte
	// refs are a settlement's references: its envelope and claims, once
	// each.
	refs []event.ID
}

var noExtra = &extra{}

// noAccount is the counterparty of the entries that name none.
var noAccount = &Account{}

func compact(en *Entry, counterparty *Account) entry {
	c := entry{Counterparty: counterparty, Amount: en.Amount, Balance: en.Balance, Ref: en.Ref, Memo: en.Memo, extra: noExtra}
	if en.Nonce.IsZero() && en.Count == 0 && en.Commit == [32]byte{} && en.Expiry == 0 && en.Seed == (Seed{}) &&
		len(en.Claims) == 0 && en.Request == (RequestID{}) && en.Group == (event.Scope{}) && en.Tag == [32]byte{} {
		return c
	}
	c.extra = &extra{Nonce: en.Nonce, Count: en.Count, Commit: en.Commit, Expiry: en.Expiry, Seed: en.Seed,
		Claims: slices.Clone(en.Claims), Request: en.Request, Group: en.Group, Tag: en.Tag}
	if len(en.Claims) > 0 {
		c.refs = dedupe(en.refs())
	}
	return c
}

// full returns the Entry that n was made of.
func (n *node) full(unit string) Entry {
	c, x := &n.en, n.en.extra
	return Entry{Type: n.typ, Counterparty: *c.Counterparty, Amount: c.Amount, Unit: unit, Balance: c.Balance, Memo: c.Memo,
		Ref: c.Ref, Nonce: x.Nonce, Count: x.Count, Commit: x.Commit, Expiry: x.Expiry, Seed: x.Seed,
		Claims: slices.Clone(x.Claims), Request: x.Request, Group: x.Group, Tag: x.Tag}
}

// newNode makes the node of an entry by author naming counterparty
// (noAccount if it names none); a ledger's nodes share one copy of each
// account (Ledger.shared).
func newNode(e *event.Event, en *Entry, author, counterparty *Account) *node {
	return &node{id: e.ID, by: author, seq: e.Seq, time: e.Time, typ: en.Type, en: compact(en, counterparty)}
}

// eachRef calls fn for every entry n refers to, once each.
func (n *node) eachRef(fn func(event.ID)) {
	if n.en.refs != nil {
		for _, r := range n.en.refs {
			fn(r)
		}
	} else if n.en.Ref != (event.ID{}) {
		fn(n.en.Ref)
	}
}

// effectsOf returns the transfers of an effective entry (none for the
// others). The one transfer of a payment, refund or envelope is made again
// from the entry, into buf; only a settlement's are kept.
func (l *Ledger) effectsOf(n *node, buf *[1]transfer) []transfer {
	if !n.ok() {
		return nil
	}
	switch n.typ {
	case TypePay, TypeRefund:
		buf[0] = transfer{n.author(), n.counterparty(), n.en.Amount}
	case TypeEnvelope:
		buf[0] = transfer{n.author(), Escrow(n.id), n.en.Amount}
	case TypeSettle:
		return l.d.settled[n]
	default:
		return nil
	}
	return buf[:]
}
