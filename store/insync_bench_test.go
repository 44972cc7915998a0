package store_test

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"testing"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh/reconcile"
	"github.com/banyan-mesh/banyan/store"
)

// itemsSet is a scope of a store as sync reads it without sums.
type itemsSet struct {
	s     *store.Store
	scope event.Scope
}

func boundBytes(b reconcile.Bound) []byte {
	if b.Inf {
		return nil
	}
	return append(binary.BigEndian.AppendUint64(nil, b.Time), b.Prefix...)
}

func (x itemsSet) Items(lo, hi reconcile.Bound) ([]reconcile.Item, error) {
	if lo.Inf {
		return nil, nil
	}
	var out []reconcile.Item
	err := x.s.ScopeItems(x.scope, boundBytes(lo), boundBytes(hi), func(t uint64, id event.ID) {
		out = append(out, reconcile.Item{Time: t, ID: id})
	})
	return out, err
}

// summedSet reads the store's sums as well, as the engine's sync does.
type summedSet struct{ itemsSet }

func (x summedSet) Below(b reconcile.Bound) (reconcile.Sum, bool, error) {
	sum, ok, err := x.s.SumBelow(x.scope, boundBytes(b))
	return reconcile.Sum(sum), ok, err
}

func (x summedSet) At(r uint64) (prev, it reconcile.Item, below reconcile.Sum, ok bool, err error) {
	p, k, sum, ok, err := x.s.SumAt(x.scope, r)
	return reconcile.Item(p), reconcile.Item(k), reconcile.Sum(sum), ok, err
}

// BenchmarkInSyncRound runs the reconciliation of a sync between two
// nodes that hold the same scope (one store plays both): the initiator's
// first message and the answer, which ends it.
func BenchmarkInSyncRound(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		s := openAt(b, b.TempDir())
		src := newEventSource(b)
		var evs []*event.Event
		for range n {
			evs = append(evs, src.next())
		}
		if _, err := s.PutEvents(evs, store.PutOptions{}); err != nil {
			b.Fatal(err)
		}
		scope := evs[0].ScopeID()
		for _, tc := range []struct {
			name string
			set  reconcile.Set
		}{{"items", itemsSet{s, scope}}, {"sums", summedSet{itemsSet{s, scope}}}} {
			b.Run(fmt.Sprintf("%d/%s", n, tc.name), func(b *testing.B) {
				for b.Loop() {
					msg, err := reconcile.Start(tc.set, reconcile.Bound{})
					if err != nil {
						b.Fatal(err)
					}
					res, err := reconcile.Process(tc.set, reconcile.Bound{}, msg)
					if err != nil || res.Reply != nil || len(res.Have)+len(res.Need) > 0 {
						b.Fatalf("in-sync round: reply %d ranges, %d have, %d need, err %v", len(res.Reply), len(res.Have), len(res.Need), err)
					}
				}
			})
		}
		s.Close()
	}
}

// countingSet counts the reads of whole ranges of items.
type countingSet struct {
	reconcile.Set
	reads *int
}

func (c countingSet) Items(lo, hi reconcile.Bound) ([]reconcile.Item, error) {
	*c.reads++
	return c.Set.Items(lo, hi)
}

type countingSummed struct {
	countingSet
	sums summedSet
}

func (c countingSummed) Below(b reconcile.Bound) (reconcile.Sum, bool, error) { return c.sums.Below(b) }
func (c countingSummed) At(r uint64) (reconcile.Item, reconcile.Item, reconcile.Sum, bool, error) {
	return c.sums.At(r)
}

// Two stores' scopes reconcile from their sums with the messages their
// items give; in sync, without reading a range of items.
func TestSumsReconcileStores(t *testing.T) {
	a, _ := openTemp(t)
	b, _ := openTemp(t)
	scope := randomScope(t)
	authors := []*author{newAuthor(t, scope), newAuthor(t, scope)}
	var common, extra []*event.Event
	for i := range 10000 {
		common = append(common, authors[i%2].next(1_750_000_000_000+int64(i/3), "c"))
	}
	for i := range 7 {
		extra = append(extra, authors[i%2].next(1_750_000_000_000+int64(i*1000), "e"))
	}
	for _, s := range []*store.Store{a, b} {
		if _, err := s.PutEvents(common, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	exchange := func(x, y reconcile.Set) (msgs [][]reconcile.Range, found int) {
		msg, err := reconcile.Start(x, reconcile.Bound{})
		if err != nil {
			t.Fatal(err)
		}
		sides := []reconcile.Set{y, x}
		for turn := 0; msg != nil; turn++ {
			if turn > 50 {
				t.Fatal("reconciliation does not end")
			}
			msgs = append(msgs, msg)
			res, err := reconcile.Process(sides[turn%2], reconcile.Bound{}, msg)
			if err != nil {
				t.Fatal(err)
			}
			found += len(res.Have) + len(res.Need)
			msg = res.Reply
		}
		return msgs, found
	}
	for round := range 2 {
		var reads int
		sa := countingSummed{countingSet{itemsSet{a, scope}, &reads}, summedSet{itemsSet{a, scope}}}
		sb := countingSummed{countingSet{itemsSet{b, scope}, &reads}, summedSet{itemsSet{b, scope}}}
		want, wantFound := exchange(itemsSet{a, scope}, itemsSet{b, scope})
		got, gotFound := exchange(sa, sb)
		if !reflect.DeepEqual(got, want) || gotFound != wantFound {
			t.Fatalf("round %d: %d messages finding %d from the sums, %d finding %d from the items", round, len(got), gotFound, len(want), wantFound)
		}
		if round == 0 && (len(got) != 1 || reads != 0) {
			t.Fatalf("in sync: %d messages and %d reads of items", len(got), reads)
		}
		if round == 1 && gotFound < len(extra) {
			t.Fatalf("found %d differences, want at least %d", gotFound, len(extra))
		}
		// Events stored after the sums were built change them.
		if _, err := b.PutEvents(extra, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}
