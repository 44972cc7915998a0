package store_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/dgraph-io/badger/v4/options"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/store"
)

// eventSource hands out distinct signed events with 256-byte payloads,
// signing them in batches with the benchmark timer stopped.
type eventSource struct {
	b       *testing.B
	authors []*author
	buf     []*event.Event
	n       int64
}

func newEventSource(b *testing.B) *eventSource {
	scope := randomScope(b)
	src := &eventSource{b: b}
	for range 8 {
		src.authors = append(src.authors, newAuthor(b, scope))
	}
	return src
}

var benchPayload = string(bytes.Repeat([]byte{0x5a}, 256))

func (src *eventSource) next() *event.Event {
	if len(src.buf) == 0 {
		src.b.StopTimer()
		for range 512 {
			a := src.authors[src.n%int64(len(src.authors))]
			src.buf = append(src.buf, a.next(1_750_000_000_000+src.n, benchPayload))
			src.n++
		}
		src.b.StartTimer()
	}
	e := src.buf[0]
	src.buf = src.buf[1:]
	return e
}

func benchmarkPutEvent(b *testing.B, opts store.PutOptions) {
	s := openAt(b, b.TempDir())
	defer s.Close()
	src := newEventSource(b)
	b.SetBytes(int64(len(src.next().Raw)))
	b.ReportAllocs()
	for b.Loop() {
		added, _, err := s.PutEvent(src.next(), opts)
		if err != nil || !added {
			b.Fatalf("PutEvent = %v, %v", added, err)
		}
		if opts.Local {
			if err := s.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkPutEvent stores events received from peers (no fsync).
func BenchmarkPutEvent(b *testing.B) { benchmarkPutEvent(b, store.PutOptions{}) }

// BenchmarkPutEventLocal stores events created on this node and syncs each
// to stable storage, as a send does before it is acknowledged.
func BenchmarkPutEventLocal(b *testing.B) { benchmarkPutEvent(b, store.PutOptions{Local: true}) }

// BenchmarkHistoryPage reads the newest page of 50 events of a 1000-event
// scope, as the UI does when a chat is opened.
func BenchmarkHistoryPage(b *testing.B) {
	s := openAt(b, b.TempDir())
	defer s.Close()
	src := newEventSource(b)
	for range 1000 {
		if _, _, err := s.PutEvent(src.next(), store.PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	scope := src.authors[0].scope
	b.ReportAllocs()
	for b.Loop() {
		page, _, err := s.History(scope, store.Cursor{}, 50)
		if err != nil || len(page) != 50 {
			b.Fatalf("History = %d events, %v", len(page), err)
		}
	}
}

// BenchmarkOpen opens a store of 100,000 events (the page cache warm):
// all of Open, with the record of whole tables and without it, the check
// of every table's footer alone, and Badger alone
// with the checksum modes OnBlockRead (the store's) and OnTableRead
// (every block of every table read at open); and checks every block, as
// the scrub does and as Badger's VerifyChecksum does.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	s := openAt(b, dir)
	src := newEventSource(b)
	batch := make([]*event.Event, 0, 1000)
	for range 100 {
		batch = batch[:0]
		for range 1000 {
			batch = append(batch, src.next())
		}
		if _, err := s.PutEvents(batch, store.PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	lsm, _ := dirSize(dir)
	b.Logf("%d tables, %d MB", len(tables), lsm>>20)
	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			if err := openAt(b, dir).Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("store-unrecorded", func(b *testing.B) {
		// As after a run that was killed: no table is known whole, and
		// every block is checked.
		for b.Loop() {
			if err := os.Remove(filepath.Join(dir, "TABLES-CHECKED")); err != nil {
				b.Fatal(err)
			}
			if err := openAt(b, dir).Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("table-check", func(b *testing.B) {
		for b.Loop() {
			if bad, err := store.CheckTables(dir); err != nil || len(bad) > 0 {
				b.Fatal(bad, err)
			}
		}
	})
	b.Run("scrub-tables", func(b *testing.B) {
		s := openAt(b, dir)
		defer s.Close()
		for b.Loop() {
			if bad := s.VerifyTables(); bad != "" {
				b.Fatal(bad)
			}
		}
	})
	b.Run("badger-VerifyChecksum", func(b *testing.B) {
		db, err := store.OpenBadger(dir, options.OnBlockRead)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		for b.Loop() {
			if err := db.VerifyChecksum(); err != nil {
				b.Fatal(err)
			}
		}
	})
	for name, mode := range map[string]options.ChecksumVerificationMode{"badger-OnBlockRead": options.OnBlockRead, "badger-OnTableRead": options.OnTableRead} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				db, err := store.OpenBadger(dir, mode)
				if err != nil {
					b.Fatal(err)
				}
				if err := db.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func dirSize(dir string) (int64, error) {
	ents, err := os.ReadDir(dir)
	var n int64
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n, err
}

// BenchmarkScopeEvents loads a scope as a node loads its wallet's unit at
// start: 20,000 small envelopes, alone in the store (dense) or among
// 180,000 of another scope (sparse), read after a reopen so that they come
// from Badger's tables.
func BenchmarkScopeEvents(b *testing.B) {
	for _, c := range []struct {
		name   string
		others int
	}{{"dense", 0}, {"sparse", 180_000}} {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			s := openAt(b, dir)
			scope, other := randomScope(b), randomScope(b)
			put := func(sc event.Scope, n int) {
				var as []*author
				for range 20 {
					as = append(as, newAuthor(b, sc))
				}
				var batch []*event.Event
				for i := range n {
					batch = append(batch, as[i%len(as)].next(1_750_000_000_000+int64(i), "a payment of 12 to the shop"))
					if len(batch) == 1000 || i == n-1 {
						if _, err := s.PutEvents(batch, store.PutOptions{}); err != nil {
							b.Fatal(err)
						}
						batch = batch[:0]
					}
				}
			}
			put(scope, 20_000)
			put(other, c.others)
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			s = openAt(b, dir)
			defer s.Close()
			b.ReportAllocs()
			for b.Loop() {
				n := 0
				if err := s.ScopeEvents(scope, func(*event.Event) error { n++; return nil }); err != nil || n != 20_000 {
					b.Fatalf("ScopeEvents: %d events, %v", n, err)
				}
			}
		})
	}
}

// BenchmarkPutEventsFromPeer stores events from a peer in frames of 512,
// as a catch-up does (a frame of events is about 256 KiB); b.N counts
// events.
func BenchmarkPutEventsFromPeer(b *testing.B) {
	s := openAt(b, b.TempDir())
	defer s.Close()
	src := newEventSource(b)
	b.SetBytes(int64(len(src.next().Raw)))
	b.ReportAllocs()
	frame := make([]*event.Event, 0, 512)
	put := func() {
		if _, err := s.PutEvents(frame, store.PutOptions{Source: "12D3KooWPeer"}); err != nil {
			b.Fatal(err)
		}
		frame = frame[:0]
	}
	for b.Loop() {
		if frame = append(frame, src.next()); len(frame) == cap(frame) {
			put()
		}
	}
	if len(frame) > 0 {
		put()
	}
}
