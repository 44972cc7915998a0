package reconcile

import (
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// acceptsInFlight is how many events frames of a turn are checked and
// stored at once. With two, the next frame's signatures are checked (on
// every core) while the last one's events are written (one write at a
// time), instead of each waiting for the other.
const acceptsInFlight = 2

// acceptor hands a turn's events frames to Store.Accept in the
// background, at most acceptsInFlight at a time. Its results are taken,
// and the session's state changed, only on the session's goroutine.
type acceptor struct {
	store    Store
	peer     peer.ID
	results  chan accepted
	inFlight int
}

// accepted is the outcome of one frame's Accept.
type accepted struct {
	scope    event.Scope
	events   int
	rejected int
	err      error
}

func newAcceptor(store Store, p peer.ID) *acceptor {
	return &acceptor{store: store, peer: p, results: make(chan accepted, acceptsInFlight)}
}

// add starts the Accept of one frame's envelopes, first waiting for a
// slot; take receives each finished frame's outcome.
func (a *acceptor) add(scope event.Scope, raws [][]byte, take func(accepted) error) error {
	if a.inFlight == acceptsInFlight {
		if err := a.next(take); err != nil {
			return err
		}
	}
	a.inFlight++
	go func() {
		rejected, err := a.store.Accept(scope, a.peer, raws)
		a.results <- accepted{scope: scope, events: len(raws), rejected: rejected, err: err}
	}()
	return nil
}

// next waits for one frame's outcome.
func (a *acceptor) next(take func(accepted) error) error {
	r := <-a.results
	a.inFlight--
	if r.err != nil {
		return r.err
	}
	return take(r)
}

// wait waits for every frame in flight, also after an error, so that no
// Accept outlives the turn; it returns the first error.
func (a *acceptor) wait(take func(accepted) error) error {
	var first error
	for a.inFlight > 0 {
		if err := a.next(take); err != nil && first == nil {
			first = err
			take = func(accepted) error { return nil }
		}
	}
	return first
}
