package wallet_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/wallet"
)

// TestAddAllMatchesAdd loads random histories, forks and broken chains
// included, with AddAll (all at once, or in batches between which single
// Adds arrive, in shuffled orders with duplicates) and checks that the
// state equals adding the events one by one.
func TestAddAllMatchesAdd(t *testing.T) {
	type history struct {
		cfg wallet.Config
		evs []*event.Event
	}
	var hs []history
	forks := 0
	for seed := range uint64(4) {
		s := runSim(t, 300+seed, 6, 400)
		hs = append(hs, history{s.v.l.Config(), s.v.events})
		forks += len(s.v.l.FrozenAccounts())
		f := runForkSim(t, 400+seed, 6, 300)
		hs = append(hs, history{f.v.l.Config(), f.v.events})
		forks += len(f.v.l.FrozenAccounts())
	}
	if forks == 0 {
		t.Fatal("no history forks")
	}
	rng := newSim(t, 1, 2).rng
	for i, h := range hs {
		want := snap(ledgerOf(t, h.cfg, h.evs))
		perm := slices.Clone(h.evs)
		rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		perm = append(perm, perm[:len(perm)/10]...)
		for name, order := range map[string][]*event.Event{"in order": h.evs, "shuffled": perm} {
			l, _ := wallet.NewLedger(h.cfg)
			n, err := l.AddAll(slices.Values(order))
			if err != nil || n != len(h.evs) || l.Len() != len(h.evs) {
				t.Fatalf("history %d %s: AddAll added %d of %d: %v", i, name, n, len(h.evs), err)
			}
			if !snap(l).equal(want) {
				t.Fatalf("history %d %s: AddAll gives another state than Add one by one", i, name)
			}
			l, _ = wallet.NewLedger(h.cfg)
			for k := 0; k < len(order); k += 97 {
				batch := order[k:min(k+97, len(order))]
				if _, err := l.AddAll(slices.Values(batch[1:])); err != nil {
					t.Fatal(err)
				}
				if _, err := l.Add(batch[0]); err != nil {
					t.Fatal(err)
				}
			}
			if !snap(l).equal(want) {
				t.Fatalf("history %d %s: batches and Adds give another state than Add one by one", i, name)
			}
		}
	}
}

// AddAll rejects what Add rejects, and keeps the rest.
func TestAddAllRejects(t *testing.T) {
	v := newVillage(t, 2, wallet.Config{})
	v.do(v.g, wallet.LimitGrant(v.a(0), 100, ""))
	v.do(v.p(0), wallet.Payment(v.a(1), 30, ""))
	other := newVillage(t, 1, wallet.Config{})
	other.l, _ = wallet.NewLedger(wallet.Config{Unit: "other", Guarantors: []wallet.Account{acct(other.g)}})
	l, _ := wallet.NewLedger(v.l.Config())
	foreign, err := other.l.BuildSigned(other.g, wallet.LimitGrant(v.a(1), 5, ""), t0)
	if err != nil {
		t.Fatal(err)
	}
	n, err := l.AddAll(slices.Values(append(slices.Clone(v.events), foreign)))
	if n != 2 || !errors.Is(err, wallet.ErrWrongScope) {
		t.Fatalf("AddAll = %d, %v; want 2 and a wrong-scope error", n, err)
	}
	if l.StateHash() != v.l.StateHash() {
		t.Fatal("AddAll with a rejected event gives another state")
	}
}

// A held ledger answers nothing until its load has run: a query made
// while the load reads its events sees all of them.
func TestHoldWaitsForLoad(t *testing.T) {
	s := runSim(t, 7, 4, 200)
	l, _ := wallet.NewLedger(s.v.l.Config())
	load := l.Hold()
	asking := make(chan struct{})
	got := make(chan int)
	go func() {
		close(asking)
		got <- l.Len()
	}()
	evs := func(yield func(*event.Event) bool) {
		<-asking
		for _, e := range s.v.events {
			if !yield(e) {
				return
			}
		}
	}
	if n, err := load(evs); err != nil || n != len(s.v.events) {
		t.Fatalf("load added %d of %d: %v", n, len(s.v.events), err)
	}
	if n := <-got; n != len(s.v.events) {
		t.Fatalf("Len during the load = %d, want %d: a query saw a half-loaded ledger", n, len(s.v.events))
	}
	if l.StateHash() != s.v.l.StateHash() {
		t.Fatal("a held load gives another state than Add one by one")
	}
}

// heldEvents is an Events that holds every event given to it, as the store
// does.
type heldEvents map[event.ID]*event.Event

func (h heldEvents) Event(id event.ID) (*event.Event, error) {
	if e, ok := h[id]; ok {
		return e, nil
	}
	return nil, errors.New("not held")
}

// A ledger that reads its events back (Config.Events) keeps none of them,
// and has the state, the fraud proofs and the events of one that keeps
// them all.
func TestLedgerReadsEventsBack(t *testing.T) {
	for seed := range uint64(3) {
		s := runForkSim(t, 500+seed, 6, 300)
		want := snap(s.v.l)
		if len(want.proofs) == 0 {
			t.Fatalf("seed %d: no fork", seed)
		}
		held := heldEvents{}
		for _, e := range s.v.events {
			held[e.ID] = e
		}
		cfg := s.v.l.Config()
		cfg.Events = held
		one, _ := wallet.NewLedger(cfg)
		for _, e := range s.v.events {
			if _, err := one.Add(e); err != nil {
				t.Fatal(err)
			}
		}
		all, _ := wallet.NewLedger(cfg)
		if _, err := all.AddAll(slices.Values(reversed(s.v.events))); err != nil {
			t.Fatal(err)
		}
		for name, l := range map[string]*wallet.Ledger{"Add": one, "AddAll": all} {
			if !snap(l).equal(want) {
				t.Fatalf("seed %d %s: reading events back gives another state", seed, name)
			}
			for _, p := range l.FraudProofs() {
				if err := p.Verify(); err != nil {
					t.Fatalf("seed %d %s: proof: %v", seed, name, err)
				}
			}
			e := s.v.events[len(s.v.events)/2]
			if got, ok := l.Event(e.ID); !ok || !bytes.Equal(got.Raw, e.Raw) {
				t.Fatalf("seed %d %s: Event(%s) = %v", seed, name, e.ID, ok)
			}
		}
	}
}
