package store_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/store"
)

func TestPutEventDuplicate(t *testing.T) {
	s, _ := openTemp(t)
	a := newAuthor(t, randomScope(t))
	e := a.next(1000, "hello")

	if has, err := s.HasEvent(e.ID); err != nil || has {
		t.Fatalf("HasEvent before put = %v, %v", has, err)
	}
	if _, err := s.Event(e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Event before put = %v, want ErrNotFound", err)
	}

	for _, opts := range []store.PutOptions{{}, {Local: true}} {
		added, arrival, err := s.PutEvent(e, opts)
		if err != nil {
			t.Fatal(err)
		}
		if opts.Local {
			// Second call (after the remote put): a duplicate.
			if added || arrival != 0 {
				t.Fatalf("duplicate PutEvent = %v, %d; want false, 0", added, arrival)
			}
		} else if !added || arrival != 1 {
			t.Fatalf("first PutEvent = %v, %d; want true, 1", added, arrival)
		}
	}
	if added, _, err := s.PutEvent(e, store.PutOptions{}); err != nil || added {
		t.Fatalf("third PutEvent = %v, %v; want false, nil", added, err)
	}

	if has, err := s.HasEvent(e.ID); err != nil || !has {
		t.Fatalf("HasEvent after put = %v, %v", has, err)
	}
	got, err := s.Event(e.ID)
	if err != nil {
		t.Fatal(err)
	}
	assertSameEvent(t, got, e)

	// The duplicate puts added no arrival-log entries or history rows.
	arr, err := s.ArrivalsSince(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(arr) != 1 || arr[0].Seq != 1 || arr[0].Event.ID != e.ID {
		t.Fatalf("arrival log = %+v, want one entry for the event", arr)
	}
	if n, err := s.CountAfter(e.ScopeID(), store.Cursor{}); err != nil || n != 1 {
		t.Fatalf("CountAfter = %d, %v; want 1", n, err)
	}
}

func TestHasEventUnknown(t *testing.T) {
	s, _ := openTemp(t)
	a := newAuthor(t, randomScope(t))
	mustPut(t, s, a.next(1, "x"), store.PutOptions{})
	other := a.next(2, "never stored")
	if has, err := s.HasEvent(other.ID); err != nil || has {
		t.Fatalf("HasEvent(unknown) = %v, %v", has, err)
	}
	if has, err := s.HasEvent(event.ID{}); err != nil || has {
		t.Fatalf("HasEvent(zero) = %v, %v", has, err)
	}
	if e, err := s.Event(other.ID); !errors.Is(err, store.ErrNotFound) || e != nil {
		t.Fatalf("Event(unknown) = %v, %v; want nil, ErrNotFound", e, err)
	}
}

func TestArrivalNumbersIncrease(t *testing.T) {
	s, _ := openTemp(t)
	scope := randomScope(t)
	authors := []*author{newAuthor(t, scope), newAuthor(t, scope), newAuthor(t, randomScope(t))}
	var last uint64
	for i := range 60 {
		e := authors[i%len(authors)].next(int64(1000-i), "m") // times go backwards on purpose
		arrival := mustPut(t, s, e, store.PutOptions{Local: i%10 == 0})
		if i == 0 && arrival != 1 {
			t.Fatalf("first arrival = %d, want 1", arrival)
		}
		if arrival <= last {
			t.Fatalf("arrival %d after %d: not increasing", arrival, last)
		}
		last = arrival
	}
}

func TestHead(t *testing.T) {
	s, _ := openTemp(t)
	scope, scope2 := randomScope(t), randomScope(t)
	alice := newAuthor(t, scope)
	bob := newAuthor(t, scope)
	alice2 := alice.in(scope2)

	var aliceEvents []*event.Event
	for i := range 5 {
		aliceEvents = append(aliceEvents, alice.next(int64(i), "a"))
	}
	// Store out of order: the head is the highest seq, not the last put.
	for _, i := range []int{2, 4, 0, 3, 1} {
		mustPut(t, s, aliceEvents[i], store.PutOptions{})
	}
	bobFirst := bob.next(10, "b")
	mustPut(t, s, bobFirst, store.PutOptions{})
	a2 := alice2.next(3, "a2")
	mustPut(t, s, a2, store.PutOptions{})

	tests := []struct {
		name    string
		scope   event.Scope
		author  []byte
		wantSeq uint64
		wantID  event.ID
	}{
		{"alice", scope, alice.id.PublicKey(), 5, aliceEvents[4].ID},
		{"bob", scope, bob.id.PublicKey(), 1, bobFirst.ID},
		{"alice other scope", scope2, alice.id.PublicKey(), 1, a2.ID},
		{"bob other scope", scope2, bob.id.PublicKey(), 0, event.ID{}},
		{"stranger", scope, newIdentity(t).PublicKey(), 0, event.ID{}},
		{"unknown scope", randomScope(t), alice.id.PublicKey(), 0, event.ID{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seq, id, err := s.Head(tt.scope, tt.author)
			if err != nil {
				t.Fatal(err)
			}
			if seq != tt.wantSeq || id != tt.wantID {
				t.Fatalf("Head = %d, %s; want %d, %s", seq, id, tt.wantSeq, tt.wantID)
			}
		})
	}
}

func TestHistoryOrder(t *testing.T) {
	s, _ := openTemp(t)
	scope := randomScope(t)
	authors := []*author{newAuthor(t, scope), newAuthor(t, scope), newAuthor(t, scope)}
	// Times with many ties, negative times and out-of-order arrival.
	times := []int64{50, -20, 50, 0, 7, 50, -20, 1 << 40, 7, 0, 3, 50}
	var all []*event.Event
	for i, ms := range times {
		e := authors[i%3].next(ms, "m")
		all = append(all, e)
	}
	for _, i := range []int{5, 0, 11, 3, 8, 1, 10, 2, 7, 4, 9, 6} {
		mustPut(t, s, all[i], store.PutOptions{})
	}
	// Noise in another scope must not show up.
	other := newAuthor(t, randomScope(t))
	for i := range 5 {
		mustPut(t, s, other.next(int64(i*10), "noise"), store.PutOptions{})
	}

	got, next, err := s.History(scope, store.Cursor{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !next.IsZero() {
		t.Fatalf("next cursor %v after the whole history", next)
	}
	want := historyOrder(all)
	if !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("History order:\n got %v\nwant %v", ids(got), ids(want))
	}
	for i := range got {
		assertSameEvent(t, got[i], want[i])
	}
	// Ties are broken by ID: check the test really had ties to break.
	ties := 0
	for i := 1; i < len(want); i++ {
		if want[i].Time == want[i-1].Time {
			ties++
		}
	}
	if ties < 3 {
		t.Fatalf("test data has %d ties", ties)
	}

	if got, next, err := s.History(randomScope(t), store.Cursor{}, 10); err != nil || len(got) != 0 || !next.IsZero() {
		t.Fatalf("History(empty scope) = %d events, %v, %v", len(got), next, err)
	}
}

// TestHistoryPaging walks a history page by page, from the newest page back,
// and checks that every event is seen exactly once, in order.
func TestHistoryPaging(t *testing.T) {
	tests := []struct{ events, pageSize int }{
		{250, 7},  // last page short
		{21, 7},   // pages exactly full: the last one has no next cursor
		{1, 1},    // one event
		{5, 10},   // one short page
		{60, 1},   // one event per page
		{40, 100}, // everything in one page
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d events by %d", tt.events, tt.pageSize), func(t *testing.T) {
			testHistoryPaging(t, tt.events, tt.pageSize)
		})
	}
}

