package engine

import (
	"errors"
	"sync"
)

// ErrStopped reports work asked of an engine that has stopped: the node
// is shutting down.
var ErrStopped = errors.New("the node is shutting down")

// gate counts the calls into the engine from the network and the features,
// so that when the engine stops it can refuse new ones and wait for those
// under way: gossipsub runs validators in goroutines of its own, which
// must not reach the store after it is closed.
type gate struct {
	mu     sync.Mutex
	closed bool
	calls  sync.WaitGroup
}

func (g *gate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.calls.Add(1)
	return true
}

func (g *gate) exit() { g.calls.Done() }

// close refuses new calls and waits for those under way.
func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.calls.Wait()
}

// spawn runs fn in a goroutine that close waits for. Only a call under way
// (between enter and exit) may spawn, so that close cannot have begun
// waiting.
func (g *gate) spawn(fn func()) {
	g.calls.Add(1)
	go func() {
		defer g.calls.Done()
		fn()
	}()
}
