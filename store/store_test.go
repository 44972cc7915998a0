package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/store"
)

// TestReopen checks durability across a restart: everything written before
// Close is there after Open, and arrival numbers keep increasing.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	scope := randomScope(t)
	a, b := newAuthor(t, scope), newAuthor(t, randomScope(t))
	var events []*event.Event
	var lastArrival uint64
	for i := range 40 {
		w := a
		if i%4 == 0 {
			w = b
		}
		e := w.next(int64(i), "before restart")
		events = append(events, e)
		lastArrival = mustPut(t, s, e, store.PutOptions{Local: i%5 == 0})
	}
	groups := mustTable(t, s, "groups")
	if err := groups.Put([]byte("village"), []byte("record")); err != nil {
		t.Fatal(err)
	}
	histBefore, _, err := s.History(scope, store.Cursor{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	arrBefore, err := s.ArrivalsSince(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	for round := range 2 {
		s = openAt(t, dir)
		for _, e := range events {
			got, err := s.Event(e.ID)
			if err != nil {
				t.Fatalf("round %d: event lost: %v", round, err)
			}
			assertSameEvent(t, got, e)
		}
		hist, _, err := s.History(scope, store.Cursor{}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(hist), ids(histBefore)) {
			t.Fatalf("round %d: history changed across restart", round)
		}
		arr, err := s.ArrivalsSince(0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(arr) < len(arrBefore) {
			t.Fatalf("round %d: arrival log has %d entries, had %d", round, len(arr), len(arrBefore))
		}
		for i := range arrBefore {
			if arr[i].Seq != arrBefore[i].Seq || arr[i].Event.ID != arrBefore[i].Event.ID {
				t.Fatalf("round %d: arrival %d changed across restart", round, i)
			}
		}
		if seq, id, err := s.Head(scope, a.id.PublicKey()); err != nil || seq != a.seq || id != a.prev {
			t.Fatalf("round %d: Head = %d, %s, %v; want %d, %s", round, seq, id, err, a.seq, a.prev)
		}
		if v, err := mustTable(t, s, "groups").Get([]byte("village")); err != nil || string(v) != "record" {
			t.Fatalf("round %d: table record lost: %q, %v", round, v, err)
		}
		// Duplicates are still recognised after the restart.
		if added, _, err := s.PutEvent(events[0], store.PutOptions{}); err != nil || added {
			t.Fatalf("round %d: re-put of a stored event = %v, %v", round, added, err)
		}

		// New arrivals continue after the old ones.
		for i := range 3 {
			e := a.next(int64(1000+round*10+i), "after restart")
			events = append(events, e)
			arrival := mustPut(t, s, e, store.PutOptions{Local: i == 0})
			if arrival <= lastArrival {
				t.Fatalf("round %d: arrival %d after restart is not after %d", round, arrival, lastArrival)
			}
			lastArrival = arrival
		}
		histBefore, _, err = s.History(scope, store.Cursor{}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		arrBefore, err = s.ArrivalsSince(0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("round %d: Close: %v", round, err)
		}
	}
}

func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	second, err := store.Open(store.Options{Dir: dir, Logger: quietLogger})
	if err == nil {
		second.Close()
		t.Fatal("second Open of an open directory succeeded")
	}
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the directory", err)
	}
	// The first store is unaffected and, once closed, frees the directory.
	a := newAuthor(t, randomScope(t))
	mustPut(t, s, a.next(1, "m"), store.PutOptions{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, dir)
	if n, err := s.CountAfter(a.scope, store.Cursor{}); err != nil || n != 1 {
		t.Fatalf("CountAfter after reopen = %d, %v", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenCorrupt(t *testing.T) {
	junk := []byte("this is not a badger file \x00\x01\x02\xff\xfe garbage garbage garbage garbage")

	// A real store, then damaged.
	populated := func(t *testing.T) string {
		dir := t.TempDir()
		s := openAt(t, dir)
		a := newAuthor(t, randomScope(t))
		for i := range 20 {
			mustPut(t, s, a.next(int64(i), "m"), store.PutOptions{Local: true})
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	damage := func(name string, content []byte) func(t *testing.T) string {
		return func(t *testing.T) string {
			dir := populated(t)
			if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
				t.Fatal(err)
			}
			return dir
		}
	}
	// A fresh directory holding only junk files.
	junkDir := func(names ...string) func(t *testing.T) string {
		return func(t *testing.T) string {
			dir := t.TempDir()
			for _, n := range names {
				if err := os.WriteFile(filepath.Join(dir, n), junk, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			return dir
		}
	}

	tests := []struct {
		name string
		dir  func(t *testing.T) string
	}{
		{"garbage MANIFEST", damage("MANIFEST", junk)},
		{"MANIFEST with bad magic", damage("MANIFEST", []byte("Bdgx\x00\x00\x00\x08"))},
		{"MANIFEST of unknown version", damage("MANIFEST", []byte("Bdgr\x00\x00\x00\x63"))},
		// Right header, then a record whose checksum does not match.
		{"MANIFEST with bad checksum", damage("MANIFEST", []byte("Bdgr\x00\x00\x00\x08\x00\x00\x00\x04\x00\x00\x00\x00abcd"))},
		// Right header, then a record longer than the file.
		{"MANIFEST with oversize record", damage("MANIFEST", []byte("Bdgr\x00\x00\x00\x08\x7f\x00\x00\x00\x00\x00\x00\x00"))},
		{"garbage KEYREGISTRY", damage("KEYREGISTRY", junk)},
		{"only a junk MANIFEST", junkDir("MANIFEST")},
		{"junk MANIFEST and tables", junkDir("MANIFEST", "000001.sst", "000001.vlog", "KEYREGISTRY")},
		{"data directory is a file", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "file")
			if err := os.WriteFile(p, junk, 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir(t)
			s, err := store.Open(store.Options{Dir: dir, Logger: quietLogger})
			if err == nil {
				s.Close()
				t.Fatal("Open of a damaged directory succeeded")
			}
			if s != nil {
				t.Fatal("Open returned a store with an error")
			}
			if errors.Is(err, store.ErrLocked) {
				t.Fatalf("damage reported as a lock: %v", err)
			}
		})
	}
}

func TestHealthAndSize(t *testing.T) {
	s, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Healthy(); err != nil {
		t.Fatalf("a fresh store is not healthy: %v", err)
	}
	// The files are there from the start (manifest, memtable log, value
	// log), and sparse: far less than their lengths.
	if lsm, vlog := s.DiskSize(); lsm <= 0 || vlog <= 0 || vlog > 64<<20 {
		t.Fatalf("sizes %d, %d", lsm, vlog)
	}
	s.Close()
	if err := s.Healthy(); err == nil {
		t.Fatal("a closed store says it is healthy")
	}
}

// The heap a store holds from its open on is at least what Preallocated
// says: the node's memory tuner counts on it (node/heapgoal).
func TestPreallocatedIsHeld(t *testing.T) {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	before := m.HeapAlloc
	s, _ := openTemp(t)
	runtime.GC()
	runtime.ReadMemStats(&m)
	held := int64(m.HeapAlloc) - int64(before)
	p := s.Preallocated()
	if p < 8<<20 {
		t.Fatalf("Preallocated() = %d bytes, less than the 8 MiB memtable", p)
	}
	if held < int64(p) {
		t.Fatalf("the open store holds %d bytes of heap, less than Preallocated() = %d", held, p)
	}
	runtime.KeepAlive(s)
}
