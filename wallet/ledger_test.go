package wallet_test

import (
	"errors"
	"testing"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/wallet"
)

func TestPaymentAndReceipt(t *testing.T) {
	v := newVillage(t, 3, wallet.Config{})
	v.do(v.g, wallet.LimitGrant(v.a(0), 100, "welcome"))
	pay := v.do(v.p(0), wallet.Payment(v.a(1), 60, "eggs"))
	v.wantStatus(pay, wallet.StatusOK, nil)
	v.wantBalance(0, -60)
	v.wantBalance(1, 60) // credited by the payment itself
	if s := sumBalances(v.l); s != 0 {
		t.Fatalf("sum %d", s)
	}
	if got := v.l.Unreceipted(v.a(1)); len(got) != 1 || got[0] != pay.ID {
		t.Fatalf("unreceipted %v", got)
	}
	// Not receipted yet: nothing to spend (limit 0).
	if _, err := v.l.Build(v.a(1), wallet.Payment(v.a(2), 1, ""), v.tick()); !errors.Is(err, wallet.ErrOverLimit) {
		t.Fatalf("spend before receipt: %v", err)
	}
	rc := v.do(v.p(1), wallet.Receipt(pay.ID))
	v.wantStatus(rc, wallet.StatusOK, nil)
	if len(v.l.Unreceipted(v.a(1))) != 0 {
		t.Fatal("still unreceipted")
	}
	h := v.head(v.p(1))
	if h.Balance != 60 || h.Spendable != 60 {
		t.Fatalf("head %+v", h)
	}
	v.wantBalance(1, 60) // the receipt moves nothing
	v.do(v.p(1), wallet.Payment(v.a(2), 60, "bread"))
	v.wantBalance(1, 0)
	v.wantBalance(2, 60)
	// A second receipt of the same payment is void.
	dup := raw(t, v.p(1), v.head(v.p(1)), wallet.Entry{Type: wallet.TypeReceipt, Counterparty: v.a(0), Amount: 60, Ref: pay.ID}, v.tick())
	v.add(dup)
	v.wantStatus(dup, wallet.StatusVoid, wallet.ErrDuplicateReceipt)
	if h := v.head(v.p(1)); h.Balance != 60 || h.Spendable != 0 {
		t.Fatalf("after duplicate receipt: head %+v", h)
	}
	// What the ledger tells about the chain.
	chain := v.l.Chain(v.a(1))
	if len(chain) != 3 || chain[0].Entry.Type != wallet.TypeReceipt || chain[2].Status != wallet.StatusVoid || chain[2].Seq != 3 {
		t.Fatalf("chain %+v", chain)
	}
	if ai := v.l.Account(v.a(1)); ai.Seq != 3 || ai.Head != dup.ID || ai.Balance != 0 || ai.Spendable != 0 || ai.Frozen || ai.Escrow {
		t.Fatalf("account %+v", ai)
	}
	if e, ok := v.l.Event(pay.ID); !ok || e.ID != pay.ID || v.l.Len() != len(v.events) {
		t.Fatal("event lookup")
	}
	if typ, err := wallet.ParseType(wallet.TypeRefund.String()); err != nil || typ != wallet.TypeRefund {
		t.Fatal("type names")
	}
	// The builder refuses it too.
	if _, err := v.l.Build(v.a(1), wallet.Receipt(pay.ID), v.tick()); !errors.Is(err, wallet.ErrDuplicateReceipt) {
		t.Fatalf("build duplicate receipt: %v", err)
	}
}

