package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// Envelopes live in Badger's value log (the store's value threshold). A
// value log damaged on disk, by flipped bytes or cut short, loses only the
// envelopes it held: the store opens, never returns wrong bytes, its scrub
// removes what cannot be read with its indexes, and the events are taken
// again whole, as sync brings them.
func TestDamagedValueLogLosesOnlyItsEnvelopes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string, size int64)
	}{
		{"bytes flipped", func(t *testing.T, path string, size int64) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			junk := make([]byte, 64)
			rand.Read(junk)
			if _, err := f.WriteAt(junk, size/2); err != nil {
				t.Fatal(err)
			}
		}},
		{"cut short", func(t *testing.T, path string, size int64) {
			if err := os.Truncate(path, size/2); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			a, all := writeRandomAndClose(t, dir, 3000, 300)
			logs, _ := filepath.Glob(filepath.Join(dir, "*.vlog"))
			var biggest string
			var size int64
			for _, l := range logs {
				if fi, err := os.Stat(l); err == nil && fi.Size() > size {
					biggest, size = l, fi.Size()
				}
			}
			if size < 1<<20 {
				t.Fatalf("value logs %v: the biggest holds %d bytes, want the envelopes there", logs, size)
			}
			tc.damage(t, biggest, size)

			s := openAt(t, dir)
			defer s.Close()
			d, err := s.Scrub(context.Background())
			if err != nil || d.Removed == 0 {
				t.Fatalf("scrub after the value log was damaged: %+v, %v", d, err)
			}
			t.Logf("found: %s (removed %d of %d)", d.Found(), d.Removed, len(all))
			held := 0
			for _, e := range all {
				got, err := s.Event(e.ID)
				if err != nil {
					continue
				}
				if !bytes.Equal(got.Raw, e.Raw) {
					t.Fatalf("event %d read back different", e.Seq)
				}
				held++
			}
			listed := 0
			if err := s.ScopeItems(a.scope, nil, nil, func(uint64, event.ID) { listed++ }); err != nil {
				t.Fatal(err)
			}
			if held != listed || held == len(all) || held+d.Removed != len(all) {
				t.Fatalf("%d events held, %d listed for sync, %d removed, of %d", held, listed, d.Removed, len(all))
			}
			if added := putAgain(t, s, all); added != d.Removed {
				t.Fatalf("%d taken again, %d were removed", added, d.Removed)
			}
			if d, err := s.Scrub(context.Background()); err != nil || d.Found() != "" || d.Events != len(all) {
				t.Fatalf("scrub after the repair: %+v, %v", d, err)
			}
		})
	}
}
