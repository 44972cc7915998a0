package reconcile

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// Reasons for refusing sync input (PROTOCOL.md section 12.8): the keys of
// Counters.Malformed. A peer whose input is refused for any of them has its
// stream reset.
const (
	ReasonFrameSize = "frame_size"  // a frame length above 1 MiB
	ReasonDecode    = "decode"      // not a valid frame map (CBOR, keys, decoder limits)
	ReasonFrameType = "frame_type"  // an unknown frame type
	ReasonFrameKeys = "frame_keys"  // a key its frame type does not use, or a required one missing
	ReasonScope     = "scope"       // a scope that is not 32 bytes
	ReasonBound     = "bound"       // a prefix above 32 bytes, infinity with a time or prefix, a floor at infinity
	ReasonRange     = "range"       // an unknown mode, a key its mode does not use, a bad fingerprint, an ID list above 32 IDs
	ReasonIDs       = "ids"         // an ID list whose length is not a multiple of 32
	ReasonOrder     = "order"       // upper bounds not strictly increasing, a range after infinity, floors differing within a message
	ReasonOpen      = "open"        // a message whose last range does not reach infinity
	ReasonDuplicate = "duplicate"   // an ID listed twice in a message, or wanted twice
	ReasonTooMany   = "too_many"    // more ranges, IDs or wanted IDs than the reader's previous message allows
	ReasonOutOfTurn = "out_of_turn" // a frame sent while it was the reader's turn
	ReasonTurns     = "turns"       // more than maxTurns turns
	ReasonInvalid   = "invalid"     // more than maxRejected invalid events
)

// errFrame is wrapped by every refusal of sync input.
var errFrame = errors.New("bad sync input")

// malformed is a refusal of sync input, with its reason.
type malformed struct {
	reason string
	detail string
}

func (e *malformed) Error() string        { return fmt.Sprintf("%v (%s): %s", errFrame, e.reason, e.detail) }
func (e *malformed) Is(target error) bool { return target == errFrame }

func bad(reason, format string, args ...any) error {
	return &malformed{reason: reason, detail: fmt.Sprintf(format, args...)}
}

// reasonOf returns the reason input was refused for, if err is a refusal.
func reasonOf(err error) (string, bool) {
	var m *malformed
	if errors.As(err, &m) {
		return m.reason, true
	}
	return "", false
}

// msgCheck checks a reconciliation message as its ranges arrive, frame by
// frame (PROTOCOL.md section 12.4): the floor is not infinity; upper bounds
// strictly increase from the floor; the last is infinity and nothing
// follows it; an ID list holds at most idListMax IDs, none twice.
// If limited, the limits bound the ranges that are not skips, all ranges,
// and the IDs.
type msgCheck struct {
	limited                       bool
	maxNonSkip, maxRanges, maxIDs int

	floor, last          Bound
	begun, closed        bool
	nonSkip, ranges, ids int
}

// begin starts a message at floor, or checks that a further frame of the
// message carries the same floor.
func (c *msgCheck) begin(floor Bound) error {
	if floor.Inf {
		return bad(ReasonBound, "floor at infinity")
	}
	if c.begun {
		if floor.Compare(c.floor) != 0 {
			return bad(ReasonOrder, "floor changed within a message")
		}
		return nil
	}
	c.begun, c.floor, c.last = true, floor, floor
	return nil
}

// add checks the next ranges of the message.
func (c *msgCheck) add(rs []Range) error {
	for i := range rs {
		r := &rs[i]
		if c.closed {
			return bad(ReasonOrder, "a range after infinity")
		}
		if r.Upper.Compare(c.last) <= 0 {
			return bad(ReasonOrder, "upper bound not above the previous one")
		}
		c.last, c.closed = r.Upper, r.Upper.Inf
		c.ranges++
		switch r.Mode {
		case ModeSkip:
		case ModeFingerprint, ModeIDList:
			c.nonSkip++
		default:
			return bad(ReasonRange, "range mode %d", r.Mode)
		}
		if r.Mode == ModeIDList {
			if len(r.IDs) > idListMax {
				return bad(ReasonRange, "id list of %d ids", len(r.IDs))
			}
			c.ids += len(r.IDs)
			if c.limited && c.ids > c.maxIDs {
				return bad(ReasonTooMany, "more than %d ids in a message", c.maxIDs)
			}
			if i, j, dup := duplicate(r.IDs); dup {
				return bad(ReasonDuplicate, "id %x listed twice (%d and %d)", r.IDs[i][:4], i, j)
			}
		}
		if c.limited && c.nonSkip > c.maxNonSkip {
			return bad(ReasonTooMany, "more than %d ranges to compare in a message", c.maxNonSkip)
		}
		if c.limited && c.ranges > c.maxRanges {
			return bad(ReasonTooMany, "more than %d ranges in a message", c.maxRanges)
		}
	}
	return nil
}

// done checks that the message is complete: it reaches infinity.
func (c *msgCheck) done() error {
	if !c.closed {
		return bad(ReasonOpen, "the last range does not reach infinity")
	}
	return nil
}

// checkMessage checks a whole message starting at floor, without limits.
func checkMessage(floor Bound, msg []Range) error {
	var c msgCheck
	if err := c.begin(floor); err != nil {
		return err
	}
	if err := c.add(msg); err != nil {
		return err
	}
	return c.done()
}

// duplicate reports the positions of an ID that occurs twice in ids (at
// most idListMax of them).
func duplicate(ids []event.ID) (i, j int, dup bool) {
	var keys [idListMax]uint64
	for k := range ids {
		keys[k] = binary.LittleEndian.Uint64(ids[k][:8])
	}
	for i := range ids {
		for j := i + 1; j < len(ids); j++ {
			if keys[i] == keys[j] && ids[i] == ids[j] {
				return i, j, true
			}
		}
	}
	return 0, 0, false
}
