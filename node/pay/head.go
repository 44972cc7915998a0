package pay

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/store"
)

// Knowing one's own head.
//
// A node writes nothing on its wallet chain (payments, and automatic
// receipts and settlements too) until it knows the chain's head: writing
// on an older entry than the real head forks the chain, and a fork freezes
// the account. The head is known when either
//
//   - the store holds the origin mark: the identity was created on this
//     home (banyan init leaves a mark, home.NewIdentity) and the node
//     recorded at its first start that its chains begin in this store —
//     a brand-new identity pays offline with zero peers; or
//   - the node has completed a sync of the unit's scope with a peer (now,
//     or before a restart: the store keeps sync marks) and nothing it
//     holds shows entries of its chain it lacks (wallet.Ledger.Lacks).
//
// A restored identity (a key copied onto an empty store) has neither: it
// waits until it has caught up from the network. A peer that withholds
// the person's old entries but serves something new cannot make it write.

// ErrCatchingUp refuses a write while the node does not know its chain's
// head.
var ErrCatchingUp = errors.New("your wallet is catching up with your own history from the network; try again once connected")

// catchUpWait is how long a user's write waits for a catch-up that is
// under way (peers are connected) before it is refused.
const catchUpWait = 10 * time.Second

// originKey, in the "chain" table, holds the account whose chains started
// in this store.
var originKey = []byte("origin")

type headState struct {
	mu    sync.Mutex
	known bool
	ch    chan struct{} // closed once known
}

// initHead decides at start whether the chain's head is known.
func (w *Service) initHead(h Home) error {
	origin, err := w.chain.Get(originKey)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("wallet origin mark: %w", err)
	}
	if err == nil && string(origin) == string(w.me[:]) {
		w.setKnown("this identity's chains began in this store")
		return nil
	}
	if h != nil && h.NewIdentity() {
		// A new identity: its chains are empty everywhere. Record that
		// they begin here, durably, before forgetting the mark.
		if err := w.chain.Put(originKey, w.me[:]); err != nil {
			return err
		}
		if err := w.store.Sync(); err != nil {
			return err
		}
		if err := h.ClearNewIdentity(); err != nil {
			w.log.Warn("new identity", "err", err)
		}
		w.setKnown("a new identity")
		return nil
	}
	marks, err := w.store.SyncedMarks(w.scope)
	if err != nil {
		return err
	}
	if len(marks) > 0 && !w.ledger.Lacks(w.me) {
		w.setKnown("synced before")
		return nil
	}
	w.log.Info("wallet catching up: writing nothing until this identity's chain is synced from a peer")
	return nil
}

func (w *Service) setKnown(why string) {
	w.head.mu.Lock()
	defer w.head.mu.Unlock()
	if w.head.known {
		return
	}
	w.head.known = true
	close(w.head.ch)
	if w.log != nil {
		w.log.Debug("wallet chain head known", "why", why)
	}
}

// HeadKnown reports whether the node knows its chain's head (see above).
func (w *Service) HeadKnown() bool {
	w.head.mu.Lock()
	defer w.head.mu.Unlock()
	return w.head.known
}

// Synced is told by the engine that a sync of the unit's scope with a
// peer completed.
func (w *Service) Synced(scope event.Scope, p peer.ID) {
	if scope != w.scope || !w.load.isDone() {
		return // after the load, every peer is asked again
	}
	// Entries ignored for want of standing may have it now that the sync
	// brought more: the peer offers them again in another sync. Only when
	// something was stored since the last one, so that a peer offering
	// nothing but made-up keys' entries gets no second sync.
	if w.ignored.Swap(0) > 0 {
		if now := w.stored.Load(); now > w.lastStored.Swap(now) {
			w.wake() // the worker stores what the pool holds
			w.syncer.TriggerNow(p)
		}
	}
	if w.HeadKnown() {
		return
	}
	if w.ledger.Lacks(w.me) {
		w.log.Info("wallet still catching up: entries of this identity's chain are missing", "peer", p)
		return
	}
	w.setKnown("synced with " + p.String())
	w.wake()
}

// awaitHead returns when the chain's head is known. A user's write waits
// for a catch-up under way (asking every peer for a sync) up to
// catchUpWait; an automatic one (wait false) does not wait.
func (w *Service) awaitHead(ctx context.Context, wait bool) error {
	if err := w.awaitLoad(ctx); err != nil {
		return err
	}
	if w.HeadKnown() {
		return nil
	}
	peers := w.peers()
	if !wait || len(peers) == 0 {
		return &WalletInputError{Err: ErrCatchingUp, status: 503}
	}
	for _, p := range peers {
		w.syncer.TriggerNow(p)
	}
	t := time.NewTimer(catchUpWait)
	defer t.Stop()
	select {
	case <-w.head.ch:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	return &WalletInputError{Err: ErrCatchingUp, status: 503}
}
