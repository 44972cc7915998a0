package store_test

import (
	"encoding/binary"
	"fmt"
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
