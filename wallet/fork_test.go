package wallet_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/wallet"
)

// copiedDevice makes person 0 spend the same balance twice: after a shared
// history, one copy pays person 1 and the other pays person 2, and each
// copy goes on paying. It returns the two branches.
func copiedDevice(t testing.TB, v *village) (a, b []*event.Event) {
	t.Helper()
	v.do(v.g, wallet.LimitGrant(v.a(0), 100, ""))
	v.do(v.p(0), wallet.Payment(v.a(3), 10, "before the copy"))
	h := v.head(v.p(0))
	a = append(a, raw(t, v.p(0), h, wallet.Payment(v.a(1), 80, "copy A"), v.tick()))
	a = append(a, raw(t, v.p(0), headOf(t, a[0]), wallet.Payment(v.a(1), 10, "copy A again"), v.tick()))
	b = append(b, raw(t, v.p(0), h, wallet.Payment(v.a(2), 85, "copy B"), v.tick()))
	b = append(b, raw(t, v.p(0), headOf(t, b[0]), wallet.Payment(v.a(4), 5, "copy B again"), v.tick()))
	return a, b
}

func TestForkDetectedAndFrozen(t *testing.T) {
	v := newVillage(t, 5, wallet.Config{})
	a, b := copiedDevice(t, v)
	// Node A holds branch A: a valid chain, accepted.
	v.add(a[0])
	v.add(a[1])
	if v.l.Frozen(v.a(0)) {
		t.Fatal("frozen before the fork is known")
	}
	// The payee of branch B checks it before the fork reaches it...
	if err := v.l.CheckPayment(b[0], v.a(2), wallet.Policy{}); !errors.Is(err, wallet.ErrFork) {
		t.Fatalf("check of a conflicting payment: %v", err)
	}
	// ... and the fork becomes known.
	res, err := v.l.Add(b[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Proofs) != 1 {
		t.Fatalf("proofs from Add: %d", len(res.Proofs))
	}
	v.add(b[1])
	if !v.l.Frozen(v.a(0)) {
		t.Fatal("not frozen")
	}
	if got := v.l.FrozenAccounts(); len(got) != 1 || got[0] != v.a(0) {
		t.Fatalf("frozen %v", got)
	}
	// The proof verifies alone, after a round trip.
	p := res.Proofs[0]
	q, err := wallet.DecodeFraudProof(p.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if q.Author() != v.a(0) {
		t.Fatal("proof author")
	}
	// Both branches remain recorded debts; the excess is the shortfall.
	for _, e := range append(a, b...) {
		v.wantStatus(e, wallet.StatusOK, nil)
	}
	v.wantBalance(0, -10-80-10-85-5)
	v.wantBalance(1, 90)
	v.wantBalance(2, 85)
	if s := sumBalances(v.l); s != 0 {
		t.Fatal(s)
	}
	r, ok := v.l.ForkReport(v.a(0))
	if !ok || r.Seq != 2 || len(r.Proofs) != 2 || r.Shortfall != 90 || r.Limit != 100 {
		t.Fatalf("report %+v", r)
	}
	if len(r.Affected) != 3 || r.Affected[0].Amount != 90 || r.Affected[2].Account != v.a(4) || r.Affected[2].Amount != 5 {
		t.Fatalf("affected %+v", r.Affected)
	}
	// Frozen: no new entry is built or accepted.
	if _, err := v.l.Build(v.a(0), wallet.Payment(v.a(1), 1, ""), v.tick()); !errors.Is(err, wallet.ErrFrozen) {
		t.Fatalf("build: %v", err)
	}
	next := raw(t, v.p(0), headOf(t, a[1]), wallet.Payment(v.a(1), 1, ""), v.tick())
	if err := v.l.CheckPayment(next, v.a(1), wallet.Policy{}); !errors.Is(err, wallet.ErrFrozen) {
		t.Fatalf("check: %v", err)
	}
	if _, ok := v.l.ForkReport(v.a(1)); ok {
		t.Fatal("report for an honest account")
	}
}

// A fork whose other branch is withheld is still proven, by the broken
// link from the entry held to the next one.
func TestForkByBrokenLink(t *testing.T) {
	v := newVillage(t, 5, wallet.Config{})
	a, b := copiedDevice(t, v)
	v.add(a[0])
	v.add(b[1]) // b[0] withheld
	if !v.l.Frozen(v.a(0)) {
		t.Fatal("not frozen")
	}
	ps := v.l.FraudProofs()
	if len(ps) != 1 {
		t.Fatalf("%d proofs", len(ps))
	}
	x, y, err := ps[0].Events()
	if err != nil || x.ID != a[0].ID || y.ID != b[1].ID {
		t.Fatalf("proof %v %v %v", x, y, err)
	}
	// When b[0] arrives the proof is the same-position one.
	v.add(b[0])
	ps = v.l.FraudProofs()
	if len(ps) != 1 {
		t.Fatalf("%d proofs", len(ps))
	}
	x, y, _ = ps[0].Events()
	if x.Seq != y.Seq || x.Seq != 2 {
		t.Fatalf("proof at %d/%d", x.Seq, y.Seq)
	}
}

func TestFraudProofVerify(t *testing.T) {
	v := newVillage(t, 5, wallet.Config{})
	a, b := copiedDevice(t, v)
	good, err := wallet.NewFraudProof(b[0], a[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := good.Verify(); err != nil {
		t.Fatal(err)
	}
	link, err := wallet.NewFraudProof(b[1], a[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := link.Verify(); err != nil {
		t.Fatal(err)
	}
	other := raw(t, v.p(1), wallet.Head{}, wallet.LimitGrant(v.a(2), 1, ""), v.tick())
	tampered := bytes.Clone(a[0].Raw)
	tampered[5] ^= 1
	cases := []struct {
		name string
		p    wallet.FraudProof
	}{
		{"same entry", wallet.FraudProof{A: a[0].Raw, B: a[0].Raw}},
		{"linked entries", wallet.FraudProof{A: a[0].Raw, B: a[1].Raw}},
		{"not canonical order", wallet.FraudProof{A: good.B, B: good.A}},
		{"different authors", wallet.FraudProof{A: a[0].Raw, B: other.Raw}},
		{"far apart", wallet.FraudProof{A: v.events[1].Raw, B: a[1].Raw}},
		{"bad signature", wallet.FraudProof{A: tampered, B: b[0].Raw}},
		{"empty", wallet.FraudProof{}},
	}
	for _, c := range cases {
		if err := c.p.Verify(); !errors.Is(err, wallet.ErrBadProof) {
			t.Errorf("%s: %v", c.name, err)
		}
		if _, err := wallet.DecodeFraudProof(c.p.Encode()); err == nil {
			t.Errorf("%s: decoded", c.name)
		}
	}
	if _, err := wallet.NewFraudProof(a[0], a[1]); err == nil {
		t.Error("proof of a valid chain")
	}
}
