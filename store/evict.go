package store

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// Fair eviction keeps, for events that came from a peer, an index by that
// peer:
//
//	o <scope:32> <source:8> <time:8> <id:32>  -> size (4)
//
// where source is the first 8 bytes of SHA-256 of the peer ID. When a
// scope is over its quota, EvictFairly takes the oldest events of the peer
// that gave the most bytes, again and again, so that one peer flooding a
// scope pushes out its own input first and not everyone else's. An
// evicted event leaves a ghost in the history index: the history key with
// a one-byte value. Ghosts are not history (History, CountAfter and
// ScopeBytes skip them), but sync still lists them, so that peers do not
// send again what was evicted, PutEvents refuses to store them again, and
// the engine refuses them before checking a sync batch (Ghosts).
// They go when the scope's floor passes them.

const sourceHashSize = 8

func sourceHash(p peer.ID) []byte {
	h := sha256.Sum256([]byte(p))
	return h[:sourceHashSize]
}

func u32(n int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }

var ghostValue = []byte{'g'}

func isGhost(item *badger.Item) bool { return item.ValueSize() > 0 }

// Ghosts reports which of evs were evicted by a quota or refused for good
// here (their ghosts hold their history keys), in one read.
func (s *Store) Ghosts(evs []*event.Event) ([]bool, error) {
	out := make([]bool, len(evs))
	err := s.db.View(func(txn *badger.Txn) error {
		for i, e := range evs {
			var err error
			if out[i], err = ghostIn(txn, key('t', e.Scope, timeKey(e.Time), e.ID[:])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ghosts: %w", err)
	}
	return out, nil
}

// ghostIn reports whether the history key tk holds a ghost.
func ghostIn(txn *badger.Txn, tk []byte) (bool, error) {
	item, err := txn.Get(tk)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return isGhost(item), nil
}

type sourced struct {
	k    []byte // the o key
	size int64
}

// EvictFairly brings a scope's stored bytes down to quota, taking the
// oldest events of whichever source gave the most, each time. Events with
// no source (this node's own, and those stored before sources were kept)
// are not evicted. It returns how many events it evicted.
func (s *Store) EvictFairly(scope event.Scope, quota int64) (int, error) {
	total, err := s.ScopeBytes(scope)
	if err != nil || total <= quota {
		return 0, err
	}
	bySource := map[string][]sourced{}
	held := map[string]int64{}
	prefix := key('o', scope[:])
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().KeyCopy(nil)
			src := string(k[len(prefix) : len(prefix)+sourceHashSize])
			var size int64
			if err := it.Item().Value(func(v []byte) error {
				if len(v) == 4 {
					size = int64(binary.BigEndian.Uint32(v))
				}
				return nil
			}); err != nil {
				return err
			}
			bySource[src] = append(bySource[src], sourced{k: k, size: size})
			held[src] += size
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("evict: %w", err)
	}
	var victims [][]byte
	for total > quota && len(held) > 0 {
		sources := make([]string, 0, len(held))
		for src := range held {
			sources = append(sources, src)
		}
		heaviest := slices.MaxFunc(sources, func(a, b string) int {
			return cmp.Or(cmp.Compare(held[a], held[b]), bytes.Compare([]byte(a), []byte(b)))
		})
		v := bySource[heaviest][0]
		bySource[heaviest] = bySource[heaviest][1:]
		if held[heaviest] -= v.size; len(bySource[heaviest]) == 0 {
			delete(held, heaviest)
		}
		total -= v.size
		victims = append(victims, v.k)
	}
	return len(victims), s.ghost(scope, victims)
}

// ghost deletes the events of the given o keys and leaves their ghosts.
func (s *Store) ghost(scope event.Scope, oKeys [][]byte) error {
	s.putMu.Lock()
	defer s.putMu.Unlock()
	for len(oKeys) > 0 {
		n := min(len(oKeys), 500)
		var history []sumChange
		var others []event.Scope
		err := s.db.Update(func(txn *badger.Txn) error {
			history, others = history[:0], others[:0]
			for _, ok := range oKeys[:n] {
				id := ok[len(ok)-event.IDSize:]
				e, err := getEvent(txn, id)
				if errors.Is(err, ErrNotFound) {
					if err := txn.Delete(ok); err != nil {
						return err
					}
					continue
				}
				if err != nil {
					return err
				}
				meta, err := getValue(txn, key('m', id))
				if err != nil {
					return err
				}
				// The ghost keeps the history key (summary.go), unless
				// the index had lost it, or names another scope.
				tk := key('t', scope[:], timeKey(e.Time), e.ID[:])
				if e.ScopeID() != scope {
					others = append(others, e.ScopeID())
				}
				if _, err := txn.Get(tk); errors.Is(err, badger.ErrKeyNotFound) {
					history = append(history, historyChange(tk, true))
				} else if err != nil {
					return err
				}
				for _, k := range eventKeys(e, meta) {
					if err := txn.Delete(k); err != nil {
						return err
					}
				}
				if err := txn.Set(tk, ghostValue); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			s.sums.drop(append(others, scope)...)
			return fmt.Errorf("evict: %w", err)
		}
		s.sums.drop(others...)
		s.sums.apply(history)
		s.tidySums(history)
		oKeys = oKeys[n:]
	}
	return nil
}

// Forget deletes the events at the given positions of a scope, stored or
// not yet, and leaves their ghosts, so that sync neither sends them again
// nor takes them back (a post its author deleted). The caller must not
// forget the head of this node's own chain in the scope: the next event
// it writes would take the same sequence number.
func (s *Store) Forget(scope event.Scope, at []Cursor) error {
	s.putMu.Lock()
	defer s.putMu.Unlock()
	var history []sumChange
	err := s.db.Update(func(txn *badger.Txn) error {
		history = history[:0]
		for _, c := range at {
			// The ghost keeps the history key if there is one
			// (summary.go).
			tk := key('t', scope[:], timeKey(c.Time), c.ID[:])
			if _, err := txn.Get(tk); errors.Is(err, badger.ErrKeyNotFound) {
				history = append(history, historyChange(tk, true))
			} else if err != nil {
				return err
			}
			e, err := getEvent(txn, c.ID[:])
			switch {
			case errors.Is(err, ErrNotFound):
			case err != nil:
				return err
			case e.ScopeID() != scope || e.Time != c.Time:
				return fmt.Errorf("event %s is not at %s in scope %s", c.ID, c, scope)
			default:
				meta, err := getValue(txn, key('m', c.ID[:]))
				if err != nil {
					return err
				}
				for _, k := range eventKeys(e, meta) {
					if err := txn.Delete(k); err != nil {
						return err
					}
				}
			}
			if err := txn.Set(tk, ghostValue); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.sums.drop(scope)
		return fmt.Errorf("forget: %w", err)
	}
	s.sums.apply(history)
	s.tidySums(history)
	return nil
}
