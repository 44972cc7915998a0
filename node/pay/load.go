package pay

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// Loading the stored entries.
//
// A unit of a million entries takes seconds to load into the ledger, so
// the node does not wait for it: Serve loads them while the rest of the
// node already answers. New holds the ledger (wallet.Ledger.Hold), so
// every query waits for the loaded state instead of seeing a half-loaded
// one, and a user's write waits for the load before it waits for the
// chain's head. What must not wait (the engine's checks of entries from
// the network, its notices of stored ones, fraud proofs from gossip, the
// end of a sync) does not touch the ledger until the load is done:
// entries from the network wait in the pool (admit.go) or are offered
// again by the sync that follows the load, and entries stored meanwhile
// are added after it.

// errLoading refuses, without blaming the sender, what comes from the
// network while the ledger loads.
var errLoading = errors.New("wallet still loading its stored entries")

// loading is the state of the load.
type loading struct {
	// addAll is the held ledger's load.
	addAll func(evs iter.Seq[*event.Event]) (int, error)
	done   chan struct{} // closed once loaded

	mu    sync.Mutex
	early []*event.Event // stored while loading
}

// keep keeps evs for after the load and reports true while the ledger
// loads; false once it has loaded.
func (l *loading) keep(evs []*event.Event) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isDone() {
		return false
	}
	l.early = append(l.early, evs...)
	return true
}

// finish adds what was kept meanwhile, then marks the load done: a write
// that waited for the load comes after this node's restored newest entry.
func (l *loading) finish(add func(*event.Event)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.early {
		add(e)
	}
	l.early = nil
	close(l.done)
}

func (l *loading) isDone() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// Loaded is closed once the stored entries are in the ledger and the node
// knows whether it knows its chain's head.
func (w *Service) Loaded() <-chan struct{} { return w.load.done }

// loadStored adds every stored entry of the unit to the ledger, in one
// pass over the store and one evaluation at the end, then decides whether
// the chain's head is known and adds what was stored meanwhile. A
// cancelled ctx stops the pass (the node is stopping).
func (w *Service) loadStored(ctx context.Context) error {
	if hook := testHookLoad.Load(); hook != nil {
		(*hook)(ctx)
	}
	start := time.Now()
	var readErr error
	stored := func(yield func(*event.Event) bool) {
		readErr = w.store.ScopeEvents(w.scope, func(e *event.Event) error {
			if ctx.Err() != nil || !yield(e) {
				return errStopLoad
			}
			return nil
		})
	}
	n, err := w.load.addAll(stored)
	if err != nil {
		w.log.Warn("stored wallet entries not added", "err", err)
	}
	if ctx.Err() != nil {
		return nil
	}
	if readErr != nil {
		return fmt.Errorf("wallet: load: %w", readErr)
	}
	if n > 0 {
		w.log.Info("wallet loaded", "unit", w.ledger.Config().Unit, "entries", n, "took", time.Since(start).Round(time.Millisecond))
	}
	if err := w.initHead(w.home); err != nil {
		return err
	}
	w.load.finish(w.add)
	// What the network brought meanwhile was ignored: the peers offer it
	// again now.
	if w.ignored.Load() > 0 {
		for _, p := range w.peers() {
			w.syncer.TriggerNow(p)
		}
	}
	w.wake()
	return nil
}

// testHookLoad, if set, runs before the load: a test holds it there.
var testHookLoad atomic.Pointer[func(ctx context.Context)]

// errStopLoad stops the store's pass when the ledger stops reading.
var errStopLoad = errors.New("load stopped")

// awaitLoad waits for the load, as long as ctx allows.
func (w *Service) awaitLoad(ctx context.Context) error {
	select {
	case <-w.load.done:
		return nil
	case <-ctx.Done():
		return &WalletInputError{Err: errLoading, status: 503}
	}
}
