// Package safefile keeps small records that must survive a crash, a power
// cut and a damaged event store: each is one file written whole through a
// temporary file, fsynced, renamed into place and made durable with an
// fsync of its directory, and carries a checksum that reading verifies.
// Records rewritten very often are slotted files instead (slotted.go).
//
// File format: "BNYF" (4 bytes), the data's length (4 bytes, big-endian),
// the data, then the SHA-256 of everything before it (32 bytes).
package safefile

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

const magic = "BNYF"

// MaxSize bounds the data of one file.
const MaxSize = 1 << 20

// ErrDamaged reports a file whose checksum, length or header is wrong.
var ErrDamaged = errors.New("file is damaged")

// Write replaces the file at path with data, durably: when it returns
// without error, the new contents survive a power cut, and at no moment
// does path hold anything but the old or the new contents.
func Write(path string, data []byte, mode fs.FileMode) (err error) {
	if len(data) > MaxSize {
		return fmt.Errorf("write %s: %d bytes is more than %d", path, len(data), MaxSize)
	}
	buf := frame([]byte(magic), data)

	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(buf); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return SyncDir(filepath.Dir(path))
}

// Read returns the data of the file at path, checked against its
// checksum. A file that is missing gives an error for which
// errors.Is(err, fs.ErrNotExist) holds; one that fails its checks,
// ErrDamaged.
func Read(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !bytes.HasPrefix(b, []byte(magic)) {
		return nil, fmt.Errorf("read %s: %w (no header)", path, ErrDamaged)
	}
	data, rest, err := unframe(b, len(magic))
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("%d bytes after the record", len(rest))
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w (%v)", path, ErrDamaged, err)
	}
	return data, nil
}

// frame returns head, the length of data (4 bytes, big-endian), data, and
// the SHA-256 of everything before it.
func frame(head, data []byte) []byte {
	buf := make([]byte, 0, len(head)+4+len(data)+sha256.Size)
	buf = append(buf, head...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(data)))
	buf = append(buf, data...)
	sum := sha256.Sum256(buf)
	return append(buf, sum[:]...)
}

// unframe checks the record frame made at the start of b, whose head is
// headLen bytes long, and returns its data and what follows it in b.
func unframe(b []byte, headLen int) (data, rest []byte, err error) {
	if len(b) < headLen+4+sha256.Size {
		return nil, nil, fmt.Errorf("%d bytes is too short", len(b))
	}
	n := int(binary.BigEndian.Uint32(b[headLen:]))
	end := headLen + 4 + n
	if n > len(b)-headLen-4-sha256.Size {
		return nil, nil, fmt.Errorf("length %d in %d bytes", n, len(b))
	}
	if want := sha256.Sum256(b[:end]); !bytes.Equal(b[end:end+sha256.Size], want[:]) {
		return nil, nil, errors.New("checksum")
	}
	return b[headLen+4 : end], b[end+sha256.Size:], nil
}

// SyncDir fsyncs a directory, so that files created or renamed in it
// survive a power cut.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
