package wallet

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// AccountInfo summarises one account.
type AccountInfo struct {
	Account Account
	// Balance counts every effective transfer (see Ledger.Balance).
	Balance int64
	// Spendable is the chain-backed balance at the head of the account's
	// chain: effective debits and receipted credits only. Limits apply to
	// it. It is at most Balance for an account that did not fork.
	Spendable int64
	Limit     uint64
	// Seq and Head are the account's latest evaluated entry (0 if none).
	Seq  uint64
	Head event.ID
	// Pending counts entries waiting for predecessors; Invalid counts
	// entries on broken chains.
	Pending, Invalid int
	Frozen           bool
	Escrow           bool // an envelope's escrow account, not a person
}

// Account returns a summary of a.
func (l *Ledger) Account(a Account) AccountInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ensure()
	return l.account(a)
}

func (l *Ledger) account(a Account) AccountInfo {
	ai := AccountInfo{Account: a, Balance: l.d.balances[a], Limit: l.limitAt(a, 1<<63-1), Frozen: l.frozen(a)}
	var top *node
	for _, n := range l.entriesOf(a) {
		switch st, _ := l.state(n); st {
		case StatusPending:
			ai.Pending++
		case StatusInvalid:
			ai.Invalid++
		default:
			if top == nil || n.seq > top.seq || n.seq == top.seq && bytes.Compare(n.id[:], top.id[:]) < 0 {
				top = n
			}
		}
	}
	if top != nil {
		ai.Seq, ai.Head, ai.Spendable = top.seq, top.id, top.spend
	}
	_, ai.Escrow = l.d.escrows[a]
	return ai
}

// Accounts returns a summary of every account with a chain, a balance or
// a limit, in ascending order.
func (l *Ledger) Accounts() []AccountInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ensure()
	seen := make(map[Account]bool)
	for a := range l.chains {
		seen[a] = true
	}
	for a, b := range l.d.balances {
		if b != 0 {
			seen[a] = true
		}
	}
	for a := range l.d.limits {
		seen[a] = true
	}
	keys := make([]Account, 0, len(seen))
	for a := range seen {
		keys = append(keys, a)
	}
	slices.SortFunc(keys, func(a, b Account) int { return bytes.Compare(a[:], b[:]) })
	out := make([]AccountInfo, len(keys))
	for i, a := range keys {
		out[i] = l.account(a)
	}
	return out
}

// Unreceipted returns the effective transfers that credit a (payments,
// refunds, envelope shares) and that a's chain has not receipted yet, in
// ledger order. The owner's node appends a receipt for each: only
// receipted credits are spendable.
func (l *Ledger) Unreceipted(a Account) []event.ID {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ensure()
	var out []event.ID
	for _, n := range l.d.order {
		if n.status != StatusOK || n.author() == a || l.credit(n, a) == 0 {
			continue
		}
		receipted := false
		for r := range l.referrers.of(n.id) {
			if r.typ == TypeReceipt && r.ok() && r.author() == a {
				receipted = true
				break
			}
		}
		if !receipted {
			out = append(out, n.id)
		}
	}
	return out
}

// RequestPaid returns the effective payment of a request of payee with
// this nonce, if there is one.
func (l *Ledger) RequestPaid(payee Account, nonce Nonce) (event.ID, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ensure()
	if w := l.d.paidNonce[nonceKey{payee, nonce}]; w != nil {
		return w.id, true
	}
	return event.ID{}, false
}

// RequestState is what the ledger knows of a payment request.
type RequestState struct {
	// Payment is its effective payment, if any (Paid).
	Payment event.ID
	Paid    bool
	// Accepted is set when the payee has receipted Payment: that decides
	// it. Before, an earlier-dated payment of the same request may still
	// take its place.
	Accepted bool
}

// Request returns what the ledger knows of the payee's request id.
func (l *Ledger) Request(payee Account, id RequestID) RequestState {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ensure()
	k := reqKey{payee, id}
	var st RequestState
	if w := l.d.paid[k]; w != nil {
		st.Payment, st.Paid = w.id, true
		st.Accepted = l.d.designated[k][w.id]
	}
	return st
}

// AcceptedPayments returns the payments of the payee's request id that the
// payee has receipted first on a branch of its chain: one, or none, unless
// the payee forked.
func (l *Ledger) AcceptedPayments(payee Account, id RequestID) []event.ID {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ensure()
	var out []event.ID
	for p := range l.d.designated[reqKey{payee, id}] {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b event.ID) int { return bytes.Compare(a[:], b[:]) })
	return out
}

