package wallet_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/wallet"
)

const (
	testUnit = "hours"
	t0       = int64(1_750_000_000_000)
)

// ident returns a reproducible identity whose seed is 32 copies of b.
func ident(t testing.TB, b byte) *crypto.Identity {
	t.Helper()
	id, err := crypto.IdentityFromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func acct(id *crypto.Identity) wallet.Account {
	a, err := wallet.AccountOf(id.PublicKey())
	if err != nil {
		panic(err)
	}
	return a
}

// village is a ledger with a guarantor and a few people, and a clock.
type village struct {
	t      testing.TB
	l      *wallet.Ledger
	g      *crypto.Identity // the guarantor
	people []*crypto.Identity
	now    int64
	events []*event.Event
}

func newVillage(t testing.TB, people int, cfg wallet.Config) *village {
	t.Helper()
	v := &village{t: t, g: ident(t, 0xa0), now: t0}
	for i := range people {
		v.people = append(v.people, ident(t, byte(i+1)))
	}
	cfg.Unit = testUnit
	cfg.Guarantors = append(cfg.Guarantors, acct(v.g))
	l, err := wallet.NewLedger(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v.l = l
	return v
}

func (v *village) p(i int) *crypto.Identity { return v.people[i] }
func (v *village) a(i int) wallet.Account   { return acct(v.people[i]) }

func (v *village) tick() int64 { v.now += 1000; return v.now }

// do builds, signs and adds id's entry, failing the test on error.
func (v *village) do(id *crypto.Identity, en wallet.Entry) *event.Event {
	v.t.Helper()
	e, err := v.l.BuildSigned(id, en, v.tick())
	if err != nil {
		v.t.Fatalf("build %s: %v", en.Type, err)
	}
	v.add(e)
	return e
}

// add adds e after a round trip through event.Decode.
func (v *village) add(e *event.Event) {
	v.t.Helper()
	d, err := event.Decode(e.Raw)
	if err != nil {
		v.t.Fatalf("decode: %v", err)
	}
	if _, err := v.l.Add(d); err != nil {
		v.t.Fatalf("add: %v", err)
	}
	v.events = append(v.events, d)
}

// raw signs en on top of h without the ledger's checks (only the form of
// the entry is checked), as a buggy or malicious client could.
func raw(t testing.TB, id *crypto.Identity, h wallet.Head, en wallet.Entry, now int64) *event.Event {
	t.Helper()
	h.Owner = acct(id)
	b, err := h.Next(testUnit, en, now)
	if err != nil {
		t.Fatalf("next: %v", err)
	}
	e, err := event.Sign(id, b)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// headOf returns the head an event leaves its chain at.
func headOf(t testing.TB, e *event.Event) wallet.Head {
	t.Helper()
	en, err := wallet.CheckEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := wallet.AccountOf(e.Author)
	return wallet.Head{Owner: a, Seq: e.Seq, ID: e.ID, Balance: en.Balance, Time: e.Time}
}

func (v *village) head(id *crypto.Identity) wallet.Head {
	v.t.Helper()
	h, err := v.l.Head(acct(id))
	if err != nil {
		v.t.Fatalf("head: %v", err)
	}
	return h
}

func (v *village) status(e *event.Event) (wallet.Status, error) {
	v.t.Helper()
	info, ok := v.l.Entry(e.ID)
	if !ok {
		v.t.Fatalf("entry %s not held", e.ID)
	}
	return info.Status, info.Reason
}

func (v *village) wantStatus(e *event.Event, want wallet.Status, reason error) {
	v.t.Helper()
	st, r := v.status(e)
	if st != want {
		v.t.Fatalf("entry %d of %x: status %s (%v), want %s", e.Seq, e.Author[:4], st, r, want)
	}
	if reason != nil && !errors.Is(r, reason) {
		v.t.Fatalf("entry %d: reason %v, want %v", e.Seq, r, reason)
	}
}

func (v *village) wantBalance(i int, want int64) {
	v.t.Helper()
	if got := v.l.Balance(v.a(i)); got != want {
		v.t.Fatalf("balance of person %d = %d, want %d", i, got, want)
	}
}

func sumBalances(l *wallet.Ledger) int64 {
	var s int64
	for _, b := range l.Balances() {
		s += b
	}
	return s
}
