package reconcile

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
)

// Frame types. A turn is a sequence of frames closed by frameEnd; an empty
// turn (frameEnd alone) means the sender has nothing more to say.
const (
	frameReconcile = 1 // Scope, Floor, Ranges
	frameEvents    = 2 // Scope, Events, Remaining
	frameWant      = 3 // Scope, IDs
	frameEnd       = 4
)

// Limits on what a peer can make this node decode or do.
const (
	maxFrameSize      = 1 << 20
	maxRanges         = 1 << 16 // in one scope's message, over all its frames
	maxRangesPerFrame = 4096
	maxTurns          = 256
	maxWantIDs        = 8192
	eventsPerFrame    = 256 << 10 // bytes of envelopes per events frame
)

// frame is the CBOR body of one length-prefixed frame.
type frame struct {
	Type      uint8       `cbor:"1,keyasint"`
	Scope     []byte      `cbor:"2,keyasint,omitempty"`
	Floor     *wireBound  `cbor:"3,keyasint,omitempty"`
	Ranges    []wireRange `cbor:"4,keyasint,omitempty"`
	Events    [][]byte    `cbor:"5,keyasint,omitempty"`
	Remaining uint64      `cbor:"6,keyasint,omitempty"`
	IDs       []byte      `cbor:"7,keyasint,omitempty"` // concatenated 32-byte IDs
}

type wireBound struct {
	Time   uint64 `cbor:"1,keyasint,omitempty"`
	Prefix []byte `cbor:"2,keyasint,omitempty"`
	Inf    bool   `cbor:"3,keyasint,omitempty"`
}

type wireRange struct {
	Upper wireBound `cbor:"1,keyasint"`
	Mode  Mode      `cbor:"2,keyasint,omitempty"`
	FP    []byte    `cbor:"3,keyasint,omitempty"`
	IDs   []byte    `cbor:"4,keyasint,omitempty"` // concatenated 32-byte IDs
}

var (
	encMode = crypto.CanonicalCBOR
	decMode = crypto.StrictCBOR(6, maxRanges)
)

func toWireBound(b Bound) wireBound { return wireBound{Time: b.Time, Prefix: b.Prefix, Inf: b.Inf} }

func (w wireBound) bound() (Bound, error) {
	if len(w.Prefix) > event.IDSize {
		return Bound{}, bad(ReasonBound, "bound prefix of %d bytes", len(w.Prefix))
	}
	if w.Inf && (w.Time != 0 || len(w.Prefix) != 0) {
		return Bound{}, bad(ReasonBound, "infinity with a time or prefix")
	}
	return Bound{Time: w.Time, Prefix: w.Prefix, Inf: w.Inf}, nil
}

func packIDs(ids []event.ID) []byte {
	out := make([]byte, 0, len(ids)*event.IDSize)
	for _, id := range ids {
		out = append(out, id[:]...)
	}
	return out
}

func unpackIDs(b []byte) ([]event.ID, error) {
	if len(b)%event.IDSize != 0 {
		return nil, bad(ReasonIDs, "id list of %d bytes", len(b))
	}
	ids := make([]event.ID, len(b)/event.IDSize)
	for i := range ids {
		copy(ids[i][:], b[i*event.IDSize:])
	}
	return ids, nil
}

func toWireRanges(rs []Range) []wireRange {
	out := make([]wireRange, len(rs))
	for i, r := range rs {
		out[i] = wireRange{Upper: toWireBound(r.Upper), Mode: r.Mode}
		switch r.Mode {
		case ModeFingerprint:
			out[i].FP = r.FP[:]
		case ModeIDList:
			out[i].IDs = packIDs(r.IDs)
		}
	}
	return out
}

func fromWireRanges(ws []wireRange) ([]Range, error) {
	out := make([]Range, len(ws))
	for i, w := range ws {
		ub, err := w.Upper.bound()
		if err != nil {
			return nil, err
		}
		out[i] = Range{Upper: ub, Mode: w.Mode}
		switch w.Mode {
		case ModeSkip:
			if len(w.FP) != 0 || len(w.IDs) != 0 {
				return nil, bad(ReasonRange, "skip range with a fingerprint or ids")
			}
		case ModeFingerprint:
			if len(w.FP) != len(out[i].FP) {
				return nil, bad(ReasonRange, "fingerprint of %d bytes", len(w.FP))
			}
			if len(w.IDs) != 0 {
				return nil, bad(ReasonRange, "fingerprint range with ids")
			}
			copy(out[i].FP[:], w.FP)
		case ModeIDList:
			if len(w.FP) != 0 {
				return nil, bad(ReasonRange, "id list range with a fingerprint")
			}
			if len(w.IDs) > idListMax*event.IDSize {
				return nil, bad(ReasonRange, "id list of %d bytes", len(w.IDs))
			}
			if out[i].IDs, err = unpackIDs(w.IDs); err != nil {
				return nil, err
			}
		default:
			return nil, bad(ReasonRange, "range mode %d", w.Mode)
		}
	}
	return out, nil
}

