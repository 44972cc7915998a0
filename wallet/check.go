package wallet

import (
	"errors"
	"fmt"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// Reasons a payee refuses a payment offline, besides the ledger's own
// reasons (ErrOverLimit, ErrAlreadyPaid, ErrChainBroken, ...).
var (
	ErrNotPayment = errors.New("not a payment")
	ErrNotPayee   = errors.New("payment is not to this payee")
	ErrGap        = errors.New("the payer's earlier entries are not held: get them first")
	ErrFork       = errors.New("payment conflicts with an entry of the payer already held")
	ErrOfflineCap = errors.New("unconfirmed spending above the unit's offline cap")
	ErrPayerCap   = errors.New("unconfirmed amount above what this payee accepts from the payer")
)

// Policy is a payee's own acceptance policy: how much it accepts from a
// payer whose recent spending is unconfirmed (see CheckPayment).
type Policy struct {
	// DefaultCap bounds the unconfirmed amount accepted from a payer that
	// is not in Caps. 0: no bound.
	DefaultCap uint64
	// Caps bound the unconfirmed amount accepted from given payers. A
	// payer listed with 0 is refused whenever unconfirmed.
	Caps map[Account]uint64
}

func (p Policy) capFor(payer Account) (uint64, bool) {
	if c, ok := p.Caps[payer]; ok {
		return c, true
	}
	return p.DefaultCap, p.DefaultCap > 0
}

// CheckPayment is what a payee runs before accepting payment e offline. e
// must be verified (event.Decode). The payer's entries before e must be
// held (Add them first: the payer hands over the entries the payee lacks;
// they are signed chain entries and safe to add); e itself may be held or
// not. It checks, in order:
//
//  1. e is a payment to payee, of this unit;
//  2. the payer is not frozen, and e does not conflict with a held entry;
//  3. e extends the payer's chain: the previous entry is held and valid,
//     time increases, the balance is the previous balance minus the amount;
//  4. the ledger would count e: the payer's spendable balance after e is
//     at least minus its credit limit, and e's request (if any) is unpaid;
//  5. if the payer's recent spending is unconfirmed, the offline caps.
//
// Confirmation: an entry of the payer is confirmed when the ledger holds an
// entry of a member (a guarantor or an account with a credit limit) other
// than the payer and the payee that refers to it, or to a later entry of
// the payer's chain on the same branch (which commits to it by hash). A
// payment that is itself confirmed passes the caps. Otherwise the payer's
// recent spending is the effective debits of its branch after its latest
// confirmed entry. When there is some, the
// recent spending plus e must not exceed Config.OfflineCap (if set), and
// the recent payments to this payee plus e must not exceed the payee's
// Policy cap for the payer (if set).
func (l *Ledger) CheckPayment(e *event.Event, payee Account, pol Policy) error {
	en, err := CheckEvent(e)
	if err != nil {
		return err
	}
	if e.ScopeID() != l.scope {
		return fmt.Errorf("%w: unit %q, ledger of %q", ErrWrongScope, en.Unit, l.cfg.Unit)
	}
	if en.Type != TypePay {
		return fmt.Errorf("%w: %s entry", ErrNotPayment, en.Type)
	}
	if en.Counterparty != payee {
		return ErrNotPayee
	}
	payer, _ := AccountOf(e.Author)

	l.mu.Lock()
	defer l.mu.Unlock()
	l.ensure()
	if l.frozen(payer) {
		return ErrFrozen
	}
	n := l.nodes.get(e.ID)
	if n != nil {
		switch st, reason := l.state(n); st {
		case StatusPending:
			return ErrGap
		case StatusInvalid, StatusVoid:
			return reason
		}
	} else {
		if at := l.at(payer, e.Seq); at != nil {
			return fmt.Errorf("%w: %s at position %d", ErrFork, at.id, e.Seq)
		}
		for o := l.at(payer, e.Seq+1); o != nil; o = l.twin(o) {
			if !l.waitsFor(o, e.ID) {
				return fmt.Errorf("%w: %s at position %d", ErrFork, o.id, e.Seq+1)
			}
		}
		n = newNode(e, en, &payer, &en.Counterparty)
		n.rooted = true
		if e.Seq > 1 {
			p := l.nodes.get(e.PrevID())
			if p == nil || !p.rooted {
				return ErrGap
			}
			if p.broken {
				return fmt.Errorf("%w: %v", ErrAncestorInvalid, l.chainErrs[p])
			}
			if !p.done {
				return ErrGap
			}
			n.parent = p
		}
		if err := checkLink(n); err != nil {
			return err
		}
		if o := l.eval(n); o.status != StatusOK {
			return o.reason
		}
	}
	return l.checkCaps(n, payer, payee, pol)
}

// member reports whether a can confirm others' entries: a guarantor or an
// account with a credit limit (so that made-up keys cannot).
func (l *Ledger) member(a Account) bool {
	return l.guarantor[a] || l.limitAt(a, 1<<63-1) > 0
}

// confirmedEntries returns the payer's entries that are confirmed: those
// that an entry of a member other than the payer and the payee refers to,
// and every entry before them on their branch. A member that refers to an
// entry holds it, and its hash chain commits to everything before it, so
// confirming an entry confirms its branch up to it; it says nothing about
// entries on another branch.
func (l *Ledger) confirmedEntries(payer, payee Account) map[*node]bool {
	conf := map[*node]bool{}
	for _, x := range l.entriesOf(payer) {
		if conf[x] || !x.rooted || x.broken {
			continue
		}
		direct := false
		for r := range l.referrers.of(x.id) {
			if r.author() != payer && r.author() != payee && l.member(r.author()) {
				direct = true
				break
			}
		}
		if !direct {
			continue
		}
		for y := x; y != nil && !conf[y]; y = y.parent {
			conf[y] = true
		}
	}
	return conf
}

func (l *Ledger) checkCaps(n *node, payer, payee Account, pol Policy) error {
	conf := l.confirmedEntries(payer, payee)
	if conf[n] {
		return nil // the payment itself, or a later entry of its branch, is confirmed
	}
	var recent, toPayee uint64
	unconfirmed := false
	for x := n.parent; x != nil && !conf[x]; x = x.parent {
		if x.ok() && isDebit(x.typ) {
			unconfirmed = true
			recent += x.en.Amount
			if x.typ == TypePay && x.counterparty() == payee {
				toPayee += x.en.Amount
			}
		}
	}
	if !unconfirmed {
		return nil
	}
	recent += n.en.Amount
	toPayee += n.en.Amount
	if c := l.cfg.OfflineCap; c > 0 && recent > c {
		return fmt.Errorf("%w: %d unconfirmed, cap %d", ErrOfflineCap, recent, c)
	}
	if c, ok := pol.capFor(payer); ok && toPayee > c {
		return fmt.Errorf("%w: %d unconfirmed, cap %d", ErrPayerCap, toPayee, c)
	}
	return nil
}