func testHistoryPaging(t *testing.T, total, pageSize int) {
	s, _ := openTemp(t)
	scope := randomScope(t)
	authors := []*author{newAuthor(t, scope), newAuthor(t, scope), newAuthor(t, scope), newAuthor(t, scope)}
	var all []*event.Event
	for i := range total {
		// Blocks of equal times, so that page boundaries fall inside ties.
		e := authors[i%len(authors)].next(int64(i/6)*1000-50_000, "m")
		all = append(all, e)
		mustPut(t, s, e, store.PutOptions{})
	}
	other := newAuthor(t, randomScope(t))
	for i := range 20 {
		mustPut(t, s, other.next(int64(i), "noise"), store.PutOptions{})
	}
	want := historyOrder(all)

	var pages [][]*event.Event
	cursor := store.Cursor{}
	for {
		page, next, err := s.History(scope, cursor, pageSize)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > pageSize {
			t.Fatalf("page of %d events, limit %d", len(page), pageSize)
		}
		pages = append(pages, page)
		if next.IsZero() {
			break
		}
		if len(page) != pageSize {
			t.Fatalf("short page of %d events with a next cursor", len(page))
		}
		// The next cursor is the position of this page's oldest event, and
		// survives the trip through its string form.
		if next != store.CursorOf(page[0]) {
			t.Fatalf("next cursor %v, want the page's oldest event %v", next, store.CursorOf(page[0]))
		}
		parsed, err := store.ParseCursor(next.String())
		if err != nil {
			t.Fatal(err)
		}
		cursor = parsed
		if len(pages) > total {
			t.Fatal("paging does not end")
		}
	}
	if wantPages := (total + pageSize - 1) / pageSize; len(pages) != wantPages {
		t.Fatalf("%d pages, want %d", len(pages), wantPages)
	}
	var walked []*event.Event
	for i := len(pages) - 1; i >= 0; i-- {
		walked = append(walked, pages[i]...)
	}
	seen := map[event.ID]bool{}
	for _, e := range walked {
		if seen[e.ID] {
			t.Fatalf("event %s seen twice", e.ID)
		}
		seen[e.ID] = true
	}
	if !slices.Equal(ids(walked), ids(want)) {
		t.Fatalf("paged history differs from the full order: %d events walked, %d stored", len(walked), len(want))
	}
}

