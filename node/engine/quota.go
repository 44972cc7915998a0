package engine

import (
	"errors"
	"fmt"
	"sync"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
)

// ReasonQuota counts events refused because their author holds as much of
// the scope as one author may.
const ReasonQuota = "over_quota"

// ErrQuota reports an event over its author's quota in a scope.
var ErrQuota = errors.New("the author holds as much of this scope as one author may")

// Quota bounds what one author may hold in a scope: events and bytes of
// envelopes. Zero fields bound nothing.
type Quota struct {
	Events int
	Bytes  int64
}

// usage is what each author holds in a scope with a quota, read from the
// store the first time it is needed and kept up to date as events are
// stored.
type usage struct {
	mu     sync.Mutex
	loaded bool
	of     map[string]held
}

type held struct {
	events int
	bytes  int64
}

// reserve counts ev as held by its author if it fits the scope's quota; it
// is undone by release if ev is not stored after all (PutEvents finds it
// held). An event queued or stored lately is ignored, as a duplicate,
// whatever its author holds.
func (r *Replica) reserve(ev *event.Event) error {
	q := r.spec.AuthorQuota
	if q == (Quota{}) {
		return nil
	}
	if r.e.held(ev.ID) {
		return fmt.Errorf("event %s: %w", ev.ID, mesh.ErrIgnore)
	}
	u := &r.usage
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.loaded {
		authors, err := r.e.store.ScopeAuthors(r.spec.Scope)
		if err != nil {
			return fmt.Errorf("quota: %w", err)
		}
		u.of = make(map[string]held, len(authors))
		for _, a := range authors {
			u.of[string(a.Author)] = held{events: a.Events, bytes: a.Bytes}
		}
		u.loaded = true
	}
	h := u.of[string(ev.Author)]
	h.events++
	h.bytes += int64(len(ev.Raw))
	if (q.Events > 0 && h.events > q.Events) || (q.Bytes > 0 && h.bytes > q.Bytes) {
		return notTheSendersFault(ReasonQuota, fmt.Errorf("%w: %d events, %d bytes with %s", ErrQuota, h.events, h.bytes, ev.ID))
	}
	u.of[string(ev.Author)] = h
	return nil
}

// release undoes reserve for an event that was not stored.
func (r *Replica) release(ev *event.Event) {
	if r.spec.AuthorQuota == (Quota{}) {
		return
	}
	u := &r.usage
	u.mu.Lock()
	defer u.mu.Unlock()
	if h, ok := u.of[string(ev.Author)]; ok && u.loaded {
		h.events--
		h.bytes -= int64(len(ev.Raw))
		u.of[string(ev.Author)] = h
	}
}

// forgetUsage drops what was counted, for a scope deleted from the store.
func (r *Replica) forgetUsage() {
	r.usage.mu.Lock()
	defer r.usage.mu.Unlock()
	r.usage.loaded, r.usage.of = false, nil
}
