package reconcile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

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

var errFrame = errors.New("bad sync frame")

func toWireBound(b Bound) wireBound { return wireBound{Time: b.Time, Prefix: b.Prefix, Inf: b.Inf} }

func (w wireBound) bound() (Bound, error) {
	if len(w.Prefix) > event.IDSize {
		return Bound{}, fmt.Errorf("%w: bound prefix of %d bytes", errFrame, len(w.Prefix))
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
		return nil, fmt.Errorf("%w: id list of %d bytes", errFrame, len(b))
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
		case ModeFingerprint:
			if len(w.FP) != len(out[i].FP) {
				return nil, fmt.Errorf("%w: fingerprint of %d bytes", errFrame, len(w.FP))
			}
			copy(out[i].FP[:], w.FP)
		case ModeIDList:
			if out[i].IDs, err = unpackIDs(w.IDs); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%w: range mode %d", errFrame, w.Mode)
		}
	}
	return out, nil
}

// conn reads and writes frames on a stream, counting bytes.
type conn struct {
	r         *bufio.Reader
	w         *bufio.Writer
	sent, got int64
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

func (c *conn) read() (*frame, error) {
	n, err := binary.ReadUvarint(c.r)
	if err != nil {
		return nil, err
	}
	if n > maxFrameSize {
		return nil, fmt.Errorf("%w: frame of %d bytes", errFrame, n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(c.r, buf); err != nil {
		return nil, err
	}
	c.got += int64(uvarintLen(n)) + int64(n)
	var f frame
	if err := decMode.Unmarshal(buf, &f); err != nil {
		return nil, fmt.Errorf("%w: %v", errFrame, err)
	}
	if f.Type < frameReconcile || f.Type > frameEnd {
		return nil, fmt.Errorf("%w: type %d", errFrame, f.Type)
	}
	if f.Type != frameEnd && len(f.Scope) != event.ScopeSize {
		return nil, fmt.Errorf("%w: scope of %d bytes", errFrame, len(f.Scope))
	}
	return &f, nil
}

func uvarintLen(n uint64) int { return len(binary.AppendUvarint(nil, n)) }