// Refundable returns how much of an effective payment can still be
// refunded: what the refunds on the payee's current branch left.
func (l *Ledger) Refundable(payment event.ID) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ensure()
	p, err := l.evaluated(payment)
	if err != nil {
		return 0, err
	}
	if p.typ != TypePay || p.status != StatusOK {
		return 0, fmt.Errorf("%w: not an effective payment", ErrBadRef)
	}
	var done uint64
	if top := l.top(p.counterparty()); top != nil {
		done = l.refundedOnBranch(payment, top)
		if top.typ == TypeRefund && top.en.Ref == payment && top.ok() {
			done += top.en.Amount
		}
	}
	return p.en.Amount - done, nil
}

// top is a's evaluated entry with the highest position (the smallest ID
// there), or nil.
func (l *Ledger) top(a Account) *node {
	var top *node
	for _, n := range l.entriesOf(a) {
		if n.done && (top == nil || n.seq > top.seq || n.seq == top.seq && bytes.Compare(n.id[:], top.id[:]) < 0) {
			top = n
		}
	}
	return top
}

// EnvelopeInfo describes a red envelope.
type EnvelopeInfo struct {
	ID      event.ID
	Sender  Account
	Total   uint64
	Count   int
	Expiry  int64
	Memo    string
	Escrow  Account
	Held    int64      // balance of the escrow account: Total until settled, then 0
	Claims  []event.ID // effective claims, in ledger order
	Settled bool
	// Settlement, Shares and Returned are set once settled: the share
	// paid to each claimant and the amount returned to the sender.
	Settlement event.ID
	Shares     map[Account]uint64
	Returned   uint64
}

// Envelope describes the effective red envelope id.
func (l *Ledger) Envelope(id event.ID) (EnvelopeInfo, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ensure()
	st := l.d.envelopes[id]
	if st == nil {
		return EnvelopeInfo{}, false
	}
	n := l.nodes.get(id)
	info := EnvelopeInfo{
		ID: id, Sender: n.author(), Total: n.en.Amount, Count: int(n.en.Count), Expiry: n.en.Expiry,
		Memo: n.en.Memo, Escrow: Escrow(id), Held: l.d.balances[Escrow(id)],
	}
	for r := range l.referrers.of(id) {
		if r.ok() && r.typ == TypeClaim {
			info.Claims = append(info.Claims, r.id)
		}
	}
	slices.SortFunc(info.Claims, func(a, b event.ID) int { return int(l.nodes.get(a).order - l.nodes.get(b).order) })
	if s := st.settle; s != nil {
		info.Settled, info.Settlement, info.Shares = true, s.id, make(map[Account]uint64)
		for _, t := range l.d.settled[s] {
			if t.to == n.author() {
				info.Returned += t.amount
			} else {
				info.Shares[t.to] += t.amount
			}
		}
	}
	return info, true
}

// Affected is a counterparty of a forked account: what it received from
// the account in entries at or after the fork.
type Affected struct {
	Account Account
	Amount  uint64
	Entries []event.ID
}

// ForkReport tells who is affected by a fork and by how much.
type ForkReport struct {
	Account Account
	// Seq is the lowest position at which the chain forks.
	Seq    uint64
	Proofs []*FraudProof
	// Affected are the accounts credited by the forked account's
	// effective entries at or after Seq, on every branch, by amount
	// (largest first).
	Affected []Affected
	Balance  int64
	Limit    uint64
	// Shortfall is how far the balance is below minus the limit: the
	// debt the unit carries beyond what the guarantors granted.
	Shortfall uint64
}

// ForkReport reports on a frozen account.
func (l *Ledger) ForkReport(a Account) (ForkReport, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ensure()
	r := ForkReport{Account: a, Balance: l.d.balances[a], Limit: l.limitAt(a, 1<<63-1)}
	for _, k := range sortedProofKeys(l.proofs) {
		if k.author != a {
			continue
		}
		if r.Proofs == nil || k.seq < r.Seq {
			r.Seq = k.seq
		}
		r.Proofs = append(r.Proofs, l.proofs[k].FraudProof)
	}
	if r.Proofs == nil {
		return ForkReport{}, false
	}
	by := make(map[Account]*Affected)
	var buf [1]transfer
	for _, n := range l.d.order {
		if n.author() != a || n.seq < r.Seq || n.status != StatusOK {
			continue
		}
		for _, t := range l.effectsOf(n, &buf) {
			if t.from != a {
				continue
			}
			x := by[t.to]
			if x == nil {
				x = &Affected{Account: t.to}
				by[t.to] = x
			}
			x.Amount += t.amount
			x.Entries = append(x.Entries, n.id)
		}
	}
	for _, x := range by {
		r.Affected = append(r.Affected, *x)
	}
	slices.SortFunc(r.Affected, func(x, y Affected) int {
		return cmp.Or(cmp.Compare(y.Amount, x.Amount), bytes.Compare(x.Account[:], y.Account[:]))
	})
	if floor := -int64(r.Limit); r.Balance < floor {
		r.Shortfall = uint64(floor) - uint64(r.Balance)
	}
	return r, true
}
