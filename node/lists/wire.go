package lists

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/content"
	"github.com/banyan-mesh/banyan/node/lists/crdt"
)

// Kind is the event kind of a list operation (PROTOCOL.md section 19).
const Kind = event.KindListOp

// Limits of what a list operation may hold.
const (
	MaxTitle = 128  // bytes of a list's title
	MaxText  = 1024 // bytes of an item's text
)

// wireOp is the plaintext of a list operation: a canonical CBOR map. A
// field absent is a field the operation does not set.
type wireOp struct {
	Clock  uint64  `cbor:"1,keyasint"`
	Target []byte  `cbor:"2,keyasint"`
	List   []byte  `cbor:"3,keyasint,omitempty"`
	Text   *string `cbor:"4,keyasint,omitempty"`
	Kind   *uint8  `cbor:"5,keyasint,omitempty"`
	Done   *bool   `cbor:"6,keyasint,omitempty"`
	Pos    *string `cbor:"7,keyasint,omitempty"`
	Delete bool    `cbor:"8,keyasint,omitempty"`
}

var (
	cborEnc = crypto.CanonicalCBOR
	cborDec = crypto.StrictCBOR(4, 16)
)

var errNotCanonical = errors.New("list operation is not in canonical CBOR form")

// encodeOp encodes an operation's fields (its stamp but for the clock
// comes from the event that carries it).
func encodeOp(op crdt.Op) ([]byte, error) {
	w := wireOp{Clock: op.Stamp.Clock, Target: op.Target[:], Text: op.Text, Done: op.Done, Pos: op.Pos, Delete: op.Delete}
	if op.List != nil {
		w.List = op.List[:]
	}
	if op.Kind != nil {
		k := uint8(*op.Kind)
		w.Kind = &k
	}
	b, err := cborEnc.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode list operation: %w", err)
	}
	if _, err := decodeOp(b); err != nil {
		return nil, err
	}
	return b, nil
}

// decodeOp decodes and checks a list operation's plaintext. Its work is
// bounded by the plaintext's size, which the envelope bounds.
func decodeOp(b []byte) (crdt.Op, error) {
	var w wireOp
	if err := cborDec.Unmarshal(b, &w); err != nil {
		return crdt.Op{}, fmt.Errorf("list operation: %w", err)
	}
	if canon, err := cborEnc.Marshal(w); err != nil || !bytes.Equal(canon, b) {
		return crdt.Op{}, errNotCanonical
	}
	var op crdt.Op
	switch {
	case w.Clock == 0:
		return op, errors.New("list operation: clock is 0")
	case len(w.Target) != crdt.IDSize:
		return op, fmt.Errorf("list operation: target is %d bytes, not %d", len(w.Target), crdt.IDSize)
	case w.List != nil && len(w.List) != crdt.IDSize:
		return op, fmt.Errorf("list operation: list is %d bytes, not %d", len(w.List), crdt.IDSize)
	case w.Delete && (w.Text != nil || w.Kind != nil || w.Done != nil || w.Pos != nil):
		return op, errors.New("list operation: a deletion sets no fields")
	case !w.Delete && w.Text == nil && w.Kind == nil && w.Done == nil && w.Pos == nil:
		return op, errors.New("list operation: sets nothing")
	}
	op.Stamp.Clock, op.Target, op.Text, op.Done, op.Pos, op.Delete = w.Clock, crdt.ID(w.Target), w.Text, w.Done, w.Pos, w.Delete
	if w.List == nil {
		// A list: a title and a kind, nothing of an item's.
		if w.Done != nil || w.Pos != nil {
			return op, errors.New("list operation: a list has no done mark or position")
		}
		if w.Text != nil {
			if err := content.CheckName("list title", *w.Text, MaxTitle); err != nil {
				return op, err
			}
		}
		if w.Kind != nil {
			k := crdt.Kind(*w.Kind)
			if k != crdt.Todo && k != crdt.Shopping {
				return op, fmt.Errorf("list operation: unknown list kind %d", k)
			}
			op.Kind = &k
		}
		return op, nil
	}
	l := crdt.ID(w.List)
	op.List = &l
	if w.Kind != nil {
		return op, errors.New("list operation: an item has no kind")
	}
	if w.Text != nil {
		if err := content.CheckName("item text", *w.Text, MaxText); err != nil {
			return op, err
		}
	}
	if w.Pos != nil && !crdt.ValidPos(*w.Pos) {
		return op, fmt.Errorf("list operation: %w", crdt.ErrPosition)
	}
	return op, nil
}

// ad binds an operation's ciphertext to its event, as a group message's
// is (PROTOCOL.md section 6.2), under a label of its own.
func ad(scope event.Scope, author []byte, seq uint64) []byte {
	ad := make([]byte, 0, 64+len(author)+8)
	ad = append(ad, "banyan/group-list/v1\x00"...)
	ad = append(ad, scope[:]...)
	ad = append(ad, author...)
	return binary.BigEndian.AppendUint64(ad, seq)
}
