package wallet_test

import (
	"errors"
	"testing"

	"github.com/banyan-mesh/banyan/wallet"
)

func TestCheckPayment(t *testing.T) {
	v := newVillage(t, 4, wallet.Config{OfflineCap: 30})
	payer, payee, member, stranger := 0, 1, 2, 3
	v.do(v.g, wallet.LimitGrant(v.a(payer), 200, ""))
	v.do(v.g, wallet.LimitGrant(v.a(member), 1, ""))
	check := func(amount uint64, pol wallet.Policy) error {
		t.Helper()
		e := raw(t, v.p(payer), v.head(v.p(payer)), wallet.Payment(v.a(payee), amount, ""), v.tick())
		return v.l.CheckPayment(e, v.a(payee), pol)
	}

	// No spending yet: nothing unconfirmed, only the limit applies.
	if err := check(150, wallet.Policy{}); err != nil {
		t.Fatalf("first payment: %v", err)
	}
	if err := check(201, wallet.Policy{}); !errors.Is(err, wallet.ErrOverLimit) {
		t.Fatalf("over limit: %v", err)
	}
	// Spending receipted by a stranger (no limit: could be a made-up key)
	// is unconfirmed.
	p := v.do(v.p(payer), wallet.Payment(v.a(stranger), 20, ""))
	v.do(v.p(stranger), wallet.Receipt(p.ID))
	if err := check(15, wallet.Policy{}); !errors.Is(err, wallet.ErrOfflineCap) {
		t.Fatalf("20 + 15 unconfirmed: %v", err)
	}
	if err := check(10, wallet.Policy{}); err != nil {
		t.Fatalf("20 + 10 unconfirmed: %v", err)
	}
	// A member's receipt confirms the payer's chain up to it.
	p = v.do(v.p(payer), wallet.Payment(v.a(member), 5, ""))
	if err := check(100, wallet.Policy{}); !errors.Is(err, wallet.ErrOfflineCap) {
		t.Fatalf("before the member's receipt: %v", err)
	}
	v.do(v.p(member), wallet.Receipt(p.ID))
	if err := check(100, wallet.Policy{}); err != nil {
		t.Fatalf("confirmed: %v", err)
	}
	// New unconfirmed spending, and the payee's own caps for this payer.
	v.do(v.p(payer), wallet.Payment(v.a(payee), 3, ""))
	if err := check(10, wallet.Policy{Caps: map[wallet.Account]uint64{v.a(payer): 12}}); !errors.Is(err, wallet.ErrPayerCap) {
		t.Fatalf("3 + 10 to payee, cap 12: %v", err)
	}
	if err := check(9, wallet.Policy{Caps: map[wallet.Account]uint64{v.a(payer): 12}}); err != nil {
		t.Fatalf("3 + 9 to payee, cap 12: %v", err)
	}
	if err := check(9, wallet.Policy{DefaultCap: 11}); !errors.Is(err, wallet.ErrPayerCap) {
		t.Fatalf("default cap: %v", err)
	}
	if err := check(9, wallet.Policy{DefaultCap: 11, Caps: map[wallet.Account]uint64{v.a(stranger): 0}}); !errors.Is(err, wallet.ErrPayerCap) {
		t.Fatalf("default cap with other caps: %v", err)
	}

	// Structure.
	h := v.head(v.p(payer))
	e1 := raw(t, v.p(payer), h, wallet.Payment(v.a(payee), 1, ""), v.tick())
	e2 := raw(t, v.p(payer), headOf(t, e1), wallet.Payment(v.a(payee), 1, ""), v.tick())
	if err := v.l.CheckPayment(e2, v.a(payee), wallet.Policy{}); !errors.Is(err, wallet.ErrGap) {
		t.Fatalf("gap: %v", err)
	}
	if err := v.l.CheckPayment(e1, v.a(member), wallet.Policy{}); !errors.Is(err, wallet.ErrNotPayee) {
		t.Fatalf("not payee: %v", err)
	}
	grant := raw(t, v.g, v.head(v.g), wallet.LimitGrant(v.a(payee), 1, ""), v.tick())
	if err := v.l.CheckPayment(grant, v.a(payee), wallet.Policy{}); !errors.Is(err, wallet.ErrNotPayment) {
		t.Fatalf("not a payment: %v", err)
	}
	// A held payment is checked as held.
	v.add(e1)
	if err := v.l.CheckPayment(e1, v.a(payee), wallet.Policy{}); err != nil {
		t.Fatalf("held: %v", err)
	}
	v.add(e2)
	if err := v.l.CheckPayment(e2, v.a(payee), wallet.Policy{}); err != nil {
		t.Fatalf("held after gap filled: %v", err)
	}
	void := raw(t, v.p(payer), v.head(v.p(payer)), wallet.Payment(v.a(payee), 1000, ""), v.tick())
	v.add(void)
	if err := v.l.CheckPayment(void, v.a(payee), wallet.Policy{}); !errors.Is(err, wallet.ErrOverLimit) {
		t.Fatalf("held void: %v", err)
	}
	// Wrong balance.
	bad := v.head(v.p(payer))
	bad.Balance++
	if err := v.l.CheckPayment(raw(t, v.p(payer), bad, wallet.Payment(v.a(payee), 1, ""), v.tick()), v.a(payee), wallet.Policy{}); !errors.Is(err, wallet.ErrChainBroken) {
		t.Fatalf("wrong balance: %v", err)
	}
	// Another unit.
	other, _ := wallet.NewLedger(wallet.Config{Unit: "other"})
	if err := other.CheckPayment(e1, v.a(payee), wallet.Policy{}); !errors.Is(err, wallet.ErrWrongScope) {
		t.Fatalf("other unit: %v", err)
	}
}
