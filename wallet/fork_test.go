package wallet_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
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

// TestManyEntriesAtOnePosition: an author may sign any number of entries
// for one position of its chain, or above one naming another prev. The
// proofs are the same in any order of arrival and name the entries of
// smallest ID (what every node picks), and each entry is compared with
// what the proof is made of rather than with every entry before it.
func TestManyEntriesAtOnePosition(t *testing.T) {
	const k = 300
	v := newVillage(t, 3, wallet.Config{})
	v.do(v.g, wallet.LimitGrant(v.a(0), 1_000_000, ""))
	v.do(v.g, wallet.LimitGrant(v.a(1), 1_000_000, ""))
	base := slices.Clone(v.events)
	// Person 0: k entries at its first position.
	h0 := v.head(v.p(0))
	var fork []*event.Event
	for i := range k {
		fork = append(fork, raw(t, v.p(0), h0, wallet.Payment(v.a(2), 1, fmt.Sprint("twin ", i)), v.tick()))
	}
	// Person 1: one entry, then k above it that name a prev never written.
	first := raw(t, v.p(1), v.head(v.p(1)), wallet.Payment(v.a(2), 1, "first"), v.tick())
	fork = append(fork, first)
	var broken []*event.Event
	for i := range k {
		h := headOf(t, first)
		h.ID[0] ^= byte(1 + i%255)
		h.ID[1] ^= byte(i / 255)
		broken = append(broken, raw(t, v.p(1), h, wallet.Payment(v.a(2), 1, fmt.Sprint("broken ", i)), v.tick()))
	}
	fork = append(fork, broken...)

	smallestIDs := func(evs []*event.Event) []event.ID {
		ids := make([]event.ID, 0, len(evs))
		for _, e := range evs {
			ids = append(ids, e.ID)
		}
		slices.SortFunc(ids, func(a, b event.ID) int { return bytes.Compare(a[:], b[:]) })
		return ids
	}
	twins, above := smallestIDs(fork[:k]), smallestIDs(broken)

	var want snapshot
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 3 {
		order := slices.Clone(fork)
		if round > 0 {
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		l, _ := wallet.NewLedger(v.l.Config())
		for _, e := range append(slices.Clone(base), order...) {
			if _, err := l.Add(e); err != nil {
				t.Fatal(err)
			}
		}
		if !l.Frozen(v.a(0)) || !l.Frozen(v.a(1)) {
			t.Fatalf("round %d: both authors forked, frozen %v", round, l.FrozenAccounts())
		}
		var sameSeq, link bool
		for _, p := range l.FraudProofs() {
			a, b, err := p.Events()
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case a.Seq == b.Seq:
				// Person 1's entries above the first are at one
				// position too.
				want := twins
				if p.Author() == v.a(1) {
					want = above
				} else {
					sameSeq = true
				}
				if got := []event.ID{a.ID, b.ID}; !slices.Contains(got, want[0]) || !slices.Contains(got, want[1]) {
					t.Errorf("round %d: the same-position proof is not of the two smallest IDs", round)
				}
			default:
				link = true
				if a.ID != first.ID || b.ID != above[0] {
					t.Errorf("round %d: the broken-link proof is not of the entry below and the smallest ID above", round)
				}
			}
		}
		if !sameSeq || !link {
			t.Fatalf("round %d: proofs of the same position %t, of the broken link %t", round, sameSeq, link)
		}
		got := snap(l)
		if round == 0 {
			want = got
		} else if !got.equal(want) {
			t.Fatalf("round %d: another state than in the order of writing", round)
		}
	}
}
