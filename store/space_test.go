package store_test

import (
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/store"
)

// smallDisk mounts a file system of size bytes (tmpfs) for the test, or
// skips it where that needs rights the test does not have.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a small file system needs root to mount (CI runs as root)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small file system here: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// On a full disk the store refuses new data with ErrDiskFull instead of
// dying in Badger's memory-mapped files, says it is unhealthy, still reads
// what it has, takes data again by itself when space returns, and has
// lost nothing when opened again.
func TestDiskFullRefusesAndRecovers(t *testing.T) {
	disk := smallDisk(t, "96m")
	dir := filepath.Join(disk, "store")
	s, err := store.Open(store.Options{Dir: dir, MinFree: 24 << 20, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	// Most of the disk is taken by something else.
	filler := filepath.Join(disk, "filler")
	if err := os.WriteFile(filler, make([]byte, 40<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	scope := randomScope(t)
	payload := make([]byte, 3000)
	var stored []*event.Event
	var refused error
	for batch := 0; batch < 1000 && refused == nil; batch++ {
		var evs []*event.Event
		for range 100 {
			rand.Read(payload)
			evs = append(evs, newAuthor(t, scope).next(time.Now().UnixMilli(), string(payload)))
		}
		if _, err := s.PutEvents(evs, store.PutOptions{}); err != nil {
			refused = err
			break
		}
		stored = append(stored, evs...)
	}
	if !errors.Is(refused, store.ErrDiskFull) {
		t.Fatalf("writing until the disk is full ended with %v, want ErrDiskFull", refused)
	}
	if err := s.Healthy(); !errors.Is(err, store.ErrDiskFull) {
		t.Fatalf("a full store says it is healthy: %v", err)
	}
	if e, err := s.Event(stored[0].ID); err != nil || e.ID != stored[0].ID {
		t.Fatalf("a full store does not read what it has: %v", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	more := newAuthor(t, scope).next(time.Now().UnixMilli(), "after the disk was freed")
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.PutEvents([]*event.Event{more}, store.PutOptions{})
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrDiskFull) || time.Now().After(deadline) {
			t.Fatalf("after space returned: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.Healthy(); err != nil {
		t.Fatalf("with room again: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, dir)
	for _, e := range append(stored, more) {
		if has, err := s.HasEvent(e.ID); err != nil || !has {
			t.Fatalf("after reopening, event %s is gone (%v)", e.ID, err)
		}
	}
	t.Logf("%d events stored before the disk was full", len(stored))
}
