package store_test

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/banyan-mesh/banyan/store"
)

// fakeDisk is a disk whose free space the test sets.
type fakeDisk struct{ free atomic.Uint64 }

func (d *fakeDisk) opts(dir string) store.Options {
	return store.Options{Dir: dir, Logger: quietLogger, Reserve: 40 << 20, FreeSpace: func(string) (uint64, error) { return d.free.Load(), nil }}
}

// Below the reserve every write that adds data is refused with a
// DiskFullError (507 in the API), while everything stored can still be
// read; once space is freed writing resumes by itself.
func TestFullDiskRefusesWritesAndRecovers(t *testing.T) {
	dir := t.TempDir()
	disk := &fakeDisk{}
	disk.free.Store(1 << 30)
	s, err := store.Open(disk.opts(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tbl, err := s.Table("notes")
	if err != nil {
		t.Fatal(err)
	}
	a := newAuthor(t, randomScope(t))
	first := a.next(1_700_000_000_000, "before")
	mustPut(t, s, first, store.PutOptions{})

	disk.free.Store(39 << 20)
	st := s.Space()
	if st.Refused == nil || st.Free != 39<<20 || st.Reserve != 40<<20 {
		t.Fatalf("space on a full disk: %+v", st)
	}
	_, _, err = s.PutEvent(a.next(1_700_000_000_001, "refused"), store.PutOptions{})
	var full *store.DiskFullError
	if !errors.Is(err, store.ErrDiskFull) || !errors.As(err, &full) || full.HTTPStatus() != 507 || full.ReadOnly {
		t.Fatalf("event on a full disk: %v", err)
	}
	if err := tbl.Put([]byte("k"), []byte("v")); !errors.Is(err, store.ErrDiskFull) {
		t.Fatalf("table record on a full disk: %v", err)
	}
	if got, err := s.Event(first.ID); err != nil || got.ID != first.ID {
		t.Fatalf("reading on a full disk: %v", err)
	}
	if err := s.Healthy(); err != nil {
		t.Fatalf("a full disk is not an unhealthy store: %v", err)
	}

	disk.free.Store(41 << 20)
	if st := s.Space(); st.Refused != nil {
		t.Fatalf("space freed, still refused: %+v", st.Refused)
	}
	if err := tbl.Put([]byte("k"), []byte("v")); err != nil {
		t.Fatalf("table record once space is back: %v", err)
	}
	mustPut(t, s, a.next(1_700_000_000_002, "after"), store.PutOptions{})
}

// On a disk too full even to open the store for writing, a store that was
// closed cleanly opens read-only: it is read, writes are refused, and
// stay refused until a restart with room.
func TestStoreOpensReadOnlyOnAFullDisk(t *testing.T) {
	dir := t.TempDir()
	disk := &fakeDisk{}
	disk.free.Store(1 << 30)
	s, err := store.Open(disk.opts(dir))
	if err != nil {
		t.Fatal(err)
	}
	e := newAuthor(t, randomScope(t)).next(1_700_000_000_000, "kept")
	mustPut(t, s, e, store.PutOptions{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	disk.free.Store(1 << 20)
	s, err = store.Open(disk.opts(dir))
	if err != nil {
		t.Fatalf("open on a full disk: %v", err)
	}
	if got, err := s.Event(e.ID); err != nil || got.ID != e.ID {
		t.Fatalf("reading a read-only store: %v", err)
	}
	disk.free.Store(1 << 30)
	st := s.Space()
	if st.Refused == nil || !st.Refused.ReadOnly {
		t.Fatalf("a read-only store says it can write: %+v", st)
	}
	if _, _, err := s.PutEvent(newAuthor(t, randomScope(t)).next(1_700_000_000_000, "x"), store.PutOptions{}); !errors.Is(err, store.ErrDiskFull) {
		t.Fatalf("write to a read-only store: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = store.Open(disk.opts(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustPut(t, s, newAuthor(t, randomScope(t)).next(1_700_000_000_000, "y"), store.PutOptions{})
}
