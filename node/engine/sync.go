package engine

import (
	"encoding/binary"
	"math"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh/reconcile"
	"github.com/banyan-mesh/banyan/store"
)

// syncStore gives the syncer every scope the engine keeps.
type syncStore struct{ e *Engine }

var (
	_ reconcile.Store       = syncStore{}
	_ reconcile.QuietStore  = syncStore{}
	_ reconcile.SummedStore = syncStore{}
)

func (s syncStore) Scopes() []reconcile.Scope {
	s.e.mu.Lock()
	replicas := make([]*Replica, 0, len(s.e.replicas))
	for _, r := range s.e.replicas {
		if !r.spec.Discard {
			replicas = append(replicas, r)
		}
	}
	s.e.mu.Unlock()
	out := make([]reconcile.Scope, 0, len(replicas))
	for _, r := range replicas {
		out = append(out, reconcile.Scope{ID: r.spec.Scope, Floor: floorBound(r.floor())})
	}
	return out
}

// floorBound turns a history position into a sync floor.
func floorBound(c store.Cursor) reconcile.Bound {
	switch {
	case c.IsZero():
		return reconcile.Bound{}
	case c.ID == event.ID{}:
		return reconcile.Bound{Time: store.SortTime(c.Time)}
	}
	return reconcile.Bound{Time: store.SortTime(c.Time), Prefix: c.ID[:]}
}

func boundKey(b reconcile.Bound) []byte {
	if b.Inf {
		return nil
	}
	return append(binary.BigEndian.AppendUint64(nil, b.Time), b.Prefix...)
}

func (s syncStore) Items(scope event.Scope, lo, hi reconcile.Bound) ([]reconcile.Item, error) {
	if !s.e.gate.enter() {
		return nil, ErrStopped
	}
	defer s.e.gate.exit()
	if lo.Inf {
		return nil, nil
	}
	var out []reconcile.Item
	err := s.e.store.ScopeItems(scope, boundKey(lo), boundKey(hi), func(t uint64, id event.ID) {
		out = append(out, reconcile.Item{Time: t, ID: id})
	})
	return out, err
}

// Below and At answer from the store's sums of the scope's history
// (store.SumBelow), which give the fingerprints the items give.
func (s syncStore) Below(scope event.Scope, b reconcile.Bound) (reconcile.Sum, bool, error) {
	if !s.e.gate.enter() {
		return reconcile.Sum{}, false, ErrStopped
	}
	defer s.e.gate.exit()
	sum, ok, err := s.e.store.SumBelow(scope, boundKey(b))
	return reconcile.Sum(sum), ok, err
}

func (s syncStore) At(scope event.Scope, r uint64) (prev, it reconcile.Item, below reconcile.Sum, ok bool, err error) {
	if !s.e.gate.enter() {
		return prev, it, below, false, ErrStopped
	}
	defer s.e.gate.exit()
	p, k, sum, ok, err := s.e.store.SumAt(scope, r)
	return reconcile.Item(p), reconcile.Item(k), reconcile.Sum(sum), ok, err
}

func (s syncStore) Envelopes(scope event.Scope, to peer.ID, ids []event.ID) ([][]byte, error) {
	if !s.e.gate.enter() {
		return nil, ErrStopped
	}
	defer s.e.gate.exit()
	evs, err := s.e.store.Events(ids)
	if err != nil {
		return nil, err
	}
	// What the peer's clock would refuse as from the future waits until it
	// would not: offering it again every sync only piles up refusals.
	limit := s.e.acceptsUpTo(to)
	out := make([][]byte, 0, len(evs))
	held := 0
	for _, e := range evs {
		// A peer learns IDs of one scope; it gets nothing from another.
		switch {
		case e.ScopeID() != scope:
		case e.Time > limit:
			held++
		default:
			out = append(out, e.Raw)
		}
	}
	if held > 0 {
		s.e.log.Debug("held back events the peer's clock would refuse", "peer", to, "events", held)
	}
	return out, nil
}

func (s syncStore) Accept(scope event.Scope, from peer.ID, raws [][]byte) (int, error) {
	// What a peer brings is counted against it in quotas that evict
	// fairly (store.PutOptions.Source).
	_, rejected, err := s.e.accept(scope, from, raws, Sync)
	return rejected, err
}

func (s syncStore) Synced(scope event.Scope, p peer.ID, arrival uint64) {
	if !s.e.gate.enter() {
		return
	}
	defer s.e.gate.exit()
	// The peer does not hold what its clock refused (or what was held
	// back from it for that): it never counts as "held by" that peer.
	if limit := s.e.acceptsUpTo(p); limit < math.MaxInt64 {
		first, ok, err := s.e.store.FirstArrivalAfter(scope, limit)
		if err != nil {
			s.e.log.Warn("record sync", "err", err)
			return
		}
		if ok && first <= arrival {
			arrival = first - 1
		}
	}
	if err := s.e.store.SetSynced(scope, p, arrival); err != nil {
		s.e.log.Warn("record sync", "err", err)
	}
	if r := s.e.replica(scope); r != nil {
		r.synced(p)
		if w, ok := r.spec.Feature.(SyncWatcher); ok {
			w.Synced(scope, p)
		}
	}
}

// Quiet hears that p said nothing of scope in a sync this node started:
// if p keeps the scope (it is subscribed to its topic), it holds what
// this node holds, which tells a restored node its chain's head.
func (s syncStore) Quiet(scope event.Scope, p peer.ID) {
	if !s.e.gate.enter() {
		return
	}
	defer s.e.gate.exit()
	if r := s.e.replica(scope); r != nil && !r.HeadKnown() && r.topic != nil && slices.Contains(r.topic.Peers(), p) {
		r.synced(p)
	}
}

func (s syncStore) Arrival() uint64 {
	if !s.e.gate.enter() {
		return 0
	}
	defer s.e.gate.exit()
	seq, err := s.e.store.LastArrival()
	if err != nil {
		s.e.log.Warn("last arrival", "err", err)
	}
	return seq
}

// acceptsUpTo returns the latest event time peer p's clock takes now (its
// clock plus MaxClockSkew), or math.MaxInt64 when its clock is unknown.
func (e *Engine) acceptsUpTo(p peer.ID) int64 {
	if e.clock == nil {
		return math.MaxInt64
	}
	off, ok := e.clock(p)
	if !ok {
		return math.MaxInt64
	}
	return e.now().Add(off + MaxClockSkew).UnixMilli()
}
