// Package reconcile implements Banyan's catch-up sync: range-based set
// reconciliation over the (time, id) items of a scope, the libp2p stream
// protocol that runs it and moves the missing events (a session per sync),
// and the scheduler (Syncer) that decides when syncs run.
//
// Two peers compare fingerprints of ranges of their sorted items. Equal
// ranges are done; differing ranges are split into sub-ranges, until a
// range is small enough to be sent as a list of IDs, from which each side
// sees what the other lacks. Peers that are in sync agree in three turns
// (a message, an acknowledgement, an empty turn) with a few dozen bytes per
// scope; otherwise the rounds grow with the logarithm of the set and the
// bytes with the size of the difference.
//
// Sync serves peers that may be hostile (mailbox scopes are public): every
// message is checked as it arrives, the work one turn can cause is bounded
// by the scope this node holds, and input that breaks the rules resets the
// stream and is counted (Syncer.Counters).
package reconcile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/bits"
	"sort"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// Item is one element of a replicated set: an event's sort time (the
// store's order-preserving encoding of the author's timestamp) and its ID.
type Item struct {
	Time uint64
	ID   event.ID
}

// Compare orders items by (time, id).
func (a Item) Compare(b Item) int {
	if a.Time != b.Time {
		if a.Time < b.Time {
			return -1
		}
		return 1
	}
	return bytes.Compare(a.ID[:], b.ID[:])
}

// Bound is a position between items: everything sorting before (Time,
// Prefix padded with zero bytes) is below it. Inf is above every item.
type Bound struct {
	Time   uint64
	Prefix []byte
	Inf    bool
}

// Below reports whether item it sorts before bound b.
func (b Bound) Below(it Item) bool {
	if b.Inf {
		return true
	}
	if it.Time != b.Time {
		return it.Time < b.Time
	}
	return bytes.Compare(it.ID[:len(b.Prefix)], b.Prefix) < 0
}

// BoundAt returns the bound just at item it (it is not below it).
func BoundAt(it Item) Bound { return Bound{Time: it.Time, Prefix: it.ID[:]} }

// between returns the shortest bound that is above prev and at or below
// next.
func between(prev, next Item) Bound {
	if prev.Time != next.Time {
		return Bound{Time: next.Time}
	}
	n := 0
	for n < len(next.ID) && prev.ID[n] == next.ID[n] {
		n++
	}
	return Bound{Time: next.Time, Prefix: bytes.Clone(next.ID[:n+1])}
}

// Fingerprint summarises a set of items: a hash of the sum of their IDs
// (as 256-bit integers) and their count. The sum makes it independent of
// order and cheap to maintain.
type Fingerprint [16]byte

// FingerprintOf returns the fingerprint of items.
func FingerprintOf(items []Item) Fingerprint {
	var sum Sum
	for i := range items {
		var carry uint64
		for w := range 4 {
			v := binary.LittleEndian.Uint64(items[i].ID[w*8:])
			sum.Acc[w], carry = bits.Add64(sum.Acc[w], v, carry)
		}
	}
	sum.Count = uint64(len(items))
	return sum.Fingerprint()
}

// Sum is what a fingerprint hashes: the sum of a set's IDs, as a 256-bit
// integer (little-endian words, modulo 2^256), and the set's count. Sums
// of disjoint sets add, and the sum of a range is the sum below its upper
// bound minus the sum below its lower one.
type Sum struct {
	Acc   [4]uint64
	Count uint64
}

// Add adds id to s.
func (s *Sum) Add(id event.ID) {
	var carry uint64
	for w := range 4 {
		v := binary.LittleEndian.Uint64(id[w*8:])
		s.Acc[w], carry = bits.Add64(s.Acc[w], v, carry)
	}
	s.Count++
}

// Plus returns the sum of the union of two disjoint sets.
func (s Sum) Plus(o Sum) Sum {
	var carry uint64
	for w := range 4 {
		s.Acc[w], carry = bits.Add64(s.Acc[w], o.Acc[w], carry)
	}
	s.Count += o.Count
	return s
}

// Minus returns the sum of s's set without o's, which it contains.
func (s Sum) Minus(o Sum) Sum {
	var borrow uint64
	for w := range 4 {
		s.Acc[w], borrow = bits.Sub64(s.Acc[w], o.Acc[w], borrow)
	}
	s.Count -= o.Count
	return s
}

