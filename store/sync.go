package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// Support for catch-up sync and delivery status:
//
//	w <scope:32> <peer id>   -> arrival (8)   peer held everything up to here

// ScopeItems calls fn, in (time, id) order, for each event of scope whose
// sort key lies in [from, to), ghosts included (see EvictFairly). Keys are
// the 8-byte order-preserving time followed by a prefix of the ID; a nil to
// means the end of the scope.
func (s *Store) ScopeItems(scope event.Scope, from, to []byte, fn func(sortTime uint64, id event.ID)) error {
	prefix := key('t', scope[:])
	start := append(prefix[:len(prefix):len(prefix)], from...)
	var end []byte
	if to != nil {
		end = append(prefix[:len(prefix):len(prefix)], to...)
	}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Seek(start); it.Valid(); it.Next() {
			k := it.Item().Key()
			if end != nil && string(k) >= string(end) {
				break
			}
			var id event.ID
			copy(id[:], k[len(prefix)+8:])
			fn(binary.BigEndian.Uint64(k[len(prefix):]), id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("scope items: %w", err)
	}
	return nil
}

// SortTime returns the order-preserving encoding of an event time used in
// sort keys.
func SortTime(ms int64) uint64 { return binary.BigEndian.Uint64(timeKey(ms)) }

// LastArrival returns the newest position in the arrival log.
func (s *Store) LastArrival() (uint64, error) {
	var seq uint64
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{'l'}, Reverse: true})
		defer it.Close()
		it.Seek(key('l', u64(^uint64(0))))
		if it.Valid() {
			seq = binary.BigEndian.Uint64(it.Item().Key()[1:])
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("last arrival: %w", err)
	}
	return seq, nil
}

// ArrivalOf returns an event's position in the arrival log and whether it
// was created on this node.
func (s *Store) ArrivalOf(id event.ID) (seq uint64, local bool, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key('m', id[:]))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			if len(v) < 9 {
				return fmt.Errorf("short meta")
			}
			seq, local = binary.BigEndian.Uint64(v), v[8] == 1
			return nil
		})
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, false, ErrNotFound
	}
	if err != nil {
		return 0, false, fmt.Errorf("arrival of %s: %w", id, err)
	}
	return seq, local, nil
}

// SetSynced records that peer p held every event of scope up to arrival.
// It never moves a peer's mark backwards.
func (s *Store) SetSynced(scope event.Scope, p peer.ID, arrival uint64) error {
	if err := s.Writable(); err != nil {
		return fmt.Errorf("set synced: %w", err)
	}
	k := key('w', scope[:], []byte(p))
	err := s.db.Update(func(txn *badger.Txn) error {
		if item, err := txn.Get(k); err == nil {
			var old uint64
			if err := item.Value(func(v []byte) error { old = binary.BigEndian.Uint64(v); return nil }); err != nil {
				return err
			}
			if old >= arrival {
				return nil
			}
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		return txn.Set(k, u64(arrival))
	})
	if err != nil {
		return fmt.Errorf("set synced: %w", err)
	}
	return nil
}

// SyncedMarks returns, for each peer, the arrival position up to which it
// is known to hold the scope's events.
func (s *Store) SyncedMarks(scope event.Scope) (map[peer.ID]uint64, error) {
	out := map[peer.ID]uint64{}
	prefix := key('w', scope[:])
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			p := peer.ID(it.Item().Key()[len(prefix):])
			if err := it.Item().Value(func(v []byte) error { out[p] = binary.BigEndian.Uint64(v); return nil }); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("synced marks: %w", err)
	}
	return out, nil
}

// Missing counts the events of a scope that this node knows exist but does
// not have: gaps in each author's sequence numbers between the lowest and
// the highest it holds. (Events below the lowest may have been pruned, or
// were never sent to a member who joined late.)
func (s *Store) Missing(scope event.Scope) (int, error) { return s.missing(scope, nil) }

// MissingOf is Missing for one author's events.
func (s *Store) MissingOf(scope event.Scope, author []byte) (int, error) {
	return s.missing(scope, author)
}

func (s *Store) missing(scope event.Scope, of []byte) (int, error) {
	prefix := key('a', scope[:])
	missing := 0
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: append(bytes.Clone(prefix), of...)})
		defer it.Close()
		var author []byte
		var count, minSeq, maxSeq uint64
		flush := func() {
			if span := maxSeq - minSeq + 1; count > 0 && span > count {
				missing += int(span - count)
			}
		}
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			a := k[len(prefix) : len(prefix)+32]
			seq := binary.BigEndian.Uint64(k[len(prefix)+32:])
			if count == 0 || string(a) != string(author) {
				flush()
				author, count, minSeq = append(author[:0], a...), 0, seq
			}
			// Forks (one author, one seq, two events) count once.
			if count == 0 || seq != maxSeq {
				count++
			}
			maxSeq = seq
		}
		flush()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("missing: %w", err)
	}
	return missing, nil
}

// FirstArrivalAfter returns the lowest arrival position of the scope's
// events later than ms (Unix milliseconds), and whether there is one: a
// peer whose clock refuses them does not hold what arrived from there on.
func (s *Store) FirstArrivalAfter(scope event.Scope, ms int64) (first uint64, ok bool, err error) {
	prefix := key('t', scope[:])
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Seek(key('t', scope[:], timeKey(ms+1))); it.Valid(); it.Next() {
			k := it.Item().Key()
			item, err := txn.Get(key('m', k[len(k)-event.IDSize:]))
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			} else if err != nil {
				return err
			}
			err = item.Value(func(v []byte) error {
				if a := binary.BigEndian.Uint64(v[:8]); !ok || a < first {
					first, ok = a, true
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("first arrival after %d: %w", ms, err)
	}
	return first, ok, nil
}