func TestCursorString(t *testing.T) {
	var id event.ID
	for i := range id {
		id[i] = byte(i * 7)
	}
	for _, c := range []store.Cursor{
		{Time: 1_700_000_000_000, ID: id},
		{Time: -1, ID: id},
		{Time: 0, ID: id},
		{Time: math.MaxInt64, ID: id},
		{Time: math.MinInt64, ID: id},
		{Time: 5},
	} {
		s := c.String()
		if s == "" {
			t.Fatalf("non-zero cursor %v encodes to \"\"", c)
		}
		got, err := store.ParseCursor(s)
		if err != nil {
			t.Fatalf("ParseCursor(%q): %v", s, err)
		}
		if got != c {
			t.Fatalf("ParseCursor(String(%v)) = %v", c, got)
		}
	}

	zero := store.Cursor{}
	if !zero.IsZero() || zero.String() != "" {
		t.Fatalf("zero cursor: IsZero %v, String %q", zero.IsZero(), zero.String())
	}
	if c, err := store.ParseCursor(""); err != nil || !c.IsZero() {
		t.Fatalf("ParseCursor(\"\") = %v, %v", c, err)
	}

	valid := store.Cursor{Time: 1, ID: id}.String()
	for _, bad := range []string{
		"!!!!",
		"a",
		valid[:len(valid)-1],
		valid + "AA",
		valid + "=",
		"AAAAAAAAAAA", // 8 bytes: time only
	} {
		if _, err := store.ParseCursor(bad); err == nil {
			t.Errorf("ParseCursor(%q) succeeded", bad)
		}
	}
}

func TestCountAfter(t *testing.T) {
	s, _ := openTemp(t)
	scope := randomScope(t)
	a, b := newAuthor(t, scope), newAuthor(t, scope)
	var all []*event.Event
	for i := range 30 {
		w := a
		if i%3 == 0 {
			w = b
		}
		e := w.next(int64(1000+i/4), "m") // ties in time
		all = append(all, e)
		mustPut(t, s, e, store.PutOptions{})
	}
	other := newAuthor(t, randomScope(t))
	for i := range 10 {
		mustPut(t, s, other.next(int64(1000+i), "noise"), store.PutOptions{})
	}
	sorted := historyOrder(all)

	if n, err := s.CountAfter(scope, store.Cursor{}); err != nil || n != len(all) {
		t.Fatalf("CountAfter(zero) = %d, %v; want %d", n, err, len(all))
	}
	for i, e := range sorted {
		n, err := s.CountAfter(scope, store.CursorOf(e))
		if err != nil {
			t.Fatal(err)
		}
		if want := len(sorted) - 1 - i; n != want {
			t.Fatalf("CountAfter(event %d of %d) = %d, want %d", i, len(sorted), n, want)
		}
	}
	// A cursor between stored positions, and beyond either end.
	if n, err := s.CountAfter(scope, store.Cursor{Time: 999}); err != nil || n != len(all) {
		t.Fatalf("CountAfter(before all) = %d, %v", n, err)
	}
	if n, err := s.CountAfter(scope, store.Cursor{Time: 1_000_000}); err != nil || n != 0 {
		t.Fatalf("CountAfter(after all) = %d, %v", n, err)
	}
	if n, err := s.CountAfter(randomScope(t), store.Cursor{}); err != nil || n != 0 {
		t.Fatalf("CountAfter(empty scope) = %d, %v", n, err)
	}
}

