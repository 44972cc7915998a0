package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/store"
)

// A scrub finds an event whose bytes were damaged and removes it with its
// indexes, so that sync can bring it back whole; the others stay.
func TestScrubRemovesDamagedEvents(t *testing.T) {
	s, _ := openTemp(t)
	a := newAuthor(t, randomScope(t))
	e1, e2, e3 := a.next(1_700_000_000_000, "one"), a.next(1_700_000_000_001, "two"), a.next(1_700_000_000_002, "three")
	for _, e := range []*event.Event{e1, e2, e3} {
		mustPut(t, s, e, store.PutOptions{})
	}
	if d, err := s.Scrub(context.Background()); err != nil || d.Events != 3 || d.Found() != "" {
		t.Fatalf("scrub of a whole store: %+v, %v", d, err)
	}
	if err := s.DamageEvent(e2.ID); err != nil {
		t.Fatal(err)
	}
	d, err := s.Scrub(context.Background())
	if err != nil || d.Removed != 1 || !strings.Contains(d.Found(), "fetched again from peers") {
		t.Fatalf("scrub of a damaged event: %+v, %v", d, err)
	}
	if s.LastScrub().Removed != 1 {
		t.Fatalf("last scrub: %+v", s.LastScrub())
	}
	if has, _ := s.HasEvent(e2.ID); has {
		t.Fatal("the damaged event is still there")
	}
	evs, _, err := s.History(a.scope, store.Cursor{}, 10)
	if err != nil || len(evs) != 2 {
		t.Fatalf("history after the scrub: %d events, %v", len(evs), err)
	}
	// Sync brings it back.
	mustPut(t, s, e2, store.PutOptions{})
	if d, err := s.Scrub(context.Background()); err != nil || d.Found() != "" || d.Events != 3 {
		t.Fatalf("scrub after the repair: %+v, %v", d, err)
	}
}

// Bytes flipped in a table on disk never go unnoticed, even where the
// open does not look: the store either refuses to open, or its scrub
// names the table.
func TestScrubReportsDamagedTables(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	a := newAuthor(t, randomScope(t))
	for i := range 2000 {
		mustPut(t, s, a.next(1_700_000_000_000+int64(i), strings.Repeat("x", 200)), store.PutOptions{})
	}
	if err := s.Close(); err != nil { // flushes the memtable into a table
		t.Fatal(err)
	}
	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(tables) == 0 {
		t.Fatal("no table on disk")
	}
	fi, err := os.Stat(tables[0])
	if err != nil {
		t.Fatal(err)
	}
	// A block's checksum broken, as a decaying disk would break it: the
	// file's time stays, so the open does not read the table (a table
	// written over is set aside at open).
	if err := store.BreakBlock(tables[0], 1.0/3, false); err != nil {
		t.Fatalf("break a block's checksum: %v", err)
	}
	if err := os.Chtimes(tables[0], fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	s, err = store.Open(store.Options{Dir: dir, Logger: quietLogger})
	if err != nil {
		t.Logf("refused to open: %v", err)
		return
	}
	defer s.Close()
	d, err := s.Scrub(context.Background())
	if err != nil || !strings.Contains(d.Tables, filepath.Base(tables[0])) || !strings.Contains(d.Found(), "cannot be read") {
		t.Fatalf("scrub of a damaged table: %+v, %v", d, err)
	}
	if d.Removed == 0 {
		t.Fatalf("the events in the damaged block were not removed to be fetched again: %+v", d)
	}
	t.Logf("scrub: %+v", d)
	// Badger's compaction stops reading a table at its damaged block and
	// drops the rest (v4.9.6): what sync lists must still be what is held.
	s.Reclaim()
	if d, err = s.Scrub(context.Background()); err != nil {
		t.Fatal(err)
	}
	listed := 0
	if err := s.ScopeItems(a.scope, nil, nil, func(uint64, event.ID) { listed++ }); err != nil {
		t.Fatal(err)
	}
	t.Logf("after compaction: %d events listed for sync; scrub %+v", listed, d)
	// Sync brings them back: whatever is not listed is taken again.
	a2 := newAuthor(t, a.scope)
	a2.id = a.id
	again := 0
	for i := range 2000 {
		e := a2.next(1_700_000_000_000+int64(i), strings.Repeat("x", 200))
		if added, _, err := s.PutEvent(e, store.PutOptions{}); err != nil {
			t.Fatal(err)
		} else if added {
			again++
		}
	}
	if again != 2000-listed {
		t.Errorf("%d events taken again, %d were not listed", again, 2000-listed)
	}
	if evs, _, err := s.History(a.scope, store.Cursor{}, 3000); err != nil || len(evs) != 2000 {
		t.Fatalf("history after the repair: %d events, %v", len(evs), err)
	}
}

// An envelope kept whole whose index keys were lost (with a table set
// aside) is indexed again by the scrub: sync, which lists the history
// index, would otherwise fetch it and be told it is stored, for ever.
func TestScrubReindexesWholeEvents(t *testing.T) {
	s, _ := openTemp(t)
	a := newAuthor(t, randomScope(t))
	e1, e2 := a.next(1_700_000_000_000, "one"), a.next(1_700_000_000_001, "two")
	mustPut(t, s, e1, store.PutOptions{})
	mustPut(t, s, e2, store.PutOptions{Local: true})
	if err := s.DropHistoryKey(e2); err != nil {
		t.Fatal(err)
	}
	d, err := s.Scrub(context.Background())
	if err != nil || d.Reindexed != 1 || d.Removed != 0 {
		t.Fatalf("scrub: %+v, %v", d, err)
	}
	evs, _, err := s.History(a.scope, store.Cursor{}, 10)
	if err != nil || len(evs) != 2 {
		t.Fatalf("history after the scrub: %d events, %v", len(evs), err)
	}
	if _, local, err := s.ArrivalOf(e2.ID); err != nil || !local {
		t.Fatalf("the reindexed event is no longer marked local: %v", err)
	}
}

// A read that meets a damaged envelope leaves it out instead of failing
// the whole page, and has the store check itself at once, which removes it
// so that sync fetches it again.
func TestReadOfDamagedEventStartsScrub(t *testing.T) {
	s, _ := openTemp(t)
	a := newAuthor(t, randomScope(t))
	e1, e2, e3 := a.next(1_700_000_000_000, "one"), a.next(1_700_000_000_001, "two"), a.next(1_700_000_000_002, "three")
	for _, e := range []*event.Event{e1, e2, e3} {
		mustPut(t, s, e, store.PutOptions{})
	}
	if err := s.DamageEvent(e2.ID); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	defer func() { cancel(); <-done }()

	evs, _, err := s.History(a.scope, store.Cursor{}, 10)
	if err != nil || len(evs) != 2 {
		t.Fatalf("history with a damaged event: %d events, %v", len(evs), err)
	}
	select {
	case <-s.Repaired():
	case <-time.After(20 * time.Second):
		t.Fatal("no scrub removed the damaged event")
	}
	if has, _ := s.HasEvent(e2.ID); has {
		t.Fatal("the damaged event is still stored")
	}
	if s.LastScrub().Removed != 1 {
		t.Fatalf("last scrub: %+v", s.LastScrub())
	}
}
