package safefile_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/banyan-mesh/banyan/store/safefile"
)

func readSlotted(t *testing.T, path string) []byte {
	t.Helper()
	got, _, err := safefile.ReadSlotted(path)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return got
}

// Each write is read back; the copy it replaced stays beside it, so that
// damage to the newest copy, as a write cut short leaves, gives the one
// before, and damage to both is an error, never wrong data.
func TestSlottedKeepsTheCopyBefore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mark")
	if _, _, err := safefile.ReadSlotted(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing file: %v", err)
	}
	var at safefile.Slot
	var err error
	for i, data := range []string{"one", "two, longer than one", "3"} {
		if at, err = safefile.WriteSlotted(path, at, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := readSlotted(t, path); string(got) != data {
			t.Fatalf("write %d read back %q", i, got)
		}
	}
	// "3" is in the first copy, "two, longer than one" in the second.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	damaged := bytes.Clone(b)
	damaged[20] ^= 1
	if err := os.WriteFile(path, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := readSlotted(t, path); string(got) != "two, longer than one" {
		t.Fatalf("with the newest copy damaged: %q", got)
	}
	cut := b[:safefile.SlotSpan+10]
	if err := os.WriteFile(path, cut, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := readSlotted(t, path); string(got) != "3" {
		t.Fatalf("with the older copy cut short: %q", got)
	}
	damaged[safefile.SlotSpan+20] ^= 1
	if err := os.WriteFile(path, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _, err := safefile.ReadSlotted(path); !errors.Is(err, safefile.ErrDamaged) {
		t.Fatalf("with both copies damaged: %q, %v", got, err)
	}
	if _, err := safefile.WriteSlotted(path, at, make([]byte, safefile.SlotSpan), 0o600); err == nil {
		t.Fatal("a record larger than a slot was written")
	}
}

// A record in Write's format is read as the older copy, and survives the
// first slotted write until a second one replaces it.
func TestSlottedReadsWriteFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mark")
	if err := safefile.Write(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, at, err := safefile.ReadSlotted(path)
	if err != nil || string(got) != "old" {
		t.Fatalf("read: %q, %v", got, err)
	}
	if _, err := safefile.WriteSlotted(path, at, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := readSlotted(t, path); string(got) != "new" {
		t.Fatalf("after a write: %q", got)
	}
	b, _ := os.ReadFile(path)
	b[safefile.SlotSpan+20] ^= 1
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := readSlotted(t, path); string(got) != "old" {
		t.Fatalf("with the new copy damaged: %q", got)
	}
}

func BenchmarkWrite(b *testing.B) {
	dir := b.TempDir()
	data := bytes.Repeat([]byte("x"), 600)
	b.Run("whole", func(b *testing.B) {
		for b.Loop() {
			if err := safefile.Write(filepath.Join(dir, "whole"), data, 0o600); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("slotted", func(b *testing.B) {
		var at safefile.Slot
		var err error
		for b.Loop() {
			if at, err = safefile.WriteSlotted(filepath.Join(dir, "slotted"), at, data, 0o600); err != nil {
				b.Fatal(err)
			}
		}
	})
}
