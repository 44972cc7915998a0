package reconcile

import (
	"context"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// claims lets one of this node's own syncs at a time reconcile a scope.
// Two peers that sync one scope with this node at once would both send it
// what it lacks: a node back in the village, which starts syncs with each
// neighbour it meets, would download its backlog once per neighbour. A
// sync leaves out the scopes another holds (the peer hears nothing of
// them) and the peer is synced again once they are free. Syncs that peers
// start claim nothing, so that a peer holding one open cannot keep the
// node's scopes from everyone else.
type claims struct {
	mu     sync.Mutex
	owner  map[event.Scope]*session
	waiter map[event.Scope]map[peer.ID]struct{}
	// changed is closed, and replaced, whenever scopes are released.
	changed chan struct{}
	// freed is told of each peer that was left without a scope which is
	// now free.
	freed func(peer.ID)
}

func newClaims(freed func(peer.ID)) *claims {
	return &claims{
		owner: map[event.Scope]*session{}, waiter: map[event.Scope]map[peer.ID]struct{}{},
		changed: make(chan struct{}), freed: freed,
	}
}

// take claims for x the scopes of mine that no other sync holds and
// removes the others from mine, noting that x's peer waits for them. It
// returns the scopes claimed.
func (c *claims) take(x *session, mine map[event.Scope]Bound) []event.Scope {
	c.mu.Lock()
	defer c.mu.Unlock()
	held := make([]event.Scope, 0, len(mine))
	for id := range mine {
		if o := c.owner[id]; o != nil && o != x {
			delete(mine, id)
			if c.waiter[id] == nil {
				c.waiter[id] = map[peer.ID]struct{}{}
			}
			c.waiter[id][x.peer] = struct{}{}
			continue
		}
		c.owner[id] = x
		held = append(held, id)
	}
	return held
}

// takeAll waits until no other sync holds any scope of mine, then claims
// them all (all at once: a sync never holds some while it waits for
// others, so two waiting syncs cannot wait for each other).
func (c *claims) takeAll(ctx context.Context, x *session, mine map[event.Scope]Bound) ([]event.Scope, error) {
	for {
		c.mu.Lock()
		free := true
		for id := range mine {
			if o := c.owner[id]; o != nil && o != x {
				free = false
				break
			}
		}
		if free {
			held := make([]event.Scope, 0, len(mine))
			for id := range mine {
				c.owner[id] = x
				held = append(held, id)
			}
			c.mu.Unlock()
			return held, nil
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

// release frees the scopes x held and tells of the peers that waited for
// them.
func (c *claims) release(x *session, held []event.Scope) {
	c.mu.Lock()
	var woken []peer.ID
	for _, id := range held {
		if c.owner[id] != x {
			continue
		}
		delete(c.owner, id)
		for p := range c.waiter[id] {
			woken = append(woken, p)
		}
		delete(c.waiter, id)
	}
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	if c.freed != nil {
		for _, p := range woken {
			c.freed(p)
		}
	}
}
