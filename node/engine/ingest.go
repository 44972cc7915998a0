package engine

import (
	"fmt"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/store"
)

// ingest stores what gossip and the direct stream deliver, in batches and
// off the path before forwarding: a gossip validator returns (and
// gossipsub forwards) once an envelope has passed its checks, and the
// store commits whatever has queued meanwhile in one write (group
// commit). The feature hears of an event, and the arrival log shows it,
// only after its batch is committed.
type ingest struct {
	mu      sync.Mutex
	queue   []*arrival
	running bool
	// pending holds the IDs of queued events, so that a copy arriving
	// meanwhile by another way is dropped unchecked, like a stored one;
	// recent those of events stored lately.
	pending map[event.ID]struct{}
	recent  *lru.Cache[event.ID, struct{}]
}

// arrival is a checked event waiting to be stored.
type arrival struct {
	ev     *event.Event
	r      *Replica
	from   peer.ID
	origin Origin
	// done, if set, receives the outcome once the event's batch is
	// committed.
	done chan error
}

// maxQueued bounds the events waiting to be stored: beyond it a validator
// waits for its event's batch, so that what the disk cannot keep up with
// stays in gossipsub's own bounded queue instead of this one.
const maxQueued = 1024

// recentlyStored is how many IDs of events stored lately the engine
// keeps, for held: a copy that comes again by gossip or the direct stream
// most often comes within seconds (gossipsub's seen cache covers copies
// by gossip alone).
const recentlyStored = 8192

// held reports whether an event is queued to be stored or was stored
// lately, without reading the store.
func (e *Engine) held(id event.ID) bool {
	e.in.mu.Lock()
	_, ok := e.in.pending[id]
	e.in.mu.Unlock()
	return ok || e.in.recent.Contains(id)
}

// stored notes events as stored lately (held).
func (e *Engine) stored(evs ...*event.Event) {
	for _, ev := range evs {
		e.in.recent.Add(ev.ID, struct{}{})
	}
}

// enqueue queues a checked event to be stored, unless a copy is queued
// already, and makes the caller wait for the commit (a.done) if the queue
// is full; the caller is in the engine's gate.
func (e *Engine) enqueue(a *arrival) error {
	e.in.mu.Lock()
	defer e.in.mu.Unlock()
	if _, ok := e.in.pending[a.ev.ID]; ok {
		return fmt.Errorf("event %s: %w", a.ev.ID, mesh.ErrIgnore)
	}
	if a.done == nil && len(e.in.queue) >= maxQueued {
		a.done = make(chan error, 1)
	}
	e.in.pending[a.ev.ID] = struct{}{}
	e.in.queue = append(e.in.queue, a)
	if !e.in.running {
		e.in.running = true
		e.gate.spawn(e.ingestLoop)
	}
	return nil
}

// ingestLoop stores batches until the queue is empty.
func (e *Engine) ingestLoop() {
	for {
		e.in.mu.Lock()
		batch := e.in.queue
		e.in.queue = nil
		if len(batch) == 0 {
			e.in.running = false
			e.in.mu.Unlock()
			return
		}
		e.in.mu.Unlock()
		e.ingestBatch(batch)
	}
}

// ingestBatch stores a batch, one write per peer it came from (quotas
// charge the peer), then counts each outcome, tells the features and
// answers those waiting.
func (e *Engine) ingestBatch(batch []*arrival) {
	errs := make([]error, len(batch))
	var sources []peer.ID
	bySource := map[peer.ID][]int{}
	for i, a := range batch {
		if _, ok := bySource[a.from]; !ok {
			sources = append(sources, a.from)
		}
		bySource[a.from] = append(bySource[a.from], i)
	}
	for _, from := range sources {
		idx := bySource[from]
		evs := make([]*event.Event, len(idx))
		for j, i := range idx {
			evs[j] = batch[i].ev
		}
		arrivals, err := e.store.PutEvents(evs, store.PutOptions{Source: from})
		if err == nil {
			e.stored(evs...)
		}
		for j, i := range idx {
			switch {
			case err != nil:
				errs[i] = notTheSendersFault(ReasonStore, err)
			case arrivals[j] == 0:
				errs[i] = fmt.Errorf("event %s: %w", batch[i].ev.ID, mesh.ErrIgnore)
			}
			if errs[i] != nil {
				batch[i].r.release(batch[i].ev)
			}
		}
	}
	// Stored (or refused): from now on the store answers for them.
	e.in.mu.Lock()
	for _, a := range batch {
		delete(e.in.pending, a.ev.ID)
	}
	e.in.mu.Unlock()

	// Each feature hears of its events in the order they arrived, one
	// call per run of one scope and origin.
	for i := 0; i < len(batch); {
		a := batch[i]
		var stored []*event.Event
		j := i
		for ; j < len(batch) && batch[j].r == a.r && batch[j].origin == a.origin; j++ {
			if errs[j] == nil {
				stored = append(stored, batch[j].ev)
			}
		}
		if len(stored) > 0 && a.r.spec.Feature != nil {
			a.r.spec.Feature.Stored(stored, a.origin)
		}
		i = j
	}
	for i, a := range batch {
		e.stats.count(errs[i])
		if errs[i] == nil && a.origin == Gossip {
			e.watchGap(a.from, a.ev)
		}
		if a.done != nil {
			a.done <- errs[i]
		}
	}
}
