package node

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/mesh/reconcile"
	"github.com/banyan-mesh/banyan/store"
)

// replicator is an app service whose events replicate through sync: the
// groups' histories, the mailboxes.
type replicator interface {
	// syncScopes lists the scopes it replicates and their floors.
	syncScopes() []reconcile.Scope
	// acceptBatch validates envelopes received for one of its scopes and
	// stores the valid ones; it returns how many were invalid.
	acceptBatch(scope event.Scope, raws [][]byte) (rejected int, err error)
}

// syncStore gives the syncer the scopes of every replicator of the node.
type syncStore struct{ n *Node }

var _ reconcile.Store = syncStore{}

func (s syncStore) Scopes() []reconcile.Scope {
	var out []reconcile.Scope
	for _, r := range s.n.replicators() {
		out = append(out, r.syncScopes()...)
	}
	return out
}

// floorBound turns a history position into a sync floor.
func floorBound(c store.Cursor) reconcile.Bound {
	if c.IsZero() {
		return reconcile.Bound{}
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
	if lo.Inf {
		return nil, nil
	}
	var out []reconcile.Item
	err := s.n.store.ScopeItems(scope, boundKey(lo), boundKey(hi), func(t uint64, id event.ID) {
		out = append(out, reconcile.Item{Time: t, ID: id})
	})
	return out, err
}

func (s syncStore) Envelopes(scope event.Scope, ids []event.ID) ([][]byte, error) {
	evs, err := s.n.store.Events(ids)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, len(evs))
	for _, e := range evs {
		// A peer learns IDs of one scope; it gets nothing from another.
		if e.ScopeID() == scope {
			out = append(out, e.Raw)
		}
	}
	return out, nil
}

func (s syncStore) Accept(scope event.Scope, raws [][]byte) (int, error) {
	for _, r := range s.n.replicators() {
		for _, sc := range r.syncScopes() {
			if sc.ID == scope {
				return r.acceptBatch(scope, raws)
			}
		}
	}
	return 0, fmt.Errorf("scope %s is not replicated here", scope)
}

func (s syncStore) Synced(scope event.Scope, p peer.ID, arrival uint64) {
	if err := s.n.store.SetSynced(scope, p, arrival); err != nil {
		s.n.log.Warn("record sync", "err", err)
	}
}

func (s syncStore) Arrival() uint64 {
	seq, err := s.n.store.LastArrival()
	if err != nil {
		s.n.log.Warn("last arrival", "err", err)
	}
	return seq
}

// storeReceived finishes taking one envelope from gossip or a direct
// stream: if check accepted it (err is nil) it is stored, one already held
// is ignored, and the outcome is counted.
func storeReceived(st *store.Store, stats *Counters, e *event.Event, err error) error {
	if err == nil {
		var added bool
		if added, _, err = st.PutEvent(e, store.PutOptions{}); err != nil {
			err = reject(reasonStore, err)
		} else if !added {
			err = fmt.Errorf("event %s: %w", e.ID, mesh.ErrIgnore)
		}
	}
	stats.count(err)
	return err
}

// acceptEnvelopes takes a frame of envelopes from sync for one service:
// it runs check on every core (signature checks bound catch-up speed),
// stores the valid envelopes in one write, and counts every outcome. It
// returns the events it newly stored, in frame order, and how many
// envelopes were rejected (duplicates are not).
func acceptEnvelopes(st *store.Store, stats *Counters, raws [][]byte, check func([]byte) (*event.Event, error)) (stored []*event.Event, rejected int, err error) {
	evs := make([]*event.Event, len(raws))
	errs := make([]error, len(raws))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(raws)) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(raws); i = int(next.Add(1) - 1) {
				evs[i], errs[i] = check(raws[i])
			}
		})
	}
	wg.Wait()
	var valid []*event.Event
	for i, e := range evs {
		if errs[i] == nil {
			valid = append(valid, e)
		}
	}
	arrivals, err := st.PutEvents(valid, store.PutOptions{})
	if err != nil {
		return nil, 0, err
	}
	for i, j := 0, 0; i < len(raws); i++ {
		if errs[i] == nil {
			if arrivals[j] == 0 {
				errs[i] = fmt.Errorf("event %s: %w", evs[i].ID, mesh.ErrIgnore)
			} else {
				stored = append(stored, evs[i])
			}
			j++
		}
		stats.count(errs[i])
		if errs[i] != nil && !errors.Is(errs[i], mesh.ErrIgnore) {
			rejected++
		}
	}
	return stored, rejected, nil
}

// gapDelay is how long an author's previous event may be missing before
// it counts as lost: gossipsub validates in parallel, so a message often
// arrives a moment before the one it follows.
const gapDelay = 2 * time.Second

// watchGap asks syncWith for a sync with the peer that forwarded e if e's
// predecessor in its author's chain is missing here, and still missing a
// little later: a sign that gossip lost something.
func watchGap(st *store.Store, syncWith func(peer.ID), from peer.ID, e *event.Event) {
	if syncWith == nil || e.Seq <= 1 {
		return
	}
	prev := e.PrevID()
	if has, err := st.HasEvent(prev); err != nil || has {
		return
	}
	time.AfterFunc(gapDelay, func() {
		if has, err := st.HasEvent(prev); err == nil && !has {
			syncWith(from)
		}
	})
}
