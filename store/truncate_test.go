package store_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/store"
)

// A table cut to half its length (a disk that lost its end) made Badger
// panic in a goroutine of its own at open. The store sets it aside and
// says so, opens with the rest, keeps its indexes true to what it holds
// (so that sync fetches exactly what was lost), and takes it all again.
func TestTruncatedTableIsSetAside(t *testing.T) {
	dir := t.TempDir()
	a, all := writeRandomAndClose(t, dir, 20000, 100)
	cut := tableWithMostEvents(t, dir)
	fi, err := os.Stat(cut)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(cut, fi.Size()/2); err != nil {
		t.Fatal(err)
	}

	s := openAt(t, dir)
	d, err := s.Scrub(context.Background())
	if err != nil || len(d.SetAside) != 1 || !strings.Contains(d.Found(), filepath.Base(cut)) || !strings.Contains(d.Found(), "set aside") {
		t.Fatalf("scrub after a table was cut short: %+v, %v", d, err)
	}
	t.Logf("found: %s (removed %d, reindexed %d)", d.Found(), d.Removed, d.Reindexed)
	if _, err := os.Stat(filepath.Join(dir, "damaged", filepath.Base(cut))); err != nil {
		t.Fatalf("the damaged table was not kept aside: %v", err)
	}
	// What sync sees (the history index) is exactly what is stored.
	listed := 0
	err = s.ScopeItems(a.scope, nil, nil, func(_ uint64, id event.ID) {
		listed++
		if has, _ := s.HasEvent(id); !has {
			t.Errorf("sync would offer %s, which is not stored", id)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	held := 0
	for _, e := range all {
		if has, _ := s.HasEvent(e.ID); has {
			held++
		}
	}
	if held != listed || held == len(all) {
		t.Fatalf("%d events held, %d listed for sync, of %d", held, listed, len(all))
	}
	// Sync gives back what was lost; nothing else is taken twice.
	if added := putAgain(t, s, all); added != len(all)-held {
		t.Fatalf("%d taken again, %d were missing", added, len(all)-held)
	}
	arrivals := map[uint64]bool{}
	for _, e := range all {
		got, err := s.Event(e.ID)
		if err != nil || !bytes.Equal(got.Raw, e.Raw) {
			t.Fatalf("event %d after repair: %v", e.Seq, err)
		}
		n, _, err := s.ArrivalOf(e.ID)
		if err != nil || arrivals[n] {
			t.Fatalf("arrival %d of event %d taken twice (%v)", n, e.Seq, err)
		}
		arrivals[n] = true
	}
	s.Reclaim() // compaction reads every table
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, dir)
	defer s.Close()
	if d, err := s.Scrub(context.Background()); err != nil || d.Found() != "" || d.Events != len(all) {
		t.Fatalf("scrub after the repair and a restart: %+v, %v", d, err)
	}
}

// tableWithMostEvents returns the table in dir holding the most envelope
// keys: envelopes are in the value log, so some tables hold only indexes.
func tableWithMostEvents(t *testing.T, dir string) string {
	t.Helper()
	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(tables) < 2 {
		t.Fatalf("%d tables on disk, want several", len(tables))
	}
	var most string
	count := 0
	for _, tb := range tables {
		n, err := store.EventBlocks(tb)
		if err != nil {
			t.Fatal(err)
		}
		if n > count {
			most, count = tb, n
		}
	}
	if most == "" {
		t.Fatalf("no table of %v holds events", tables)
	}
	return most
}

// Badger reads a block's entry count before it checks the block's
// checksum, and a broken count made it panic in whatever goroutine read
// the block: a node's mail delivery, a sync, a compactor, at every start.
// A table written over while the store was closed is no longer the one
// the store knew whole, so it has every block checked at open and is set
// aside; no read meets the broken blocks, and sync takes back what the
// table held.
func TestTableWrittenOverWhileClosedIsSetAside(t *testing.T) {
	dir := t.TempDir()
	a, all := writeRandomAndClose(t, dir, 20000, 100)
	broken := tableWithMostEvents(t, dir)
	if err := store.BreakBlock(broken, 0.5, true); err != nil {
		t.Fatalf("break a block's entry count: %v", err)
	}

	s := openAt(t, dir)
	defer s.Close()
	held := 0
	for _, e := range all {
		if _, err := s.Event(e.ID); err == nil {
			held++
		}
	}
	if held == len(all) {
		t.Fatal("every event is still held: the broken table was read")
	}
	d, err := s.Scrub(context.Background())
	if err != nil || len(d.SetAside) != 1 || !strings.Contains(d.SetAside[0], filepath.Base(broken)) || d.Tables != "" {
		t.Fatalf("scrub after a table was written over: %+v, %v", d, err)
	}
	listed := 0
	if err := s.ScopeItems(a.scope, nil, nil, func(uint64, event.ID) { listed++ }); err != nil || listed != held {
		t.Fatalf("%d events listed for sync, %d held (%v)", listed, held, err)
	}
	if added := putAgain(t, s, all); added != len(all)-held {
		t.Fatalf("%d taken again, %d were missing", added, len(all)-held)
	}
}

// A store closed cleanly opens without reading its tables' blocks; one
// whose record of whole tables is gone (a killed run's tables are not in
// it) has them all checked once.
func TestOnlyTablesNotKnownWholeAreReadAtOpen(t *testing.T) {
	dir := t.TempDir()
	writeRandomAndClose(t, dir, 5000, 100)
	checkedAtOpen := func() string {
		var log bytes.Buffer
		s, err := store.Open(store.Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(&log, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(log.String()) {
			if strings.Contains(line, "checked every block") {
				return line
			}
		}
		return ""
	}
	if line := checkedAtOpen(); line != "" {
		t.Fatalf("a cleanly closed store had its tables read at open: %s", line)
	}
	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err := os.Remove(filepath.Join(dir, "TABLES-CHECKED")); err != nil {
		t.Fatal(err)
	}
	if line := checkedAtOpen(); !strings.Contains(line, fmt.Sprintf("tables=%d ", len(tables))) {
		t.Fatalf("with no record, the open checked: %q, want all %d tables", line, len(tables))
	}
	if line := checkedAtOpen(); line != "" {
		t.Fatalf("the check at open was not recorded: %s", line)
	}
}
