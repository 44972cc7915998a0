package engine

import (
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// WatchGap is what the ingest does with an event that came by gossip and
// was stored; Gaps is how many missing predecessors it waits for.
func WatchGap(e *Engine, from peer.ID, ev *event.Event) { e.watchGap(from, ev) }

// Gaps returns how many missing predecessors the engine watches.
func Gaps(e *Engine) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.gaps)
}

// WrapStoreSync replaces the store fsync that the engine's writers share
// with wrap of it. Call it before the engine writes.
func WrapStoreSync(e *Engine, wrap func(sync func() error) func() error) {
	e.commit.mu.Lock()
	defer e.commit.mu.Unlock()
	e.commit.sync = wrap(e.commit.sync)
}

// WrapStoreOwn replaces the store write of this node's own events with
// wrap of it.
func WrapStoreOwn(e *Engine, wrap func(put func(*event.Event) error) func(*event.Event) error) {
	w := wrap(*e.storeOwn.Load())
	e.storeOwn.Store(&w)
}

// MarkSeqs returns the sequence numbers of the events a mark file's data
// holds.
func MarkSeqs(raw []byte) ([]uint64, error) {
	evs, err := decodeMark(raw)
	if err != nil {
		return nil, err
	}
	seqs := make([]uint64, len(evs))
	for i, ev := range evs {
		seqs[i] = ev.Seq
	}
	return seqs, nil
}