func TestLimits(t *testing.T) {
	v := newVillage(t, 3, wallet.Config{})
	// A stranger's limit is 0.
	if _, err := v.l.Build(v.a(0), wallet.Payment(v.a(1), 1, ""), v.tick()); !errors.Is(err, wallet.ErrOverLimit) {
		t.Fatalf("stranger pays: %v", err)
	}
	// A raw over-limit payment is recorded but void, and moves nothing.
	over := raw(t, v.p(0), wallet.Head{}, wallet.Payment(v.a(1), 5, ""), v.tick())
	v.add(over)
	v.wantStatus(over, wallet.StatusVoid, wallet.ErrOverLimit)
	v.wantBalance(1, 0)
	// Grants by non-guarantors do not count.
	if _, err := v.l.Build(v.a(2), wallet.LimitGrant(v.a(0), 1000, ""), v.tick()); !errors.Is(err, wallet.ErrNotGuarantor) {
		t.Fatalf("build grant by a non-guarantor: %v", err)
	}
	fake := raw(t, v.p(2), wallet.Head{}, wallet.LimitGrant(v.a(0), 1000, ""), v.tick())
	v.add(fake)
	v.wantStatus(fake, wallet.StatusVoid, wallet.ErrNotGuarantor)
	if got := v.l.Limit(v.a(0)); got != 0 {
		t.Fatalf("limit %d", got)
	}
	grant := v.do(v.g, wallet.LimitGrant(v.a(0), 50, ""))
	if got := v.l.LimitAt(v.a(0), grant.Time-1); got != 0 {
		t.Fatalf("limit before the grant %d", got)
	}
	if got := v.l.Limit(v.a(0)); got != 50 {
		t.Fatalf("limit %d", got)
	}
	// The earlier payment stays void: the grant came later.
	v.wantStatus(over, wallet.StatusVoid, wallet.ErrOverLimit)
	ok := v.do(v.p(0), wallet.Payment(v.a(1), 50, ""))
	v.wantStatus(ok, wallet.StatusOK, nil)
	if _, err := v.l.Build(v.a(0), wallet.Payment(v.a(1), 1, ""), v.tick()); !errors.Is(err, wallet.ErrOverLimit) {
		t.Fatalf("beyond limit: %v", err)
	}
	// Revocation applies from its time on; earlier payments stand.
	v.do(v.g, wallet.LimitGrant(v.a(0), 0, "revoked"))
	v.wantStatus(ok, wallet.StatusOK, nil)
	if got := v.l.Limit(v.a(0)); got != 0 {
		t.Fatalf("limit after revocation %d", got)
	}
	if got := v.l.LimitAt(v.a(0), ok.Time); got != 50 {
		t.Fatalf("limit at the payment %d", got)
	}
	// MaxLimit caps the sum of grants.
	g2 := ident(t, 0xa1)
	v2 := newVillage(t, 1, wallet.Config{MaxLimit: 70, Guarantors: []wallet.Account{acct(g2)}})
	v2.do(v2.g, wallet.LimitGrant(v2.a(0), 50, ""))
	v2.do(g2, wallet.LimitGrant(v2.a(0), 40, ""))
	if got := v2.l.Limit(v2.a(0)); got != 70 {
		t.Fatalf("capped limit %d", got)
	}
}

