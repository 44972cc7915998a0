package store

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// AuthorUsage is what one author holds in a scope.
type AuthorUsage struct {
	Author []byte
	Events int
	Bytes  int64
	// Oldest and Newest are the times (Unix ms) of the author's first and
	// last event kept.
	Oldest, Newest int64
}

// authorEvent is one event of a scope found through the chain index.
type authorEvent struct {
	k    []byte // the a key: scope, author, seq, id
	size int64
}

// scopeAuthors reads a scope's chain index: every author's events, in
// the order of their chains (oldest first), with their sizes.
func (s *Store) scopeAuthors(scope event.Scope, fn func(author []byte, evs []authorEvent) error) error {
	prefix := key('a', scope[:])
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		var cur []byte
		var evs []authorEvent
		flush := func() error {
			if cur == nil {
				return nil
			}
			return fn(cur, evs)
		}
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().KeyCopy(nil)
			author := k[len(prefix) : len(k)-8-event.IDSize]
			if !bytes.Equal(author, cur) {
				if err := flush(); err != nil {
					return err
				}
				cur, evs = author, nil
			}
			item, err := txn.Get(key('e', k[len(k)-event.IDSize:]))
			if err != nil {
				return err
			}
			evs = append(evs, authorEvent{k: k, size: item.ValueSize()})
		}
		return flush()
	})
}

// ScopeAuthors returns what each author holds in a scope, the heaviest
// first.
func (s *Store) ScopeAuthors(scope event.Scope) ([]AuthorUsage, error) {
	var out []AuthorUsage
	err := s.scopeAuthors(scope, func(author []byte, evs []authorEvent) error {
		u := AuthorUsage{Author: bytes.Clone(author), Events: len(evs)}
		for _, e := range evs {
			u.Bytes += e.size
		}
		first, err := s.Event(event.ID(evs[0].k[len(evs[0].k)-event.IDSize:]))
		if err != nil {
			return err
		}
		last, err := s.Event(event.ID(evs[len(evs)-1].k[len(evs[len(evs)-1].k)-event.IDSize:]))
		if err != nil {
			return err
		}
		u.Oldest, u.Newest = first.Time, last.Time
		out = append(out, u)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scope authors: %w", err)
	}
	slices.SortFunc(out, func(a, b AuthorUsage) int {
		return cmp.Or(cmp.Compare(b.Bytes, a.Bytes), bytes.Compare(a.Author, b.Author))
	})
	return out, nil
}

// EvictAuthors brings every author of a scope down to authorQuota bytes
// and then the scope down to scopeQuota, taking the oldest events of the
// heaviest author each time (0: no quota). Events of the scope's
// authors weigh alike wherever they came from, so an author who floods a
// group pushes out their own history first, not everyone else's.
// Evicted events leave ghosts, as with EvictFairly. It returns how many
// events it evicted.
func (s *Store) EvictAuthors(scope event.Scope, scopeQuota, authorQuota int64) (int, error) {
	type chain struct {
		evs  []authorEvent
		held int64
	}
	var chains []*chain
	var total int64
	err := s.scopeAuthors(scope, func(_ []byte, evs []authorEvent) error {
		c := &chain{evs: evs}
		for _, e := range evs {
			c.held += e.size
		}
		total += c.held
		chains = append(chains, c)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("evict: %w", err)
	}
	var victims [][]byte
	take := func(c *chain) {
		v := c.evs[0]
		c.evs, c.held, total = c.evs[1:], c.held-v.size, total-v.size
		victims = append(victims, v.k)
	}
	if authorQuota > 0 {
		for _, c := range chains {
			for c.held > authorQuota {
				take(c)
			}
		}
	}
	for scopeQuota > 0 && total > scopeQuota {
		heaviest := slices.MaxFunc(chains, func(a, b *chain) int {
			return cmp.Or(cmp.Compare(a.held, b.held), -bytes.Compare(keyOf(a.evs), keyOf(b.evs)))
		})
		take(heaviest)
	}
	return len(victims), s.ghost(scope, victims)
}

// seekSteps is how many keys seekEvent steps over before it seeks: a step
// within a block costs far less than a seek, which searches every level.
const seekSteps = 32

// seekEvent moves it, an iterator over envelopes, forward to the envelope
// of id and reads it (as getEvent does); successive calls must ask for
// increasing IDs. Where the envelopes asked for are most of those stored
// it steps from one to the next; where they are far apart it seeks.
func seekEvent(it *badger.Iterator, id []byte) (*event.Event, error) {
	k := key('e', id)
	for n := 0; ; n++ {
		if !it.Valid() || n == seekSteps {
			it.Seek(k)
			break
		}
		if bytes.Compare(it.Item().Key(), k) >= 0 {
			break
		}
		it.Next()
	}
	if !it.Valid() || !bytes.Equal(it.Item().Key(), k) {
		return nil, fmt.Errorf("event %x: %w", id, ErrNotFound)
	}
	return itemEvent(it.Item(), id)
}

// keyOf is the first key of a chain, to break ties between equal chains
// the same way every time.
func keyOf(evs []authorEvent) []byte {
	if len(evs) == 0 {
		return nil
	}
	return evs[0].k
}

// ScopeEvents calls fn for every event stored in scope, in one read
// transaction and in the order of their IDs, evicted events left out. It
// is how a feature loads a whole scope at start: one pass instead of a
// lookup per ID from outside. The IDs come from the scope's chain index;
// the envelopes are read in ID order, the order of their keys, so that
// each table block is read once rather than once for each of its events.
// Damaged envelopes are skipped and counted (as History does). An error
// from fn stops the pass and is returned.
func (s *Store) ScopeEvents(scope event.Scope, fn func(*event.Event) error) error {
	prefix := key('a', scope[:])
	err := s.db.View(func(txn *badger.Txn) error {
		var ids []event.ID
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			ids = append(ids, event.ID(k[len(k)-event.IDSize:]))
		}
		it.Close()
		slices.SortFunc(ids, func(a, b event.ID) int { return bytes.Compare(a[:], b[:]) })
		envs := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{'e'}})
		defer envs.Close()
		for _, id := range ids {
			e, err := seekEvent(envs, id[:])
			// Badger answers "not found" for a key in a block it cannot
			// read: an indexed event without its envelope is damage too.
			if errors.Is(err, ErrDamaged) || errors.Is(err, ErrNotFound) {
				s.damageSeen()
				continue
			}
			if err != nil {
				return err
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("scope events: %w", err)
	}
	return nil
}
