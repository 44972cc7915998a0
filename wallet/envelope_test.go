package wallet_test

import (
	"errors"
	"testing"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/wallet"
)

func TestRedEnvelope(t *testing.T) {
	v := newVillage(t, 5, wallet.Config{})
	v.do(v.g, wallet.LimitGrant(v.a(0), 1000, ""))
	seed := wallet.Seed{7}
	expiry := v.now + 60_000
	env := v.do(v.p(0), wallet.Envelope(100, 4, seed, expiry, "happy new year"))
	v.wantBalance(0, -100)
	escrow := wallet.Escrow(env.ID)
	if got := v.l.Balance(escrow); got != 100 {
		t.Fatalf("escrow %d", got)
	}
	if s := sumBalances(v.l); s != 0 {
		t.Fatal(s)
	}
	var claims []event.ID
	for i := 1; i <= 3; i++ {
		claims = append(claims, v.do(v.p(i), wallet.Claim(env.ID)).ID)
	}
	// The sender cannot claim its own envelope.
	if _, err := v.l.Build(v.a(0), wallet.Claim(env.ID), v.tick()); !errors.Is(err, wallet.ErrBadRef) {
		t.Fatalf("own claim: %v", err)
	}
	// Settling before expiry with a share unclaimed is refused.
	if _, err := v.l.Build(v.a(0), wallet.Settle(env.ID, seed, claims), v.tick()); !errors.Is(err, wallet.ErrSettleEarly) {
		t.Fatalf("early settle: %v", err)
	}
	// A wrong seed is refused.
	v.now = expiry
	if _, err := v.l.Build(v.a(0), wallet.Settle(env.ID, wallet.Seed{8}, claims), v.tick()); !errors.Is(err, wallet.ErrBadSeed) {
		t.Fatalf("wrong seed: %v", err)
	}
	// A late claim is void.
	if _, err := v.l.Build(v.a(4), wallet.Claim(env.ID), v.now+1); !errors.Is(err, wallet.ErrClaimLate) {
		t.Fatalf("late claim built: %v", err)
	}
	late := raw(t, v.p(4), wallet.Head{}, wallet.Entry{Type: wallet.TypeClaim, Ref: env.ID, Counterparty: v.a(0)}, v.now+1)
	v.add(late)
	v.wantStatus(late, wallet.StatusVoid, wallet.ErrClaimLate)
	if _, err := v.l.Build(v.a(0), wallet.Settle(env.ID, seed, append(claims, late.ID)), v.tick()); !errors.Is(err, wallet.ErrBadSettle) {
		t.Fatalf("settle with a late claim: %v", err)
	}
	// Claims in any order give the same settlement.
	rev := []event.ID{claims[2], claims[0], claims[1]}
	b1, err := v.l.Build(v.a(0), wallet.Settle(env.ID, seed, claims), v.now+1)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := v.l.Build(v.a(0), wallet.Settle(env.ID, seed, rev), v.now+1)
	if string(b1.Payload) != string(b2.Payload) {
		t.Fatal("settlement depends on the order of claims")
	}
	settle, _ := event.Sign(v.p(0), b1)
	v.add(settle)
	v.wantStatus(settle, wallet.StatusOK, nil)
	info, ok := v.l.Envelope(env.ID)
	if !ok || !info.Settled || info.Held != 0 || len(info.Shares) != 3 {
		t.Fatalf("envelope %+v", info)
	}
	shares, rem, _ := wallet.Assign(seed, 100, 4, claims)
	var sum uint64
	for i, s := range shares {
		if s < 1 || info.Shares[v.a(i+1)] != s {
			t.Fatalf("share %d: %d, info %d", i, s, info.Shares[v.a(i+1)])
		}
		v.wantBalance(i+1, int64(s))
		sum += s
	}
	if sum+rem != 100 || info.Returned != rem {
		t.Fatalf("shares %v + %d, returned %d", shares, rem, info.Returned)
	}
	v.wantBalance(0, -100+int64(rem))
	if s := sumBalances(v.l); s != 0 {
		t.Fatal(s)
	}
	// Settled once.
	if _, err := v.l.Build(v.a(0), wallet.Settle(env.ID, seed, nil), v.tick()); !errors.Is(err, wallet.ErrSettled) {
		t.Fatalf("second settle: %v", err)
	}
	// Claimants receipt their shares and can spend them.
	for i := 1; i <= 3; i++ {
		if u := v.l.Unreceipted(v.a(i)); len(u) != 1 || u[0] != settle.ID {
			t.Fatalf("unreceipted %v", u)
		}
		v.do(v.p(i), wallet.Receipt(settle.ID))
		if h := v.head(v.p(i)); h.Spendable != int64(shares[i-1]) {
			t.Fatalf("spendable %d", h.Spendable)
		}
	}
}

func TestEnvelopeReturnedAfterExpiry(t *testing.T) {
	v := newVillage(t, 2, wallet.Config{})
	v.do(v.g, wallet.LimitGrant(v.a(0), 50, ""))
	seed := wallet.Seed{9}
	env := v.do(v.p(0), wallet.Envelope(50, 5, seed, v.now+5000, ""))
	if _, err := v.l.Build(v.a(0), wallet.Payment(v.a(1), 1, ""), v.tick()); !errors.Is(err, wallet.ErrOverLimit) {
		t.Fatalf("the reserve counts against the limit: %v", err)
	}
	v.now += 10_000
	st := v.do(v.p(0), wallet.Settle(env.ID, seed, nil))
	if info, _ := v.l.Entry(st.ID); info.Entry.Amount != 50 {
		t.Fatalf("returned %d", info.Entry.Amount)
	}
	v.wantBalance(0, 0)
	if got := v.l.Balance(wallet.Escrow(env.ID)); got != 0 {
		t.Fatal(got)
	}
	if h := v.head(v.p(0)); h.Spendable != 0 || h.Balance != 0 {
		t.Fatalf("head %+v", h)
	}
	// A settlement that returns the wrong amount is void.
	v2 := newVillage(t, 2, wallet.Config{})
	v2.do(v2.g, wallet.LimitGrant(v2.a(0), 50, ""))
	env2 := v2.do(v2.p(0), wallet.Envelope(50, 5, seed, v2.now+5000, ""))
	v2.now += 10_000
	bad := raw(t, v2.p(0), v2.head(v2.p(0)), wallet.Entry{Type: wallet.TypeSettle, Ref: env2.ID, Seed: seed, Amount: 49}, v2.tick())
	v2.add(bad)
	v2.wantStatus(bad, wallet.StatusVoid, wallet.ErrBadSettle)
	v2.wantBalance(0, -50)
}
