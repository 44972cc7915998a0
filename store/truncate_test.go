package store_test

import (
	"bytes"
	"context"
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
	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(tables) < 2 {
		t.Fatalf("%d tables on disk, want several", len(tables))
	}
	// The table holding the most envelope keys: envelopes are in the
	// value log, so some tables hold only indexes.
	var cut string
	most := 0
	for _, tb := range tables {
		n, err := store.EventBlocks(tb)
		if err != nil {
			t.Fatal(err)
		}
		if n > most {
			cut, most = tb, n
		}
	}
	if cut == "" {
		t.Fatalf("no table of %v holds events", tables)
	}
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
