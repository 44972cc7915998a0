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

// What is written reads back; a rewrite replaces it whole and leaves no
// temporary file behind.
func TestWriteRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if _, err := safefile.Read(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	for _, data := range [][]byte{[]byte("first"), {}, bytes.Repeat([]byte{7}, 70000)} {
		if err := safefile.Write(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := safefile.Read(path)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes, %v; want %d", len(got), err, len(data))
		}
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("temporary file left: %v", err)
	}
	if err := safefile.Write(path, make([]byte, safefile.MaxSize+1), 0o600); err == nil {
		t.Fatal("an oversized record was written")
	}
}

// Every flipped bit, and every truncation, is reported as damage.
func TestDamageIsDetected(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := safefile.Write(path, []byte("group keys"), 0o600); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(good) * 8 {
		bad := bytes.Clone(good)
		bad[i/8] ^= 1 << (i % 8)
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := safefile.Read(path); !errors.Is(err, safefile.ErrDamaged) {
			t.Fatalf("bit %d flipped: %v", i, err)
		}
	}
	for n := range len(good) {
		if err := os.WriteFile(path, good[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := safefile.Read(path); !errors.Is(err, safefile.ErrDamaged) {
			t.Fatalf("truncated to %d bytes: %v", n, err)
		}
	}
}