// Fingerprint returns the fingerprint of the set s sums.
func (s Sum) Fingerprint() Fingerprint {
	buf := make([]byte, 0, 32+binary.MaxVarintLen64)
	for w := range 4 {
		buf = binary.LittleEndian.AppendUint64(buf, s.Acc[w])
	}
	buf = binary.AppendUvarint(buf, s.Count)
	h := sha256.Sum256(buf)
	var fp Fingerprint
	copy(fp[:], h[:16])
	return fp
}

// Mode says how a range is described.
type Mode uint8

// Range modes.
const (
	ModeSkip        Mode = 0 // nothing more to do in this range
	ModeFingerprint Mode = 1 // compare fingerprints
	ModeIDList      Mode = 2 // here are all my IDs in the range
)

// Range is one step of a reconciliation message. Ranges in a message are
// contiguous: each starts where the previous ended (the first at the
// scope's floor) and ends at Upper.
type Range struct {
	Upper Bound
	Mode  Mode
	FP    Fingerprint
	IDs   []event.ID
}

// Set is the local side of a scope: its items in order.
type Set interface {
	// Items returns the items in [lo, hi), in order.
	Items(lo, hi Bound) ([]Item, error)
}

// Tuning of the reconciliation. Ranges with at most idListMax items are sent
// as ID lists; larger ones are split into branches sub-ranges.
const (
	idListMax = 32
	branches  = 16
)

// Start returns the first message of a reconciliation of set from floor.
func Start(set Set, floor Bound) ([]Range, error) {
	sm, err := newSummed(set)
	if err != nil {
		return nil, err
	}
	if sm != nil {
		slo, shi, ok, err := sm.sums(floor, Bound{Inf: true})
		if err != nil {
			return nil, err
		}
		if ok {
			msg, ok, err := sm.split(floor, Bound{Inf: true}, slo, shi)
			if err != nil || ok {
				return msg, err
			}
		}
	}
	mine, err := set.Items(floor, Bound{Inf: true})
	if err != nil {
		return nil, err
	}
	return split(mine, Bound{Inf: true}), nil
}

// Result is what processing a message found.
type Result struct {
	// Reply is the next message; nil when reconciliation is complete.
	Reply []Range
	// Have lists my items the peer lacks.
	Have []event.ID
	// Need lists the peer's items I lack.
	Need []event.ID
}

// Process answers a peer's message about set, which starts at floor. A
// message that is not well formed is refused: its upper bounds must
// strictly increase from floor and the last must be infinity, and an ID
// list holds at most idListMax IDs, none twice.
//
// The work is bounded by the set, not by the message: the ranges are
// disjoint, so each item is read at most once, in at most maxQueries+1
// calls to set.Items; Have holds each of my items at most once, Need only
// IDs the peer listed (once per list that holds them), and the reply
// describes each of my items at most once. A set that keeps sums
// (SummedSet) answers fingerprint ranges from them, with at most one
// partial read of a block per summedCost items of the set.
func Process(set Set, floor Bound, msg []Range) (*Result, error) {
	if err := checkMessage(floor, msg); err != nil {
		return nil, err
	}
	return process(context.Background(), set, floor, msg)
}

// maxQueries bounds the calls to Set.Items that one message causes: runs of
// adjacent ranges that need my items are read with one call each, and
// whatever runs remain after maxQueries are read with one more call.
const maxQueries = 64

// process is Process for a message already checked. It stops when ctx is
// done.
func process(ctx context.Context, set Set, floor Bound, msg []Range) (*Result, error) {
	sm, err := newSummed(set)
	if err != nil {
		return nil, err
	}
	src := itemSource{ctx: ctx, set: set, msg: msg, summed: sm != nil}
	res := &Result{}
	lower := floor
	pendingWork := false
	for i, r := range msg {
		if i%64 == 0 && ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		upper := r.Upper
		switch r.Mode {
		case ModeSkip:
			res.Reply = appendSkip(res.Reply, upper)
		case ModeFingerprint:
			if sm != nil {
				reply, ok, err := sm.fingerprint(lower, upper, r.FP)
				if err != nil {
					return nil, err
				}
				if ok {
					if reply == nil {
						res.Reply = appendSkip(res.Reply, upper)
					} else {
						res.Reply = append(res.Reply, reply...)
						pendingWork = true
					}
					break
				}
			}
			mine, err := src.items(i, lower, upper)
			if err != nil {
				return nil, err
			}
			if FingerprintOf(mine) == r.FP {
				res.Reply = appendSkip(res.Reply, upper)
				break
			}
			res.Reply = append(res.Reply, split(mine, upper)...)
			pendingWork = true
		case ModeIDList:
			mine, err := src.items(i, lower, upper)
			if err != nil {
				return nil, err
			}
			theirs := make(map[event.ID]struct{}, len(r.IDs))
			for _, id := range r.IDs {
				theirs[id] = struct{}{}
			}
			for _, it := range mine {
				if _, ok := theirs[it.ID]; ok {
					delete(theirs, it.ID)
				} else {
					res.Have = append(res.Have, it.ID)
				}
			}
			for _, id := range r.IDs {
				if _, ok := theirs[id]; ok {
					res.Need = append(res.Need, id)
					delete(theirs, id)
				}
			}
			res.Reply = appendSkip(res.Reply, upper)
		default:
			return nil, fmt.Errorf("unknown range mode %d", r.Mode)
		}
		lower = upper
	}
	if !pendingWork {
		res.Reply = nil
	}
	return res, nil
}

