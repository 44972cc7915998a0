package store_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/store"
)

// plainItems reads a scope's history keys.
func plainItems(t *testing.T, s *store.Store, scope event.Scope) []store.SortKey {
	t.Helper()
	var out []store.SortKey
	if err := s.ScopeItems(scope, nil, nil, func(st uint64, id event.ID) { out = append(out, store.SortKey{Time: st, ID: id}) }); err != nil {
		t.Fatal(err)
	}
	return out
}

func sumOf(items []store.SortKey) store.ItemSum {
	var s store.ItemSum
	for _, it := range items {
		var c uint64
		for w := range 4 {
			s.Acc[w], c = bits.Add64(s.Acc[w], binary.LittleEndian.Uint64(it.ID[w*8:]), c)
		}
		s.Count++
	}
	return s
}

func sortKeyBytes(k store.SortKey) []byte {
	return append(binary.BigEndian.AppendUint64(nil, k.Time), k.ID[:]...)
}

// checkSums compares the sums with what the keys add up to, below bounds
// near the keys and at random positions.
func checkSums(t *testing.T, rng *rand.Rand, s *store.Store, scope event.Scope) {
	t.Helper()
	items := plainItems(t, s, scope)
	got, ok, err := s.SumBelow(scope, nil)
	if err != nil || !ok {
		t.Fatalf("SumBelow(end): ok %v, err %v", ok, err)
	}
	if want := sumOf(items); got != want {
		t.Fatalf("sum of the scope: %d keys, want %d (or the IDs differ)", got.Count, want.Count)
	}
	for range 20 {
		var b []byte
		if len(items) == 0 || rng.IntN(5) == 0 {
			b = binary.BigEndian.AppendUint64(nil, uint64(rng.IntN(3000)))
		} else {
			it := items[rng.IntN(len(items))]
			b = binary.BigEndian.AppendUint64(nil, it.Time+uint64(rng.IntN(3))-1)
			b = append(b, it.ID[:rng.IntN(event.IDSize+1)]...)
			if n := len(b); n > 8 && rng.IntN(2) == 0 {
				b[n-1] += byte(rng.IntN(3)) - 1
			}
		}
		n := 0
		for n < len(items) && bytes.Compare(sortKeyBytes(items[n]), b) < 0 {
			n++
		}
		got, ok, err := s.SumBelow(scope, b)
		if err != nil || !ok {
			t.Fatalf("SumBelow(%x): ok %v, err %v", b, ok, err)
		}
		if want := sumOf(items[:n]); got != want {
			t.Fatalf("SumBelow(%x) = %d keys, want %d", b, got.Count, want.Count)
		}
	}
	for range 20 {
		if len(items) < 2 {
			break
		}
		r := uint64(1 + rng.IntN(len(items)-1))
		prev, at, below, ok, err := s.SumAt(scope, r)
		if err != nil || !ok {
			t.Fatalf("SumAt(%d) of %d: ok %v, err %v", r, len(items), ok, err)
		}
		if prev != items[r-1] || at != items[r] || below != sumOf(items[:r]) {
			t.Fatalf("SumAt(%d) differs from the keys", r)
		}
	}
	if _, _, _, ok, _ := s.SumAt(scope, uint64(len(items))); ok {
		t.Fatal("SumAt past the last key answered")
	}
}