func TestPendingUntilContiguous(t *testing.T) {
	v := newVillage(t, 2, wallet.Config{})
	v.do(v.g, wallet.LimitGrant(v.a(0), 100, ""))
	e1 := v.do(v.p(0), wallet.Payment(v.a(1), 10, ""))
	e2 := v.do(v.p(0), wallet.Payment(v.a(1), 20, ""))
	e3 := v.do(v.p(0), wallet.Payment(v.a(1), 30, ""))
	l, _ := wallet.NewLedger(v.l.Config())
	for _, e := range []*event.Event{e3, e2} {
		if _, err := l.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if info, _ := l.Entry(e3.ID); info.Status != wallet.StatusPending {
		t.Fatalf("e3 %s", info.Status)
	}
	if gaps := l.Gaps(); len(gaps) != 1 || gaps[0].ID != e1.ID || gaps[0].Seq != 1 {
		t.Fatalf("gaps %+v", gaps)
	}
	if l.Balance(v.a(1)) != 0 {
		t.Fatal("pending entries count")
	}
	for _, e := range v.events[:2] { // the grant, then e1
		if _, err := l.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if got := l.Balance(v.a(1)); got != 60 {
		t.Fatalf("balance %d", got)
	}
	if l.StateHash() != v.l.StateHash() {
		t.Fatal("state differs from the in-order ledger")
	}
	if len(l.Gaps()) != 0 {
		t.Fatal("gaps remain")
	}
}

func TestBrokenChains(t *testing.T) {
	v := newVillage(t, 2, wallet.Config{})
	v.do(v.g, wallet.LimitGrant(v.a(0), 100, ""))
	first := v.do(v.p(0), wallet.Payment(v.a(1), 10, ""))
	h := headOf(t, first)

	// Wrong balance: sign an entry whose balance is not head - amount.
	bad := h
	bad.Balance = 1000
	wrongBal := raw(t, v.p(0), bad, wallet.Payment(v.a(1), 10, ""), v.tick())
	// Time not increasing.
	back := raw(t, v.p(0), wallet.Head{Seq: h.Seq, ID: h.ID, Balance: h.Balance, Time: h.Time - 10}, wallet.Payment(v.a(1), 1, ""), h.Time-5)
	// Prev pointing at another author's entry.
	grant := v.events[0]
	other := raw(t, v.p(0), wallet.Head{Seq: 1, ID: grant.ID, Balance: h.Balance, Time: h.Time}, wallet.Payment(v.a(1), 1, ""), v.tick())

	for i, e := range []*event.Event{wrongBal, back, other} {
		l, _ := wallet.NewLedger(v.l.Config())
		for _, x := range []*event.Event{grant, first, e} {
			if _, err := l.Add(x); err != nil {
				t.Fatal(err)
			}
		}
		if info, _ := l.Entry(e.ID); info.Status != wallet.StatusInvalid || !errors.Is(info.Reason, wallet.ErrChainBroken) {
			t.Fatalf("%s: %v", info.Status, info.Reason)
		}
		// Entries after an invalid one are invalid too.
		next := raw(t, v.p(0), headOf(t, e), wallet.Payment(v.a(1), 1, ""), e.Time+1)
		if _, err := l.Add(next); err != nil {
			t.Fatal(err)
		}
		if info, _ := l.Entry(next.ID); info.Status != wallet.StatusInvalid || !errors.Is(info.Reason, wallet.ErrAncestorInvalid) {
			t.Fatalf("after invalid: %s %v", info.Status, info.Reason)
		}
		if got := l.Balance(v.a(1)); got != 10 {
			t.Fatalf("balance %d", got)
		}
		// The last case also breaks the link from entry 1 to entry 2: a fork.
		want := wallet.ErrBehind
		if i == 2 {
			want = wallet.ErrFrozen
		}
		if _, err := l.Head(v.a(0)); !errors.Is(err, want) {
			t.Fatalf("head of a broken chain: %v", err)
		}
	}
}

func TestRequestPaidOnce(t *testing.T) {
	v := newVillage(t, 3, wallet.Config{})
	shop := v.p(2)
	req, err := wallet.NewRequest(shop, testUnit, 25, "2 loaves", v.now+3_600_000)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		v.do(v.g, wallet.LimitGrant(v.a(i), 100, ""))
	}
	// Two people scan the same code offline.
	p0 := raw(t, v.p(0), v.head(v.p(0)), wallet.PaymentFor(req), v.tick())
	p1 := raw(t, v.p(1), v.head(v.p(1)), wallet.PaymentFor(req), v.tick())
	v.add(p1)
	v.add(p0)
	// The earlier one (by time) wins, whatever the arrival order.
	v.wantStatus(p0, wallet.StatusOK, nil)
	v.wantStatus(p1, wallet.StatusVoid, wallet.ErrAlreadyPaid)
	v.wantBalance(2, 25)
	v.wantBalance(1, 0)
	if id, ok := v.l.RequestPaid(acct(shop), req.Nonce); !ok || id != p0.ID {
		t.Fatalf("RequestPaid %v %v", id, ok)
	}
	// The payee's receipt decides which payment counts, whatever the times:
	// the shop accepted p1 first.
	rc := raw(t, v.p(2), wallet.Head{}, wallet.Entry{Type: wallet.TypeReceipt, Counterparty: v.a(1), Amount: 25, Ref: p1.ID}, v.tick())
	v.add(rc)
	v.wantStatus(p1, wallet.StatusOK, nil)
	v.wantStatus(p0, wallet.StatusVoid, wallet.ErrAlreadyPaid)
	v.wantStatus(rc, wallet.StatusOK, nil)
	v.wantBalance(0, 0)
	v.wantBalance(1, -25)
	// A later receipt of the other payment changes nothing.
	rc2 := raw(t, v.p(2), headOf(t, rc), wallet.Entry{Type: wallet.TypeReceipt, Counterparty: v.a(0), Amount: 25, Ref: p0.ID}, v.tick())
	v.add(rc2)
	v.wantStatus(p1, wallet.StatusOK, nil)
	v.wantStatus(rc2, wallet.StatusVoid, wallet.ErrBadRef)
	for _, order := range [][]*event.Event{{rc2, p0, rc, p1}, {p1, rc2, rc, p0}} {
		l, _ := wallet.NewLedger(v.l.Config())
		for _, e := range append(order, v.events[:2]...) {
			l.Add(e)
		}
		if l.StateHash() != v.l.StateHash() {
			t.Fatal("another order gives another state")
		}
	}
	// The payer's builder refuses a paid request, an expired one and one
	// of another unit.
	if _, err := v.l.PayRequest(v.a(1), req, v.tick()); !errors.Is(err, wallet.ErrAlreadyPaid) {
		t.Fatalf("pay twice: %v", err)
	}
	req2, _ := wallet.NewRequest(shop, testUnit, 5, "", v.now+10)
	if _, err := v.l.PayRequest(v.a(1), req2, v.now+11); !errors.Is(err, wallet.ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
	req3, _ := wallet.NewRequest(shop, "other", 5, "", v.now+10_000)
	if _, err := v.l.PayRequest(v.a(1), req3, v.tick()); err == nil {
		t.Fatal("paid a request of another unit")
	}
	req4, _ := wallet.NewRequest(shop, testUnit, 5, "", v.now+3_600_000)
	b, err := v.l.PayRequest(v.a(1), req4, v.tick())
	if err != nil {
		t.Fatal(err)
	}
	e, _ := event.Sign(v.p(1), b)
	v.add(e)
	v.wantStatus(e, wallet.StatusOK, nil)
	// The payee's check refuses a second payment of a paid request.
	p1b := raw(t, v.p(1), v.head(v.p(1)), wallet.PaymentFor(req4), v.tick())
	if err := v.l.CheckPayment(p1b, acct(shop), wallet.Policy{}); !errors.Is(err, wallet.ErrAlreadyPaid) {
		t.Fatalf("check second payment: %v", err)
	}
}

func TestRefunds(t *testing.T) {
	v := newVillage(t, 2, wallet.Config{})
	v.do(v.g, wallet.LimitGrant(v.a(0), 100, ""))
	pay := v.do(v.p(0), wallet.Payment(v.a(1), 40, "shoes"))
	v.do(v.p(1), wallet.Receipt(pay.ID))
	r1 := v.do(v.p(1), wallet.Refund(pay.ID, 15, "wrong size"))
	if got, _ := v.l.Refundable(pay.ID); got != 25 {
		t.Fatalf("refundable %d", got)
	}
	if _, err := v.l.Build(v.a(1), wallet.Refund(pay.ID, 26, ""), v.tick()); !errors.Is(err, wallet.ErrRefundExceeds) {
		t.Fatalf("over-refund built: %v", err)
	}
	over := raw(t, v.p(1), v.head(v.p(1)), wallet.Entry{Type: wallet.TypeRefund, Counterparty: v.a(0), Amount: 26, Ref: pay.ID}, v.tick())
	v.add(over)
	v.wantStatus(over, wallet.StatusVoid, wallet.ErrRefundExceeds)
	r2 := v.do(v.p(1), wallet.Refund(pay.ID, 25, ""))
	v.wantStatus(r1, wallet.StatusOK, nil)
	v.wantStatus(r2, wallet.StatusOK, nil)
	v.wantBalance(0, 0)
	v.wantBalance(1, 0)
	// Only the payee refunds, only payments.
	if _, err := v.l.Build(v.a(0), wallet.Refund(pay.ID, 1, ""), v.tick()); !errors.Is(err, wallet.ErrBadRef) {
		t.Fatalf("refund by the payer: %v", err)
	}
	if _, err := v.l.Build(v.a(0), wallet.Refund(r1.ID, 1, ""), v.tick()); !errors.Is(err, wallet.ErrBadRef) {
		t.Fatalf("refund of a refund: %v", err)
	}
	// The payer receipts the refunds and can spend them again.
	v.do(v.p(0), wallet.Receipt(r1.ID))
	v.do(v.p(0), wallet.Receipt(r2.ID))
	if h := v.head(v.p(0)); h.Spendable != 0 || h.Balance != 0 {
		t.Fatalf("payer head %+v", h)
	}
}

func TestReceiptRules(t *testing.T) {
	v := newVillage(t, 3, wallet.Config{})
	v.do(v.g, wallet.LimitGrant(v.a(0), 100, ""))
	pay := v.do(v.p(0), wallet.Payment(v.a(1), 30, ""))
	cases := []struct {
		name string
		who  int
		en   wallet.Entry
		want error
	}{
		{"wrong amount", 1, wallet.Entry{Type: wallet.TypeReceipt, Counterparty: v.a(0), Amount: 31, Ref: pay.ID}, wallet.ErrBadRef},
		{"wrong counterparty", 1, wallet.Entry{Type: wallet.TypeReceipt, Counterparty: v.a(2), Amount: 30, Ref: pay.ID}, wallet.ErrBadRef},
		{"not the payee", 2, wallet.Entry{Type: wallet.TypeReceipt, Counterparty: v.a(0), Amount: 30, Ref: pay.ID}, wallet.ErrBadRef},
		{"unknown payment", 1, wallet.Entry{Type: wallet.TypeReceipt, Counterparty: v.a(0), Amount: 30, Ref: event.ID{1}}, wallet.ErrUnknownRef},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, _ := wallet.NewLedger(v.l.Config())
			for _, e := range v.events {
				l.Add(e)
			}
			e := raw(t, v.p(c.who), wallet.Head{}, c.en, v.now+1)
			if _, err := l.Add(e); err != nil {
				t.Fatal(err)
			}
			info, _ := l.Entry(e.ID)
			if info.Status != wallet.StatusVoid || !errors.Is(info.Reason, c.want) {
				t.Fatalf("%s %v", info.Status, info.Reason)
			}
			// The chain balance says +30, but nothing is spendable.
			if h, _ := l.Head(acct(v.p(c.who))); h.Balance != int64(c.en.Amount) || h.Spendable != 0 {
				t.Fatalf("head %+v", h)
			}
		})
	}
	// A receipt of a payment that arrives later becomes effective then.
	l, _ := wallet.NewLedger(v.l.Config())
	rc := raw(t, v.p(1), wallet.Head{}, wallet.Entry{Type: wallet.TypeReceipt, Counterparty: v.a(0), Amount: 30, Ref: pay.ID}, v.now+1)
	l.Add(rc)
	if info, _ := l.Entry(rc.ID); info.Status != wallet.StatusVoid || !errors.Is(info.Reason, wallet.ErrUnknownRef) {
		t.Fatalf("early receipt %s %v", info.Status, info.Reason)
	}
	for _, e := range v.events {
		l.Add(e)
	}
	if info, _ := l.Entry(rc.ID); info.Status != wallet.StatusOK {
		t.Fatalf("receipt after payment arrived: %s %v", info.Status, info.Reason)
	}
}

