package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/store"
)

// Position is where this node's next event in a scope goes in its chain.
type Position struct {
	Scope event.Scope
	// Seq is the new event's sequence number; Prev the ID of the one
	// before it (zero for the first).
	Seq  uint64
	Prev event.ID
	// Time is the new event's time: now, but after the previous event,
	// so that an author's own events keep their order in history even
	// when written within one millisecond or after the clock stepped back.
	Time int64
}

// Body returns the body of an event at this position.
func (p Position) Body(kind event.Kind, payload []byte) event.Body {
	b := event.Body{Scope: bytes.Clone(p.Scope[:]), Seq: p.Seq, Time: p.Time, Kind: kind, Payload: payload}
	if p.Seq > 1 {
		b.Prev = bytes.Clone(p.Prev[:])
	}
	return b
}

// ErrPosition reports a body built for another place in the chain than the
// one it was asked for.
var ErrPosition = errors.New("event built for another chain position")

// Write appends an event to this node's own chain in the scope. Under the
// chain's lock it reads the chain's head (the later of the store's and the
// chain mark's, marks.go), asks build for the body at the next position,
// signs it, saves it in the chain's mark (fsynced), publishes it, stores
// it and returns it. This is the one durability policy of every kind:
// nothing is published that this node could lose in a crash. The mark
// keeps the event, and any earlier ones whose store write no completed
// store sync covers yet; the store's copy reaches the disk in a group
// sync shared with other writers, in the background. Only a write that
// finds its mark full waits for the disk's sync. build's errors are
// returned as they are.
func (r *Replica) Write(ctx context.Context, build func(Position) (event.Body, error)) (*event.Event, error) {
	if !r.e.gate.enter() {
		return nil, ErrStopped
	}
	defer r.e.gate.exit()
	if err := r.awaitHead(ctx); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	r.chain.Lock()
	ev, err := r.writeLocked(ctx, build)
	filling := r.e.marks != "" && r.markFilling()
	r.chain.Unlock()
	if err != nil {
		return nil, err
	}
	if r.e.marks != "" {
		if filling {
			r.e.commit.Soon()
		} else {
			// The mark keeps the event until then.
			r.e.commit.Later()
		}
	}
	r.e.confirmSoon(r.spec.Scope)
	return ev, nil
}

func (r *Replica) writeLocked(ctx context.Context, build func(Position) (event.Body, error)) (*event.Event, error) {
	e := r.e
	scope := r.spec.Scope
	if r.markErr != nil {
		return nil, fmt.Errorf("write: %w", r.markErr)
	}
	if err := e.store.Writable(); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	var (
		seq  uint64
		prev event.ID
		err  error
	)
	if m := r.head(); r.inStore && m != nil {
		// This replica stored its newest event itself: the store's head
		// is the mark's, and no read of it waits for other writes.
		seq, prev = m.Seq, m.ID
	} else if seq, prev, err = r.restoreMarked(true); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	pos := Position{Scope: scope, Seq: seq + 1, Prev: prev, Time: e.now().UnixMilli()}
	var prevTime int64
	switch m := r.head(); {
	case m != nil && m.Seq >= seq:
		// The mark is the head (or, pruned from the store, ahead of it).
		pos.Seq, pos.Prev, prevTime = m.Seq+1, m.ID, m.Time
	case seq > 0:
		pe, err := e.store.Event(prev)
		if err != nil {
			return nil, fmt.Errorf("write: previous event: %w", err)
		}
		prevTime = pe.Time
	}
	if pos.Seq > 1 {
		pos.Time = max(pos.Time, prevTime+1)
	}
	b, err := build(pos)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(b.Scope, scope[:]) || b.Seq != pos.Seq || (pos.Seq > 1 && !bytes.Equal(b.Prev, pos.Prev[:])) || (pos.Seq > 1 && b.Time <= prevTime) {
		return nil, fmt.Errorf("write: %w (seq %d, want %d)", ErrPosition, b.Seq, pos.Seq)
	}
	ev, err := event.Sign(e.id, b)
	if err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	// The author's own quota holds for its own writes too.
	if err := r.reserve(ev); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	// The mark goes first: whatever the store loses, the node never uses
	// this sequence number again, and the event is on disk before it
	// leaves the node.
	start := time.Now()
	marked, err := r.nextMark(ev)
	if err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	evs := make([]*event.Event, len(marked))
	for i, m := range marked {
		evs[i] = m.ev
	}
	if err := r.saveMark(evs); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	e.stats.Mark.observe(time.Since(start))
	// A full disk refuses the write here, the last moment at which
	// nothing has left the node and the sequence number can be given
	// back.
	if err := e.store.Writable(); err != nil {
		r.release(ev)
		r.rollBackMark(marked, ev)
		return nil, fmt.Errorf("write: %w", err)
	}
	r.marked = marked
	e.stored(ev)
	// Published as soon as the mark holds it, before the store write,
	// which waits behind whatever the store is committing; published in
	// chain order, under the lock.
	if r.topic != nil {
		if err := r.topic.Publish(ctx, ev.Raw); err != nil {
			// Marked is sent: sync delivers it when gossip cannot.
			e.log.Warn("publish failed; the event is kept and will sync", "err", err)
		}
	}
	start = time.Now()
	err = (*e.storeOwn.Load())(ev)
	e.stats.Store.observe(time.Since(start))
	if err != nil {
		// Sent, and kept by the mark: the next write, or the next start,
		// stores it from there (restoreMarked) before anything else.
		e.log.Error("an event sent but not stored; the chain mark keeps it and it is stored with the next write", "scope", scope.String(), "seq", ev.Seq, "err", err)
		r.inStore = false
		return ev, nil
	}
	r.inStore = true
	r.marked[len(r.marked)-1].ticket = e.commit.ticket()
	if r.spec.Feature != nil {
		r.spec.Feature.Stored([]*event.Event{ev}, Local)
	}
	return ev, nil
}

