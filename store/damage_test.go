package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/banyan-mesh/banyan/store"
)

// A store directory that lost its MANIFEST is refused with a clear error,
// not opened empty over the data it holds; put back, it opens whole.
func TestMissingManifestIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	e := newAuthor(t, randomScope(t)).next(1_700_000_000_000, "kept")
	mustPut(t, s, e, store.PutOptions{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(dir, "MANIFEST")
	saved, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(manifest); err != nil {
		t.Fatal(err)
	}
	_, err = store.Open(store.Options{Dir: dir, Logger: quietLogger})
	if !errors.Is(err, store.ErrNoManifest) || !strings.Contains(err.Error(), "empty store") {
		t.Fatalf("open without a MANIFEST: %v", err)
	}
	if _, err := os.Stat(manifest); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the refused open created a MANIFEST")
	}
	if err := os.WriteFile(manifest, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, dir)
	defer s.Close()
	if got, err := s.Event(e.ID); err != nil || got.ID != e.ID {
		t.Fatalf("the event after the MANIFEST came back: %v", err)
	}
}
