package wallet

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
)

// Errors of the builders.
var (
	// ErrFrozen reports an account that forked its chain: no entry of it
	// is built or accepted.
	ErrFrozen = errors.New("account frozen: it forked its chain")
	// ErrBehind reports a chain whose latest entries the ledger holds but
	// cannot evaluate (predecessors missing, or the chain is broken):
	// building on an older entry would fork the chain.
	ErrBehind = errors.New("chain head not evaluated: sync before writing")
	// ErrExpired reports a payment request past its expiry.
	ErrExpired = errors.New("payment request expired")
)

// Head is the state of an owner's chain that the next entry builds on.
// The zero Head (Seq 0) is an empty chain.
type Head struct {
	Owner     Account
	Seq       uint64
	ID        event.ID
	Balance   int64 // the signed chain balance of the head entry
	Time      int64
	Spendable int64  // the chain balance counting only effective entries
	Limit     uint64 // the owner's credit limit now
}

// Next returns the body of the entry en appended to h, to be signed by the
// owner with event.Sign: it sets the unit, the balance after the entry, the
// position (Seq, Prev), the scope, the kind and the time (now, but at least
// one millisecond after the head). It checks the entry's form, not its
// effect; Ledger.Build checks both.
func (h Head) Next(unit string, en Entry, now int64) (event.Body, error) {
	b, _, err := h.next(unit, en, now)
	return b, err
}

func (h Head) next(unit string, en Entry, now int64) (event.Body, *Entry, error) {
	en.Unit = unit
	bal, ok := addInt64(h.Balance, en.Delta())
	if !ok {
		return event.Body{}, nil, ErrOverflow
	}
	en.Balance = bal
	payload, err := en.Encode()
	if err != nil {
		return event.Body{}, nil, err
	}
	scope := UnitScope(unit)
	b := event.Body{
		Author:  bytes.Clone(h.Owner[:]),
		Scope:   scope[:],
		Seq:     h.Seq + 1,
		Time:    max(now, h.Time+1),
		Kind:    KindWalletEntry,
		Payload: payload,
	}
	if h.Seq > 0 {
		b.Prev = bytes.Clone(h.ID[:])
	}
	if err := checkInEvent(&b, &en); err != nil {
		return event.Body{}, nil, err
	}
	return b, &en, nil
}

// Head returns the head of owner's chain.
func (l *Ledger) Head(owner Account) (Head, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ensure()
	h, _, err := l.head(owner)
	return h, err
}

func (l *Ledger) head(owner Account) (Head, *node, error) {
	h := Head{Owner: owner, Limit: l.limitAt(owner, 1<<63-1)}
	if l.frozen(owner) {
		return h, nil, ErrFrozen
	}
	n := l.last(owner)
	if n == nil {
		return h, nil, nil
	}
	if st, reason := l.state(n); st == StatusPending || st == StatusInvalid {
		return h, nil, fmt.Errorf("%w: entry %d is %s (%v)", ErrBehind, n.seq, st, reason)
	}
	h.Seq, h.ID, h.Balance, h.Time, h.Spendable = n.seq, n.id, n.en.Balance, n.time, n.spend
	return h, n, nil
}

// Build returns the body of owner's next entry en, to be signed by the
// owner (see BuildSigned). It fills what follows from the ledger — the
// unit and balance; a receipt's counterparty and amount from the transfer
// it receipts; a refund's or claim's counterparty from the entry it refers
// to; a settlement's returned amount from its envelope and claims — and
// refuses an entry the ledger would not count: over the limit, a request
// paid already, a refund beyond the original, and so on. It refuses
// everything for a frozen owner.
func (l *Ledger) Build(owner Account, en Entry, now int64) (event.Body, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ensure()
	return l.build(owner, en, now)
}