// itemSource reads my items for the ranges of a message, in order. Adjacent
// ranges that need items are read with one query; after maxQueries
// queries, everything up to the last range that needs items is read at
// once. Either way no item is read twice. When the set's sums answer
// fingerprint ranges (summed), a query reads only adjacent ID lists and
// the one range asked for, until the queries are used up.
type itemSource struct {
	ctx     context.Context
	set     Set
	msg     []Range
	queries int
	summed  bool
	// buf holds items read ahead, covering message ranges up to index
	// bufEnd (exclusive).
	buf    []Item
	bufEnd int
}

func (s *itemSource) items(i int, lower, upper Bound) ([]Item, error) {
	if i >= s.bufEnd {
		if s.ctx.Err() != nil {
			return nil, context.Cause(s.ctx)
		}
		// Read the run of ranges that need items starting at i, or all of
		// them once the queries are used up.
		j := i + 1
		last := i
		for ; j < len(s.msg); j++ {
			m := s.msg[j].Mode
			if s.queries >= maxQueries {
				if m != ModeSkip {
					last = j
				}
				continue
			}
			if m == ModeSkip || (m == ModeFingerprint && s.summed) {
				break
			}
			last = j
		}
		s.queries++
		items, err := s.set.Items(lower, s.msg[last].Upper)
		if err != nil {
			return nil, err
		}
		s.buf, s.bufEnd = items, last+1
	}
	// Drop items of skipped ranges inside a bulk read, then take those
	// below upper.
	k := sort.Search(len(s.buf), func(j int) bool { return !lower.Below(s.buf[j]) })
	s.buf = s.buf[k:]
	n := sort.Search(len(s.buf), func(j int) bool { return !upper.Below(s.buf[j]) })
	out := s.buf[:n:n]
	s.buf = s.buf[n:]
	return out, nil
}

// split describes items, which lie in a range ending at upper, as an ID
// list if they are few, or as fingerprinted sub-ranges.
func split(items []Item, upper Bound) []Range {
	if len(items) <= idListMax {
		ids := make([]event.ID, len(items))
		for i, it := range items {
			ids[i] = it.ID
		}
		return []Range{{Upper: upper, Mode: ModeIDList, IDs: ids}}
	}
	out := make([]Range, 0, branches)
	per := len(items) / branches
	extra := len(items) % branches
	start := 0
	for i := range branches {
		n := per
		if i < extra {
			n++
		}
		chunk := items[start : start+n]
		start += n
		ub := upper
		if start < len(items) {
			ub = between(items[start-1], items[start])
		}
		out = append(out, Range{Upper: ub, Mode: ModeFingerprint, FP: FingerprintOf(chunk)})
	}
	return out
}

func appendSkip(rs []Range, upper Bound) []Range {
	if n := len(rs); n > 0 && rs[n-1].Mode == ModeSkip {
		rs[n-1].Upper = upper
		return rs
	}
	return append(rs, Range{Upper: upper, Mode: ModeSkip})
}

// Compare orders bounds.
func (b Bound) Compare(o Bound) int {
	switch {
	case b.Inf && o.Inf:
		return 0
	case b.Inf:
		return 1
	case o.Inf:
		return -1
	case b.Time != o.Time:
		if b.Time < o.Time {
			return -1
		}
		return 1
	}
	return compareBytesPadded(b.Prefix, o.Prefix)
}

func compareBytesPadded(a, b []byte) int {
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y byte
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
