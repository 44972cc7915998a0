package engine

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banyan-mesh/banyan/mesh"
)

// Rejection reasons, counted per reason. Features use them (or their own)
// through Reject.
const (
	ReasonTooLarge  = "too_large"
	ReasonMalformed = "malformed"
	ReasonSignature = "bad_signature"
	ReasonScope     = "wrong_scope"
	ReasonKind      = "unknown_kind"
	ReasonFuture    = "from_future"
	ReasonTime      = "bad_time"
	ReasonDecrypt   = "decrypt"
	ReasonBody      = "bad_body"
	ReasonDuplicate = "duplicate"
	ReasonPruned    = "below_floor"
	ReasonStore     = "store_error"
	ReasonThrottled = "throttled"
)

// errBelowFloor marks an event older than what this node keeps of its
// scope: pruned here on purpose, so ignored, not the sender's fault.
var errBelowFloor = fmt.Errorf("older than this node keeps: %w", mesh.ErrIgnore)

// rejection is an error that carries its counting reason.
type rejection struct {
	reason string
	err    error
}

func (r *rejection) Error() string { return r.reason + ": " + r.err.Error() }
func (r *rejection) Unwrap() error { return r.err }

// Reject wraps err with the reason under which it is counted.
func Reject(reason string, err error) error { return &rejection{reason: reason, err: err} }

// ForGood marks a rejection by a Feature's Check as one that holds for
// good: whenever and from whoever the event comes, this node will refuse
// it (it does not open with a key that never changes). The engine then
// remembers the event's position as it does an evicted one's (a ghost,
// store.Forget), so that sync neither offers the event again nor brings it
// back: a well-signed event that no member can open, which a relay keeps
// for the group, costs each member one transfer and one refusal, not one
// per sync.
func ForGood(err error) error { return &forGood{err} }

type forGood struct{ err error }

func (f *forGood) Error() string { return f.err.Error() }
func (f *forGood) Unwrap() error { return f.err }

// Ignore wraps err so that the input is dropped without counting against
// the peer that sent it (a duplicate, something this node does not keep).
func Ignore(err error) error { return fmt.Errorf("%w: %w", mesh.ErrIgnore, err) }

// notTheSendersFault is a rejection counted under reason that does not
// count against the peer that forwarded it in gossipsub's score: it
// depends on this node (its clock, its disk) or on how much the peer sent
// (the guard already counts that).
func notTheSendersFault(reason string, err error) error { return Reject(reason, Ignore(err)) }

// carried is err for an event a relay passed on. A relay keeps groups it
// cannot open, so a well-signed event of the group that does not open (a
// member's client refuses it) is not its fault: it must neither end a sync
// with the relay nor lower the relay's gossip score. The rejection is still
// counted under its reason.
func carried(err error) error {
	var r *rejection
	if errors.As(err, &r) && (r.reason == ReasonDecrypt || r.reason == ReasonBody) {
		return notTheSendersFault(r.reason, r.err)
	}
	return err
}

// Counters counts accepted and rejected network input, and times this
// node's own writes.
type Counters struct {
	accepted atomic.Uint64
	mu       sync.Mutex
	rejected map[string]uint64
	// Mark is how long a write took to save the chain's mark (its data
	// sync, and a wait for the store's sync when the mark was full): the
	// time before the event may leave the node. Store is how long its
	// store write took, after it was published.
	Mark, Store Durations
}

// DurationBuckets are the upper bounds, in seconds, of Durations.
var DurationBuckets = [...]float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}

// Durations is a histogram of how long something took.
type Durations struct {
	n, nanos atomic.Uint64
	// in[i] counts the times in (DurationBuckets[i-1], DurationBuckets[i]];
	// the last, those beyond every bound.
	in [len(DurationBuckets) + 1]atomic.Uint64
}

func (d *Durations) observe(t time.Duration) {
	i := 0
	for i < len(DurationBuckets) && t.Seconds() > DurationBuckets[i] {
		i++
	}
	d.in[i].Add(1)
	d.nanos.Add(uint64(max(t, 0)))
	d.n.Add(1)
}

// Histogram returns how many times were observed, their sum in seconds,
// and how many were at most each bound, as Prometheus takes a histogram.
func (d *Durations) Histogram() (count uint64, sum float64, atMost map[float64]uint64) {
	atMost = make(map[float64]uint64, len(DurationBuckets))
	var run uint64
	for i, b := range DurationBuckets {
		run += d.in[i].Load()
		atMost[b] = run
	}
	return d.n.Load(), time.Duration(d.nanos.Load()).Seconds(), atMost
}

// count counts a received envelope by outcome: stored, ignored (a
// duplicate, or older than this node keeps) or rejected by reason.
func (c *Counters) count(err error) {
	if err == nil {
		c.accepted.Add(1)
		return
	}
	reason := ReasonMalformed
	var r *rejection
	switch {
	case errors.As(err, &r):
		reason = r.reason
	case errors.Is(err, errBelowFloor):
		reason = ReasonPruned
	case errors.Is(err, mesh.ErrIgnore):
		reason = ReasonDuplicate
	}
	c.mu.Lock()
	if c.rejected == nil {
		c.rejected = map[string]uint64{}
	}
	c.rejected[reason]++
	c.mu.Unlock()
}

// Accepted returns how many events from the network were stored.
func (c *Counters) Accepted() uint64 { return c.accepted.Load() }

// Rejected returns a copy of the rejection counts by reason.
func (c *Counters) Rejected() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]uint64, len(c.rejected))
	for k, v := range c.rejected {
		out[k] = v
	}
	return out
}