func (l *Ledger) build(owner Account, en Entry, now int64) (event.Body, error) {
	h, top, err := l.head(owner)
	if err != nil {
		return event.Body{}, err
	}
	en.Claims = slices.Clone(en.Claims)
	switch en.Type {
	case TypeReceipt, TypeRefund, TypeClaim:
		t, err := l.evaluated(en.Ref)
		if err != nil {
			return event.Body{}, err
		}
		switch {
		case en.Type == TypeRefund && (t.typ != TypePay || t.counterparty() != owner):
			return event.Body{}, fmt.Errorf("%w: %s is not a payment to %s", ErrBadRef, en.Ref, owner)
		case en.Type == TypeClaim && (t.typ != TypeEnvelope || t.author() == owner):
			return event.Body{}, fmt.Errorf("%w: %s is not someone else's envelope", ErrBadRef, en.Ref)
		case en.Type == TypeClaim && l.d.envelopes[en.Ref] != nil && l.d.envelopes[en.Ref].settle != nil:
			return event.Body{}, fmt.Errorf("%w: its shares are gone", ErrSettled)
		}
		if en.Counterparty.IsZero() {
			en.Counterparty = t.author()
		}
		if en.Type == TypeReceipt && en.Amount == 0 {
			if en.Amount = l.credit(t, owner); en.Amount == 0 {
				return event.Body{}, fmt.Errorf("%w: entry %s credits nothing to %s", ErrBadRef, en.Ref, owner)
			}
		}
	case TypeSettle:
		env, err := l.evaluated(en.Ref)
		if err != nil {
			return event.Body{}, err
		}
		if env.typ != TypeEnvelope {
			return event.Body{}, fmt.Errorf("%w: not an envelope", ErrBadRef)
		}
		slices.SortFunc(en.Claims, func(a, b event.ID) int { return bytes.Compare(a[:], b[:]) })
		en.Claims = slices.Compact(en.Claims)
		_, rem, err := Assign(en.Seed, env.en.Amount, int(env.en.Count), en.Claims)
		if err != nil {
			return event.Body{}, fmt.Errorf("%w: %v", ErrBadSettle, err)
		}
		en.Amount = rem
	}
	b, full, err := h.next(l.cfg.Unit, en, now)
	if err != nil {
		return event.Body{}, err
	}
	// Evaluate the entry as the ledger will.
	n := newNode(&event.Event{Body: b}, full, &owner, &full.Counterparty)
	n.parent, n.rooted = top, true
	if err := checkLink(n); err != nil {
		return event.Body{}, err
	}
	if o := l.eval(n); o.status != StatusOK {
		return event.Body{}, o.reason
	}
	return b, nil
}

// BuildSigned builds id's next entry en and signs it. The event is not
// added to the ledger: store it, then Add it.
func (l *Ledger) BuildSigned(id *crypto.Identity, en Entry, now int64) (*event.Event, error) {
	owner, err := AccountOf(id.PublicKey())
	if err != nil {
		return nil, err
	}
	b, err := l.Build(owner, en, now)
	if err != nil {
		return nil, err
	}
	return event.Sign(id, b)
}

// PayRequest builds owner's payment of req. It refuses an expired
// request, a request of another unit, and a request paid already.
func (l *Ledger) PayRequest(owner Account, req *Request, now int64) (event.Body, error) {
	if req.Unit != l.cfg.Unit {
		return event.Body{}, fmt.Errorf("request in unit %q, ledger of %q", req.Unit, l.cfg.Unit)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ensure()
	h, _, err := l.head(owner)
	if err != nil {
		return event.Body{}, err
	}
	if req.Expired(max(now, h.Time+1)) {
		return event.Body{}, ErrExpired
	}
	return l.build(owner, PaymentFor(req), now)
}

// Entry constructors: the fields Build fills are left zero.

// Payment pays amount to to.
func Payment(to Account, amount uint64, memo string) Entry {
	return Entry{Type: TypePay, Counterparty: to, Amount: amount, Memo: memo}
}

// PaymentFor pays a payment request: the payment carries the request's
// amount, memo, nonce, expiry and ID.
func PaymentFor(req *Request) Entry {
	return Entry{Type: TypePay, Counterparty: req.Payee, Amount: req.Amount, Memo: req.Memo,
		Nonce: req.Nonce, Expiry: req.Expiry, Request: req.ID()}
}

// Receipt receipts an incoming transfer: a payment, a refund or a
// settlement that pays the owner a share.
func Receipt(transfer event.ID) Entry { return Entry{Type: TypeReceipt, Ref: transfer} }

// Refund refunds amount of a payment the owner received.
func Refund(payment event.ID, amount uint64, memo string) Entry {
	return Entry{Type: TypeRefund, Ref: payment, Amount: amount, Memo: memo}
}

// LimitGrant grants grantee a credit limit (0 revokes it). Only grants by
// the unit's guarantors count.
func LimitGrant(grantee Account, limit uint64, memo string) Entry {
	return Entry{Type: TypeLimit, Counterparty: grantee, Amount: limit, Memo: memo}
}

// Envelope reserves total for count red-envelope shares, committing to
// seed. Keep the seed: the settlement reveals it.
func Envelope(total uint64, count int, seed Seed, expiry int64, memo string) Entry {
	return Entry{Type: TypeEnvelope, Amount: total, Count: uint64(count), Commit: Commitment(seed), Expiry: expiry, Memo: memo}
}

// Claim claims a share of a red envelope.
func Claim(envelope event.ID) Entry { return Entry{Type: TypeClaim, Ref: envelope} }

// Settle settles a red envelope: it reveals the seed, pays the claims
// (at most the envelope's count; any order) and returns the rest.
func Settle(envelope event.ID, seed Seed, claims []event.ID) Entry {
	return Entry{Type: TypeSettle, Ref: envelope, Seed: seed, Claims: claims}
}
