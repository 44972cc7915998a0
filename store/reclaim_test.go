package store_test

import (
	"crypto/rand"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/store"
)

// dirBytes is what a directory's files take.
func dirBytes(t testing.TB, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		// Allocated blocks, as du counts: Badger's files are preallocated
		// sparse, so their length says little.
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// After an eviction, Reclaim gives the disk space back: the directory
// shrinks, not only the key count. Figures in docs/BENCHMARKS.md.
func TestReclaimShrinksTheDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("writes about 40 MB")
	}
	s, dir := openTemp(t)
	scope := randomScope(t)
	// Envelopes are ciphertext: they do not compress.
	buf := make([]byte, 3000)
	rand.Read(buf)
	payload := string(buf)
	const authors, each = 20, 500
	var evs []*event.Event
	for range authors {
		a := newAuthor(t, scope)
		for i := range each {
			evs = append(evs, a.next(int64(1_700_000_000_000+i), payload))
		}
	}
	for i := 0; i < len(evs); i += 500 {
		if _, err := s.PutEvents(evs[i:i+500], store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	written, err := s.ScopeBytes(scope)
	if err != nil {
		t.Fatal(err)
	}
	before := dirBytes(t, dir)
	n, err := s.EvictAuthors(scope, written/10, 0)
	if err != nil {
		t.Fatal(err)
	}
	evicted := dirBytes(t, dir)
	s.Reclaim()
	after := dirBytes(t, dir)
	t.Logf("wrote %d events, %d bytes of envelopes; on disk %d; evicted %d events, on disk %d; reclaimed, on disk %d",
		len(evs), written, before, n, evicted, after)
	if after > before/2 {
		t.Fatalf("after evicting 90%% and reclaiming, %d bytes on disk of %d", after, before)
	}
	if kept, _ := s.ScopeBytes(scope); kept > written/10 {
		t.Fatalf("%d bytes kept, quota %d", kept, written/10)
	}
}