// rollBackMark gives back the sequence number of ev, which marked holds
// and which never left the node: the mark is saved as it was before ev.
// If that fails, ev stays marked, and is stored and sent later.
func (r *Replica) rollBackMark(marked []markedEvent, ev *event.Event) {
	prev := make([]*event.Event, len(r.marked))
	for i, m := range r.marked {
		prev[i] = m.ev
	}
	if err := r.saveMark(prev); err != nil {
		r.e.log.Error("chain mark not rolled back; the refused event will be stored and sent later", "scope", r.spec.Scope.String(), "seq", ev.Seq, "err", err)
		r.marked, r.inStore = marked, false
	}
}

// nextMark returns the mark that keeps ev: ev after the marked events
// that no completed store sync covers yet, or ev alone once a sync (run
// now if the mark is full) covers them all.
func (r *Replica) nextMark(ev *event.Event) ([]markedEvent, error) {
	e := r.e
	if e.marks == "" {
		return []markedEvent{{ev: ev}}, nil
	}
	durable := e.commit.Durable()
	var next []markedEvent
	size := len(ev.Raw)
	for _, m := range r.marked {
		if m.ticket > durable {
			next = append(next, m)
			size += len(m.ev.Raw)
		}
	}
	if len(next) >= maxMarked || size > maxMarkedSize {
		if err := e.commit.Sync(); err != nil {
			return nil, err
		}
		next = nil
	}
	return append(next, markedEvent{ev: ev, ticket: math.MaxUint64}), nil
}

// Store stores an event this node made outside its own chain (sealed mail,
// signed by a one-time key) durably, without publishing it: the caller
// chooses how it leaves this node.
func (r *Replica) Store(ev *event.Event) error {
	if !r.e.gate.enter() {
		return ErrStopped
	}
	defer r.e.gate.exit()
	if ev.ScopeID() != r.spec.Scope {
		return fmt.Errorf("post: event of scope %s to %s", ev.ScopeID(), r.spec.Scope)
	}
	if err := r.storeLocal(ev); err != nil {
		return err
	}
	r.e.confirmSoon(r.spec.Scope)
	return nil
}

// storeLocal stores an event made here, syncs it to disk (sharing the
// fsync with other writers) and tells the feature.
func (r *Replica) storeLocal(ev *event.Event) error {
	e := r.e
	if err := r.reserve(ev); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if added, _, err := e.store.PutEvent(ev, store.PutOptions{Local: true}); err != nil || !added {
		r.release(ev)
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	e.stored(ev)
	if err := e.commit.Sync(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if r.spec.Feature != nil {
		r.spec.Feature.Stored([]*event.Event{ev}, Local)
	}
	return nil
}