// The sums equal what the keys add up to, through puts, forgets, ghosts,
// evictions and pruning, with blocks small enough to be cut and merged
// all the time.
func TestSumsProperty(t *testing.T) {
	for _, block := range []uint64{1, 3, 16} {
		t.Run(fmt.Sprintf("block%d", block), func(t *testing.T) {
			defer store.SetSumBlock(block)()
			s, _ := openTemp(t)
			rng := rand.New(rand.NewPCG(block, 99))
			scope, other := randomScope(t), randomScope(t)
			authors := []*author{newAuthor(t, scope), newAuthor(t, scope), newAuthor(t, scope)}
			elsewhere := newAuthor(t, other)
			var stored []*event.Event
			floor := int64(0)
			for step := range 120 {
				switch op := rng.IntN(10); {
				case op < 6:
					var evs []*event.Event
					for range 1 + rng.IntN(25) {
						e := authors[rng.IntN(len(authors))].next(floor+int64(rng.IntN(200)), "x")
						evs = append(evs, e)
					}
					if rng.IntN(4) == 0 {
						evs = append(evs, evs[0]) // a duplicate is not added twice
					}
					src := store.PutOptions{Source: peer.ID("peer-" + fmt.Sprint(rng.IntN(2)))}
					if _, err := s.PutEvents(evs, src); err != nil {
						t.Fatal(err)
					}
					stored = append(stored, evs...)
					mustPut(t, s, elsewhere.next(int64(rng.IntN(200)), "y"), store.PutOptions{})
				case op < 7 && len(stored) > 0:
					// Forget stored events, one twice, and one never stored.
					var at []store.Cursor
					for range 1 + rng.IntN(3) {
						at = append(at, store.CursorOf(stored[rng.IntN(len(stored))]))
					}
					at = append(at, at[0], store.Cursor{Time: floor + int64(rng.IntN(200)), ID: event.ID(randomScope(t))})
					if err := s.Forget(scope, at); err != nil {
						t.Fatal(err)
					}
				case op < 8:
					total, err := s.ScopeBytes(scope)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := s.EvictFairly(scope, total*3/4); err != nil {
						t.Fatal(err)
					}
				case op < 9:
					floor += int64(rng.IntN(40))
					if _, _, err := s.Prune(scope, floor, 0); err != nil {
						t.Fatal(err)
					}
				default:
					// Sums dropped and built again, as after an idle spell.
					s.DropSums()
				}
				if step%3 == 0 || step > 100 {
					checkSums(t, rng, s, scope)
				}
			}
			checkSums(t, rng, s, other)
			if s.SumScopes() != 2 {
				t.Fatalf("%d scopes keep sums, want 2", s.SumScopes())
			}
		})
	}
}

// Writes while syncs read the sums leave them exact once the writes are
// done.
func TestSumsConcurrentWrites(t *testing.T) {
	defer store.SetSumBlock(8)()
	s, _ := openTemp(t)
	scope := randomScope(t)
	a := newAuthor(t, scope)
	var evs []*event.Event
	for i := range 3000 {
		evs = append(evs, a.next(int64(i*7919%1000), "z"))
	}
	if _, err := s.PutEvents(evs[:500], store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := 500; i < len(evs); i += 50 {
			if _, err := s.PutEvents(evs[i:i+50], store.PutOptions{}); err != nil {
				t.Error(err)
				return
			}
			if i%500 == 0 {
				if _, _, err := s.Prune(scope, int64(i/50), 0); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	reads := 0
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			total, ok, err := s.SumBelow(scope, nil)
			if err != nil {
				t.Error(err)
				return
			}
			if ok && total.Count > 1 {
				if _, _, _, _, err := s.SumAt(scope, total.Count/2); err != nil {
					t.Error(err)
					return
				}
			}
			reads++
		}
	}()
	wg.Wait()
	if reads == 0 {
		t.Fatal("no reads ran beside the writes")
	}
	checkSums(t, rand.New(rand.NewPCG(1, 1)), s, scope)
}

// Sums no sync asked for in ten minutes are dropped; those in use stay.
func TestSumsIdleDropped(t *testing.T) {
	s, _ := openTemp(t)
	var mu sync.Mutex
	now := time.Unix(1_750_000_000, 0)
	s.SetSumsClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	used, idle := randomScope(t), randomScope(t)
	for _, sc := range []event.Scope{used, idle} {
		mustPut(t, s, newAuthor(t, sc).next(1000, "x"), store.PutOptions{})
		if _, ok, err := s.SumBelow(sc, nil); !ok || err != nil {
			t.Fatalf("SumBelow: ok %v, err %v", ok, err)
		}
	}
	for range 4 {
		advance(3 * time.Minute)
		if _, _, err := s.SumBelow(used, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.SumScopes(); n != 1 {
		t.Fatalf("%d scopes keep sums after 12 minutes, one of them idle; want 1", n)
	}
	got, ok, err := s.SumBelow(idle, nil)
	if !ok || err != nil || got.Count != 1 {
		t.Fatalf("sums built again: %d keys, ok %v, err %v", got.Count, ok, err)
	}
}
