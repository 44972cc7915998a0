package reconcile

import "github.com/banyan-mesh/banyan/crypto/event"

// SummedSet is a Set that keeps sums of its sorted items (a few per
// thousand items), so that the fingerprint of a range and its split take a
// few short reads instead of every item of the range. The messages are the
// same either way: sums give the fingerprints and cuts that the items
// give.
type SummedSet interface {
	Set
	// Below returns the sum of the items below b. ok is false when the set
	// has no sums at hand; the caller then reads the items.
	Below(b Bound) (sum Sum, ok bool, err error)
	// At returns the items at positions r-1 and r, counting from 0 at the
	// lowest item, and the sum of the items below position r.
	At(r uint64) (prev, it Item, below Sum, ok bool, err error)
}

// SummedStore is a Store that keeps sums of each scope's items (see
// SummedSet).
type SummedStore interface {
	Below(scope event.Scope, b Bound) (sum Sum, ok bool, err error)
	At(scope event.Scope, r uint64) (prev, it Item, below Sum, ok bool, err error)
}

// Sums are used for sets of at least minSummed items; smaller ones are
// read whole, which costs little. Each Below or At call reads at most a
// block of the set's items (about a thousand); one message may make at
// most one call per summedCost items of the set, so that the reads it
// causes stay within a few times the set, whatever the message.
const (
	minSummed  = 8192
	summedCost = 256
)

// summed answers ranges of one message, or of a start, from a set's sums.
// Whenever the sums are missing, used up, or disagree with what they sum
// (the set changed between two reads), it says so, and the caller reads
// the items instead: sums never make a message that reading the items
// would not.
type summed struct {
	set   SummedSet
	total Sum
	ops   int
	// last and lastSum remember the previous bound asked for: ranges are
	// contiguous, so each lower bound is the previous upper.
	last     Bound
	lastSum  Sum
	haveLast bool
}

// newSummed returns the sums of set, or nil when it keeps none or is
// small.
func newSummed(set Set) (*summed, error) {
	ss, ok := set.(SummedSet)
	if !ok {
		return nil, nil
	}
	total, ok, err := ss.Below(Bound{Inf: true})
	if err != nil || !ok || total.Count < minSummed {
		return nil, err
	}
	return &summed{set: ss, total: total, ops: int(total.Count / summedCost)}, nil
}

func (s *summed) below(b Bound) (Sum, bool, error) {
	if b.Inf {
		return s.total, true, nil
	}
	if s.haveLast && s.last.Compare(b) == 0 {
		return s.lastSum, true, nil
	}
	if s.ops <= 0 {
		return Sum{}, false, nil
	}
	s.ops--
	sum, ok, err := s.set.Below(b)
	if err != nil || !ok {
		return Sum{}, false, err
	}
	s.last, s.lastSum, s.haveLast = b, sum, true
	return sum, true, nil
}

// sums returns the sums below lo and hi, if they are at hand and agree.
func (s *summed) sums(lo, hi Bound) (slo, shi Sum, ok bool, err error) {
	if slo, ok, err = s.below(lo); !ok {
		return
	}
	if shi, ok, err = s.below(hi); !ok {
		return
	}
	return slo, shi, shi.Count >= slo.Count, nil
}

// fingerprint answers a fingerprint range [lo, hi) of the peer's: a nil
// reply when it matches, else the split. ok is false when the caller must
// read the items instead.
func (s *summed) fingerprint(lo, hi Bound, fp Fingerprint) (reply []Range, ok bool, err error) {
	slo, shi, ok, err := s.sums(lo, hi)
	if !ok {
		return nil, false, err
	}
	if shi.Minus(slo).Fingerprint() == fp {
		return nil, true, nil
	}
	return s.split(lo, hi, slo, shi)
}

// split is split for the range [lo, hi), whose sums below lo and hi are
// slo and shi. It leaves ranges small enough to list to the caller.
func (s *summed) split(lo, hi Bound, slo, shi Sum) ([]Range, bool, error) {
	n := shi.Count - slo.Count
	if n <= idListMax || s.ops < branches-1 {
		return nil, false, nil
	}
	out := make([]Range, 0, branches)
	per, extra := n/branches, n%branches
	prevBound, prevSum := lo, slo
	var start uint64
	for i := range uint64(branches) {
		start += per
		if i < extra {
			start++
		}
		if start == n {
			out = append(out, Range{Upper: hi, Mode: ModeFingerprint, FP: shi.Minus(prevSum).Fingerprint()})
			break
		}
		r := slo.Count + start
		s.ops--
		prev, it, below, ok, err := s.set.At(r)
		if err != nil || !ok {
			return nil, false, err
		}
		// What the sums say must hold of the items read, or the set
		// changed in between.
		if below.Count != r || prev.Compare(it) >= 0 || lo.Below(prev) || !hi.Below(it) {
			return nil, false, nil
		}
		ub := between(prev, it)
		if ub.Compare(prevBound) <= 0 {
			return nil, false, nil
		}
		out = append(out, Range{Upper: ub, Mode: ModeFingerprint, FP: below.Minus(prevSum).Fingerprint()})
		prevBound, prevSum = ub, below
	}
	return out, true, nil
}