// check refuses a frame whose type is unknown or that carries keys its type
// does not use or lacks keys it needs (PROTOCOL.md section 12.5). A key
// with an empty value (an empty byte string or array, or 0) counts as
// absent, as the writer omits it.
func (f *frame) check() error {
	// Keys 2 to 7 as bits of a set.
	const (
		kScope = 1 << iota
		kFloor
		kRanges
		kEvents
		kRemaining
		kIDs
	)
	var need, may uint8
	switch f.Type {
	case frameReconcile:
		need = kScope | kFloor | kRanges
	case frameEvents:
		need, may = kScope|kEvents, kRemaining
	case frameWant:
		need = kScope | kIDs
	case frameEnd:
	default:
		return bad(ReasonFrameType, "type %d", f.Type)
	}
	var has uint8
	set := func(k uint8, present bool) {
		if present {
			has |= k
		}
	}
	set(kScope, len(f.Scope) > 0)
	set(kFloor, f.Floor != nil)
	set(kRanges, len(f.Ranges) > 0)
	set(kEvents, len(f.Events) > 0)
	set(kRemaining, f.Remaining != 0)
	set(kIDs, len(f.IDs) > 0)
	if has&need != need {
		return bad(ReasonFrameKeys, "frame of type %d lacks a key it needs", f.Type)
	}
	if has&^(need|may) != 0 {
		return bad(ReasonFrameKeys, "frame of type %d carries a key it does not use", f.Type)
	}
	if need&kScope != 0 && len(f.Scope) != event.ScopeSize {
		return bad(ReasonScope, "scope of %d bytes", len(f.Scope))
	}
	return nil
}

// conn reads and writes frames on a stream, counting bytes.
type conn struct {
	r    *bufio.Reader
	w    *bufio.Writer
	sent int64
	// got is written by the session's reader goroutine.
	got atomic.Int64
}

func newConn(rw io.ReadWriter) *conn {
	return &conn{r: bufio.NewReaderSize(rw, 64<<10), w: bufio.NewWriterSize(rw, 64<<10)}
}

func (c *conn) write(f *frame) error {
	b, err := encMode.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode frame: %w", err)
	}
	hdr := binary.AppendUvarint(nil, uint64(len(b)))
	if _, err := c.w.Write(hdr); err != nil {
		return err
	}
	if _, err := c.w.Write(b); err != nil {
		return err
	}
	c.sent += int64(len(hdr) + len(b))
	return nil
}

func (c *conn) flush() error { return c.w.Flush() }

// read reads and checks one frame: its length, its CBOR and its keys.
func (c *conn) read() (*frame, error) {
	n, err := c.readLength()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(c.r, buf); err != nil {
		return nil, err
	}
	c.got.Add(int64(uvarintLen(n)) + int64(n))
	var f frame
	if err := decMode.Unmarshal(buf, &f); err != nil {
		return nil, bad(ReasonDecode, "%v", err)
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	return &f, nil
}

// readLength reads a frame's uvarint length, refusing one above
// maxFrameSize as soon as it is known to be.
func (c *conn) readLength() (uint64, error) {
	var n uint64
	for i := range binary.MaxVarintLen64 {
		b, err := c.r.ReadByte()
		if err != nil {
			if i > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		// 1 MiB needs 21 bits: any bit from the fourth byte on is too many.
		if i < 3 {
			n |= uint64(b&0x7f) << (7 * i)
		} else if b&0x7f != 0 {
			n = maxFrameSize + 1
		}
		if n > maxFrameSize {
			return 0, bad(ReasonFrameSize, "frame of more than %d bytes", maxFrameSize)
		}
		if b < 0x80 {
			return n, nil
		}
	}
	return 0, bad(ReasonFrameSize, "frame length of more than %d bytes", binary.MaxVarintLen64)
}

func uvarintLen(n uint64) int { return len(binary.AppendUvarint(nil, n)) }