func TestArrivalsSincePaging(t *testing.T) {
	s, _ := openTemp(t)
	authors := []*author{newAuthor(t, randomScope(t)), newAuthor(t, randomScope(t))}
	type put struct {
		arrival uint64
		id      event.ID
	}
	var puts []put
	for i := range 47 {
		e := authors[i%2].next(int64(-i), "m")
		puts = append(puts, put{mustPut(t, s, e, store.PutOptions{}), e.ID})
	}

	if got, err := s.ArrivalsSince(0, 0); err != nil || len(got) != 0 {
		t.Fatalf("ArrivalsSince(0, 0) = %d entries, %v", len(got), err)
	}

	var walked []put
	var since uint64
	for range 100 {
		page, err := s.ArrivalsSince(since, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 5 {
			t.Fatalf("page of %d entries, limit 5", len(page))
		}
		if len(page) == 0 {
			break
		}
		for _, a := range page {
			if a.Seq <= since {
				t.Fatalf("entry %d is not after %d", a.Seq, since)
			}
			walked = append(walked, put{a.Seq, a.Event.ID})
			since = a.Seq
		}
	}
	if !slices.Equal(walked, puts) {
		t.Fatalf("arrival log walk = %v\nwant %v", walked, puts)
	}
	if got, err := s.ArrivalsSince(puts[len(puts)-1].arrival, 10); err != nil || len(got) != 0 {
		t.Fatalf("ArrivalsSince(last) = %d entries, %v", len(got), err)
	}
	// Resuming from the middle.
	mid := puts[20].arrival
	got, err := s.ArrivalsSince(mid, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(puts)-21 || got[0].Seq != puts[21].arrival {
		t.Fatalf("ArrivalsSince(mid) = %d entries starting %d", len(got), got[0].Seq)
	}
}

func TestNotify(t *testing.T) {
	s, _ := openTemp(t)
	a := newAuthor(t, randomScope(t))
	e := a.next(1, "x")

	ch := s.Notify()
	select {
	case <-ch:
		t.Fatal("Notify channel closed before any arrival")
	default:
	}
	mustPut(t, s, e, store.PutOptions{})
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("Notify channel not closed after PutEvent")
	}

	// A duplicate is not an arrival.
	ch2 := s.Notify()
	if added, _, err := s.PutEvent(e, store.PutOptions{}); err != nil || added {
		t.Fatalf("duplicate put: %v, %v", added, err)
	}
	select {
	case <-ch2:
		t.Fatal("Notify channel closed by a duplicate put")
	default:
	}
	mustPut(t, s, a.next(2, "y"), store.PutOptions{Local: true})
	select {
	case <-ch2:
	case <-time.After(10 * time.Second):
		t.Fatal("Notify channel not closed after a local PutEvent")
	}
}

// TestNotifyReader runs the reader loop that event streams use: read the
// log, wait for the next arrival, read again. Every event must be seen.
func TestNotifyReader(t *testing.T) {
	s, _ := openTemp(t)
	a := newAuthor(t, randomScope(t))
	const n = 40
	events := make([]*event.Event, n)
	for i := range events {
		events[i] = a.next(int64(i), "m")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seen := make(chan []event.ID, 1)
	errc := make(chan error, 1)
	go func() {
		var got []event.ID
		var since uint64
		for len(got) < n {
			wake := s.Notify()
			page, err := s.ArrivalsSince(since, 1000)
			if err != nil {
				errc <- err
				return
			}
			for _, e := range page {
				got = append(got, e.Event.ID)
				since = e.Seq
			}
			if len(page) > 0 {
				continue
			}
			select {
			case <-wake:
			case <-ctx.Done():
				errc <- ctx.Err()
				return
			}
		}
		seen <- got
	}()
	for _, e := range events {
		mustPut(t, s, e, store.PutOptions{})
	}
	select {
	case got := <-seen:
		if !slices.Equal(got, ids(events)) {
			t.Fatalf("reader saw %d events, want the %d stored in order", len(got), n)
		}
	case err := <-errc:
		t.Fatalf("reader: %v", err)
	}
}

func TestDeleteScope(t *testing.T) {
	s, _ := openTemp(t)
	gone, kept := randomScope(t), randomScope(t)
	alice := newAuthor(t, gone)
	aliceKept := alice.in(kept)
	bob := newAuthor(t, kept)

	var goneEvents, keptEvents []*event.Event
	for i := range 12 {
		e := alice.next(int64(100+i/3), "gone")
		goneEvents = append(goneEvents, e)
		mustPut(t, s, e, store.PutOptions{Local: i == 0})
		k := aliceKept.next(int64(100+i/3), "kept")
		keptEvents = append(keptEvents, k)
		mustPut(t, s, k, store.PutOptions{})
		if i%2 == 0 {
			b := bob.next(int64(100+i), "kept-bob")
			keptEvents = append(keptEvents, b)
			mustPut(t, s, b, store.PutOptions{})
		}
	}
	keptArrivals, err := s.ArrivalsSince(0, 1000)
	if err != nil {
		t.Fatal(err)
	}

	if err := s.DeleteScope(gone); err != nil {
		t.Fatalf("DeleteScope: %v", err)
	}

	for _, e := range goneEvents {
		if has, err := s.HasEvent(e.ID); err != nil || has {
			t.Fatalf("deleted event %s: HasEvent = %v, %v", e.ID, has, err)
		}
		if _, err := s.Event(e.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted event: Event = %v, want ErrNotFound", err)
		}
	}
	if h, _, err := s.History(gone, store.Cursor{}, 100); err != nil || len(h) != 0 {
		t.Fatalf("History(deleted scope) = %d events, %v", len(h), err)
	}
	if n, err := s.CountAfter(gone, store.Cursor{}); err != nil || n != 0 {
		t.Fatalf("CountAfter(deleted scope) = %d, %v", n, err)
	}
	if seq, id, err := s.Head(gone, alice.id.PublicKey()); err != nil || seq != 0 || id != (event.ID{}) {
		t.Fatalf("Head(deleted scope) = %d, %s, %v", seq, id, err)
	}

	// The other scope, including the same author's events there, is intact.
	for _, e := range keptEvents {
		got, err := s.Event(e.ID)
		if err != nil {
			t.Fatalf("kept event %s: %v", e.ID, err)
		}
		assertSameEvent(t, got, e)
	}
	h, _, err := s.History(kept, store.Cursor{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(h), ids(historyOrder(keptEvents))) {
		t.Fatal("history of the kept scope changed")
	}
	if n, err := s.CountAfter(kept, store.Cursor{}); err != nil || n != len(keptEvents) {
		t.Fatalf("CountAfter(kept) = %d, %v; want %d", n, err, len(keptEvents))
	}
	if seq, id, err := s.Head(kept, alice.id.PublicKey()); err != nil || seq != 12 || id != aliceKept.prev {
		t.Fatalf("Head(kept, alice) = %d, %s, %v", seq, id, err)
	}
	if seq, _, err := s.Head(kept, bob.id.PublicKey()); err != nil || seq != 6 {
		t.Fatalf("Head(kept, bob) = %d, %v", seq, err)
	}

	// The arrival log lost exactly the deleted scope's entries.
	arr, err := s.ArrivalsSince(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var want []uint64
	for _, a := range keptArrivals {
		if a.Event.ScopeID() == kept {
			want = append(want, a.Seq)
		}
	}
	var got []uint64
	for _, a := range arr {
		if a.Event.ScopeID() != kept {
			t.Fatalf("arrival log still holds an event of scope %s", a.Event.ScopeID())
		}
		got = append(got, a.Seq)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("arrival log after delete = %v, want %v", got, want)
	}

	// A deleted event can be stored again, as a new arrival.
	arrival := mustPut(t, s, goneEvents[0], store.PutOptions{})
	if last := keptArrivals[len(keptArrivals)-1].Seq; arrival <= last {
		t.Fatalf("re-added event got arrival %d, not after %d", arrival, last)
	}
	if seq, _, err := s.Head(gone, alice.id.PublicKey()); err != nil || seq != 1 {
		t.Fatalf("Head after re-adding = %d, %v", seq, err)
	}

	// Deleting an empty or unknown scope is a no-op.
	if err := s.DeleteScope(randomScope(t)); err != nil {
		t.Fatalf("DeleteScope(unknown): %v", err)
	}
	if n, err := s.CountAfter(kept, store.Cursor{}); err != nil || n != len(keptEvents) {
		t.Fatalf("CountAfter(kept) after no-op delete = %d, %v", n, err)
	}
}

// TestConcurrentPuts stores distinct events from several goroutines; run
// with -race. Every event must be stored once with a distinct arrival.
func TestConcurrentPuts(t *testing.T) {
	s, _ := openTemp(t)
	scope := randomScope(t)
	const writers, perWriter = 4, 25
	chains := make([][]*event.Event, writers)
	for w := range chains {
		a := newAuthor(t, scope)
		for i := range perWriter {
			chains[w] = append(chains[w], a.next(int64(i), "m"))
		}
	}
	var wg sync.WaitGroup
	arrivals := make([][]uint64, writers)
	errs := make([]error, writers)
	for w := range writers {
		wg.Go(func() {
			for _, e := range chains[w] {
				added, arrival, err := s.PutEvent(e, store.PutOptions{Local: w == 0})
				if err != nil || !added {
					errs[w] = errors.Join(err, errors.New("not added"))
					return
				}
				arrivals[w] = append(arrivals[w], arrival)
			}
		})
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for w := range writers {
		if errs[w] != nil {
			t.Fatalf("writer %d: %v", w, errs[w])
		}
		for i, a := range arrivals[w] {
			if seen[a] {
				t.Fatalf("arrival %d given twice", a)
			}
			seen[a] = true
			if i > 0 && a <= arrivals[w][i-1] {
				t.Fatalf("writer %d: arrivals not increasing", w)
			}
		}
	}
	if n, err := s.CountAfter(scope, store.Cursor{}); err != nil || n != writers*perWriter {
		t.Fatalf("CountAfter = %d, %v; want %d", n, err, writers*perWriter)
	}
	arr, err := s.ArrivalsSince(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(arr) != writers*perWriter {
		t.Fatalf("arrival log has %d entries, want %d", len(arr), writers*perWriter)
	}
}

func TestServeStopsOnCancel(t *testing.T) {
	s, err := store.Open(store.Options{Dir: t.TempDir(), Logger: quietLogger, GCInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	// Work while garbage collection ticks in the background.
	a := newAuthor(t, randomScope(t))
	for i := range 50 {
		mustPut(t, s, a.next(int64(i), string(make([]byte, 2048))), store.PutOptions{})
	}
	if err := s.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if n, err := s.CountAfter(a.scope, store.Cursor{}); err != nil || n != 50 {
		t.Fatalf("CountAfter = %d, %v", n, err)
	}
}

func TestInMemory(t *testing.T) {
	s, err := store.Open(store.Options{InMemory: true, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := newAuthor(t, randomScope(t))
	e := a.next(1, "m")
	if arrival := mustPut(t, s, e, store.PutOptions{Local: true}); arrival != 1 {
		t.Fatalf("arrival %d", arrival)
	}
	got, err := s.Event(e.ID)
	if err != nil {
		t.Fatal(err)
	}
	assertSameEvent(t, got, e)
}

func TestEventsSkipsMissing(t *testing.T) {
	s, _ := openTemp(t)
	a := newAuthor(t, randomScope(t))
	stored := a.next(1, "kept")
	mustPut(t, s, stored, store.PutOptions{})
	missing := a.next(2, "never stored")
	got, err := s.Events([]event.ID{missing.ID, stored.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != stored.ID {
		t.Fatalf("Events = %d events, want only the stored one", len(got))
	}
}

// ScopeArrivalsSince walks the arrival log in pages and returns one
// scope's events only, in arrival order, with a cursor past the others.
func TestScopeArrivalsSince(t *testing.T) {
	s, _ := openTemp(t)
	mine, other := newAuthor(t, randomScope(t)), newAuthor(t, randomScope(t))
	var want []event.ID
	var last uint64
	for i := range 30 {
		a := other
		if i%3 == 0 {
			a = mine
		}
		e := a.next(int64(-i), "m")
		last = mustPut(t, s, e, store.PutOptions{})
		if a == mine {
			want = append(want, e.ID)
		}
	}
	var got []event.ID
	var since uint64
	for range 100 {
		evs, next, err := s.ScopeArrivalsSince(mine.scope, since, 4)
		if err != nil {
			t.Fatal(err)
		}
		if next == since {
			break
		}
		for _, e := range evs {
			if e.ScopeID() != mine.scope {
				t.Fatalf("an event of scope %s", e.ScopeID())
			}
			got = append(got, e.ID)
		}
		since = next
	}
	if !slices.Equal(got, want) || since != last {
		t.Fatalf("walked %d events to %d, want %d to %d", len(got), since, len(want), last)
	}
}
