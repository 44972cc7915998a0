package engine

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// A restored identity's chains.
//
// An identity restored from a backup (home.Restore) may have written, on
// the machine the backup came from, events this store does not hold:
// writing again at their sequence numbers would fork its chains (in the
// wallet a fork freezes the account). So a node whose identity was
// restored writes nothing to a chain until it knows the chain's head,
// which is when
//
//   - the chain has a mark in this home (marks.go): the node wrote to it
//     since the restore, knowing its head; or
//   - the feature says no earlier copy of the identity can have written
//     to the scope (Spec.NoPriorChain: a group created since the restore,
//     mail sealed by one-time keys), or the scope is kept without being
//     opened (a relay's); or
//   - a sync of the scope with a peer that keeps it has completed (now, or
//     before a restart: the store keeps sync marks) and the store holds
//     the node's own chain in it without a gap.
//
// Until then a write waits a while for a sync under way, then is refused
// with ErrCatchingUp. A node whose identity was made here, or copied in
// by hand, is not held back by this (the wallet has a rule of its own for
// keys copied in, node/pay/head.go).

// ErrCatchingUp refuses a write to a chain of a restored identity whose
// head is not known yet.
var ErrCatchingUp error = catchingUpError{}

type catchingUpError struct{}

func (catchingUpError) Error() string {
	return "this identity was restored from a backup and is still getting back what it wrote before from the network; nothing is written here until a peer has brought it back, so try again once connected"
}

// HTTPStatus makes the API answer 503: the node cannot do this yet.
func (catchingUpError) HTTPStatus() int { return 503 }

// catchUpWait is how long a write waits for a catch-up under way (peers
// are connected) before it is refused.
const catchUpWait = 10 * time.Second

// headState is whether a replica knows the head of this node's chain.
type headState struct {
	known chan struct{} // closed once known
}

// initHead decides, as the scope is kept, whether the chain's head is
// known. The caller has loaded the mark.
func (r *Replica) initHead() {
	r.headKnown.known = make(chan struct{})
	e := r.e
	switch {
	case e.restoredAt.IsZero():
		r.setKnown("")
	case len(r.marked) > 0 || r.markErr != nil:
		r.setKnown("")
	case r.spec.Feature == nil, r.spec.NoPriorChain != nil && r.spec.NoPriorChain():
		r.setKnown("")
	case r.syncedWhole(""):
	default:
		e.log.Info("catching up: writing nothing to this chain until a peer has brought back what this restored identity wrote before",
			"scope", r.spec.Scope.String())
	}
}

// syncedWhole marks the head known if a sync of the scope has completed
// and the store holds this node's chain without a gap; with whom names
// the peer of a sync just completed.
func (r *Replica) syncedWhole(with peer.ID) bool {
	e := r.e
	if with == "" {
		marks, err := e.store.SyncedMarks(r.spec.Scope)
		if err != nil || len(marks) == 0 {
			return false
		}
	}
	gaps, err := e.store.MissingOf(r.spec.Scope, e.id.PublicKey())
	if err != nil {
		e.log.Warn("catching up", "scope", r.spec.Scope.String(), "err", err)
		return false
	}
	if gaps > 0 {
		e.log.Info("still catching up: events of this restored identity's chain are missing", "scope", r.spec.Scope.String(), "missing", gaps, "peer", with)
		return false
	}
	r.setKnown("synced")
	return true
}

func (r *Replica) setKnown(why string) {
	r.headMu.Lock()
	defer r.headMu.Unlock()
	select {
	case <-r.headKnown.known:
		return
	default:
	}
	close(r.headKnown.known)
	if why != "" {
		r.e.log.Info("caught up: this chain's head is known again and it is written to from now on", "scope", r.spec.Scope.String(), "why", why)
	}
}

// HeadKnown reports whether the node knows the head of its chain in the
// scope, and so may write to it.
func (r *Replica) HeadKnown() bool {
	select {
	case <-r.headKnown.known:
		return true
	default:
		return false
	}
}

// synced is told that a sync of the scope with p has completed.
func (r *Replica) synced(p peer.ID) {
	if !r.HeadKnown() {
		r.syncedWhole(p)
	}
}

// awaitHead returns when the chain's head is known: at once, or after a
// sync with a connected peer, asked for now, within catchUpWait.
func (r *Replica) awaitHead(ctx context.Context) error {
	if r.HeadKnown() {
		return nil
	}
	peers := r.e.host.Network().Peers()
	if len(peers) == 0 {
		return ErrCatchingUp
	}
	for _, p := range peers {
		r.e.syncer.TriggerNow(p)
	}
	t := time.NewTimer(catchUpWait)
	defer t.Stop()
	select {
	case <-r.headKnown.known:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	return ErrCatchingUp
}

// CatchingUp counts the kept scopes whose chain head this node does not
// know yet (always 0 unless its identity was restored).
func (e *Engine) CatchingUp() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, r := range e.replicas {
		if !r.spec.Discard && !r.HeadKnown() {
			n++
		}
	}
	return n
}

// RestoredAt is when this node's identity was restored from a backup;
// zero if it was not.
func (e *Engine) RestoredAt() time.Time { return e.restoredAt }
