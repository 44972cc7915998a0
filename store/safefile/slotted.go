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

// A slotted file keeps a record that is rewritten often, such as a chain's
// mark before every message, at the cost of one data sync per write
// instead of Write's two syncs, rename and directory sync. It holds two
// copies at fixed offsets, 0 and SlotSpan, each with its own header and
// checksum, and a write overwrites the older copy in place: a write cut
// short by a power cut damages only the copy it was writing, and the
// other, one write older, is read instead. A copy that fails its checks
// is never returned.
//
// Copy format: "BNYS" (4 bytes), the copy's generation (8 bytes,
// big-endian, higher is newer), the data's length (4 bytes), the data,
// then the SHA-256 of everything before it (32 bytes). A file in Write's
// format is read as a copy of generation 0 in the first slot, so that
// records written before are read and replaced without a step of their
// own.

// SlotSpan is the offset of the second copy; the data of one copy is at
// most SlotSpan less its 48 bytes of framing.
const SlotSpan = 260 << 10

const (
	slotMagic = "BNYS"
	// slotHead is the magic and the generation, before the length.
	slotHead     = len(slotMagic) + 8
	slotOverhead = slotHead + 4 + sha256.Size
)

// Slot says which copy of a slotted file is the newest, and so which the
// next write replaces. The zero Slot is a file with no copy yet.
type Slot struct {
	gen   uint64
	index int
	held  bool
}

// ReadSlotted returns the data of the newest copy of the slotted file at
// path that passes its checks, and where it is. A missing file gives an
// error for which errors.Is(err, fs.ErrNotExist) holds; one with no good
// copy, ErrDamaged.
func ReadSlotted(path string) ([]byte, Slot, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, Slot{}, fmt.Errorf("read %s: %w", path, err)
	}
	var best []byte
	var at Slot
	for i := range 2 {
		if len(b) <= i*SlotSpan {
			break
		}
		data, gen, ok := parseSlot(b[i*SlotSpan : min(len(b), (i+1)*SlotSpan)])
		if ok && (!at.held || gen > at.gen) {
			best, at = data, Slot{gen: gen, index: i, held: true}
		}
	}
	if !at.held {
		return nil, Slot{}, fmt.Errorf("read %s: %w (no copy passes its checks)", path, ErrDamaged)
	}
	return best, at, nil
}

// parseSlot checks one copy, which may be followed by other bytes.
func parseSlot(b []byte) (data []byte, gen uint64, ok bool) {
	var err error
	switch {
	case bytes.HasPrefix(b, []byte(magic)):
		// Write's format, where Write left it: generation 0.
		data, _, err = unframe(b, len(magic))
	case bytes.HasPrefix(b, []byte(slotMagic)) && len(b) >= slotHead:
		gen = binary.BigEndian.Uint64(b[len(slotMagic):])
		data, _, err = unframe(b, slotHead)
	default:
		return nil, 0, false
	}
	return data, gen, err == nil
}

// WriteSlotted writes data as the newest copy of the slotted file at path,
// over the copy older than last (the Slot its last read or write
// returned), durably: when it returns without error, data survives a power
// cut. It returns where the new copy is.
func WriteSlotted(path string, last Slot, data []byte, mode fs.FileMode) (Slot, error) {
	if len(data) > SlotSpan-slotOverhead {
		return last, fmt.Errorf("write %s: %d bytes is more than a slot's %d", path, len(data), SlotSpan-slotOverhead)
	}
	next := Slot{gen: 1, held: true}
	if last.held {
		next.gen, next.index = last.gen+1, 1-last.index
	}
	buf := frame(binary.BigEndian.AppendUint64([]byte(slotMagic), next.gen), data)

	created := false
	f, err := os.OpenFile(path, os.O_WRONLY, mode)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		created = true
	}
	if err != nil {
		return last, fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.WriteAt(buf, int64(next.index*SlotSpan)); err != nil {
		f.Close()
		return last, fmt.Errorf("write %s: %w", path, err)
	}
	if err := datasync(f); err != nil {
		f.Close()
		return last, fmt.Errorf("write %s: sync: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return last, fmt.Errorf("write %s: %w", path, err)
	}
	if created {
		if err := SyncDir(filepath.Dir(path)); err != nil {
			return last, err
		}
	}
	return next, nil
}