func TestOverflowIsVoid(t *testing.T) {
	g := ident(t, 0xa1)
	gs := []wallet.Account{acct(g)}
	v := newVillage(t, 2, wallet.Config{Guarantors: gs})
	// Each grant is at most MaxAmount; the limit sums to at most MaxAmount.
	v.do(v.g, wallet.LimitGrant(v.a(0), wallet.MaxAmount, ""))
	v.do(g, wallet.LimitGrant(v.a(0), wallet.MaxAmount, ""))
	if got := v.l.Limit(v.a(0)); got != wallet.MaxAmount {
		t.Fatalf("limit %d", got)
	}
	v.do(v.p(0), wallet.Payment(v.a(1), wallet.MaxAmount, ""))
	if _, err := v.l.Build(v.a(0), wallet.Payment(v.a(1), 1, ""), v.tick()); !errors.Is(err, wallet.ErrOverLimit) {
		t.Fatalf("%v", err)
	}
	if s := sumBalances(v.l); s != 0 {
		t.Fatal(s)
	}
}

// A payer whose clock is ahead: the payee's receipt can carry an earlier
// time than the payment it refers to, and may arrive first.
func TestClockSkew(t *testing.T) {
	v := newVillage(t, 3, wallet.Config{})
	v.do(v.g, wallet.LimitGrant(v.a(0), 100, ""))
	pay := raw(t, v.p(0), wallet.Head{}, wallet.Payment(v.a(1), 40, ""), v.now+3_600_000) // an hour ahead
	v.add(pay)
	rc := v.do(v.p(1), wallet.Receipt(pay.ID))
	if rc.Time >= pay.Time {
		t.Fatal("no skew")
	}
	spend := v.do(v.p(1), wallet.Payment(v.a(2), 40, ""))
	for _, order := range [][]*event.Event{{v.events[0], rc, spend, pay}, {rc, v.events[0], pay, spend}, {spend, rc, pay, v.events[0]}} {
		l, _ := wallet.NewLedger(v.l.Config())
		for _, e := range order {
			l.Add(e)
		}
		if l.StateHash() != v.l.StateHash() || l.Balance(v.a(2)) != 40 {
			t.Fatalf("order: state differs, balance %d", l.Balance(v.a(2)))
		}
	}
}
