package store_test

// Regression tests: concurrency, limits and extreme inputs that once broke
// the store.

import (
	"math"
	"sync"
	"testing"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/store"
)

// An arrival-log reader that resumes from the last arrival it saw must see
// every event, also while several goroutines store events. PutEvent takes an
// arrival number inside its transaction, so transactions can commit out of
// arrival order: the reader sees n+1, moves its position past n, and misses n
// when it commits a moment later.
func TestArrivalLogReaderSeesConcurrentPuts(t *testing.T) {
	s, _ := openTemp(t)
	const writers, perWriter = 8, 300
	chains := make([][]*event.Event, writers)
	for w := range chains {
		a := newAuthor(t, randomScope(t))
		for i := range perWriter {
			chains[w] = append(chains[w], a.next(int64(i), "m"))
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for _, e := range chains[w] {
				if _, _, err := s.PutEvent(e, store.PutOptions{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()

	seen := map[event.ID]bool{}
	var since uint64
	read := func() {
		page, err := s.ArrivalsSince(since, 100_000)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page {
			seen[a.Event.ID] = true
			since = a.Seq
		}
	}
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		read()
	}
	read()
	if want := writers * perWriter; len(seen) != want {
		t.Fatalf("the reader saw %d of %d events", len(seen), want)
	}
}

// Gossip and sync often deliver the same event at the same moment. Storing
// it concurrently must add it once and report a duplicate to the others,
// not fail with a Badger transaction conflict.
func TestConcurrentDuplicatePutFails(t *testing.T) {
	s, _ := openTemp(t)
	a := newAuthor(t, randomScope(t))
	for range 50 {
		e := a.next(1, "m")
		var mu sync.Mutex
		added := 0
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				ok, _, err := s.PutEvent(e, store.PutOptions{})
				if err != nil {
					t.Errorf("PutEvent: %v", err)
				}
				mu.Lock()
				defer mu.Unlock()
				if ok {
					added++
				}
			})
		}
		wg.Wait()
		if added != 1 {
			t.Fatalf("event added %d times, want once", added)
		}
	}
}

// History with limit 0 panics (index out of range) when the scope has events;
// the limit comes from API clients.
func TestHistoryLimitZero(t *testing.T) {
	s, _ := openTemp(t)
	a := newAuthor(t, randomScope(t))
	mustPut(t, s, a.next(1, "m"), store.PutOptions{})
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("History(limit 0) panicked: %v", r)
		}
	}()
	// An empty page or an error are both acceptable; a panic is not.
	got, _, err := s.History(a.scope, store.Cursor{}, 0)
	if err == nil && len(got) != 0 {
		t.Fatalf("History(limit 0) = %d events", len(got))
	}
}

// Event times are the author's clock and can be anything. An event at the
// largest time is never shown by History from the zero cursor, and events
// before 1970 are not counted by CountAfter from the zero cursor.
func TestExtremeTimes(t *testing.T) {
	s, _ := openTemp(t)
	a := newAuthor(t, randomScope(t))
	for _, ms := range []int64{math.MinInt64, -5, 0, 1, math.MaxInt64} {
		mustPut(t, s, a.next(ms, "m"), store.PutOptions{})
	}
	got, _, err := s.History(a.scope, store.Cursor{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Errorf("History shows %d of 5 events", len(got))
	}
	n, err := s.CountAfter(a.scope, store.Cursor{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Errorf("CountAfter(zero) = %d, want 5", n)
	}
}

// ArrivalsSince(math.MaxUint64) wraps seq+1 to 0 and returns the whole log
// instead of nothing.
func TestArrivalsSinceMax(t *testing.T) {
	s, _ := openTemp(t)
	a := newAuthor(t, randomScope(t))
	mustPut(t, s, a.next(1, "m"), store.PutOptions{})
	got, err := s.ArrivalsSince(math.MaxUint64, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("ArrivalsSince(MaxUint64) = %d entries, want 0", len(got))
	}
}
