package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// Scrubbing.
//
// Damage on disk must not stay silent. Badger checks each block's
// checksum when it reads it (OnBlockRead), so damaged data is an error,
// never wrong data; but data nobody reads is never checked. So the store
// reads all of itself now and then (Scrub), and at once when a read met a
// damaged event: every table's every block (tables.go), and every event,
// whose ID must still be the hash of its bytes and whose signature must
// still hold. An event whose bytes are damaged is removed with all its
// index keys, so that the next sync fetches it again from a peer that
// holds it whole, and one whole but missing index keys is indexed again;
// damage in a table is reported with the table's name (Badger cannot read
// past it, and only a copy can repair it).

// Damage is what a scrub found.
type Damage struct {
	At time.Time
	// Events counts the events checked; Removed those whose bytes were
	// damaged and were removed to be fetched again.
	Events, Removed int
	// Reindexed counts whole events that had lost index keys and were
	// indexed again.
	Reindexed int
	// Tables names the tables that fail their checksums, with the block;
	// empty when all passed.
	Tables string
	// SetAside names the tables set aside as damaged when the store
	// opened (tables.go).
	SetAside []string
}

// Found says in a sentence what the scrub found, or "" when nothing.
func (d Damage) Found() string {
	var out string
	if d.Removed > 0 {
		out = fmt.Sprintf("%d stored events were damaged on disk and were removed, to be fetched again from peers", d.Removed)
	}
	add := func(s string) {
		if out != "" {
			out += "; "
		}
		out += s
	}
	if d.Tables != "" {
		add("part of the store cannot be read (" + d.Tables + "): what it held is lost here unless peers have it")
	}
	if len(d.SetAside) > 0 {
		add(fmt.Sprintf("%d damaged tables were set aside when the store opened (%s): the events they held are fetched again from peers", len(d.SetAside), strings.Join(d.SetAside, "; ")))
	}
	return out
}

// scrubState keeps the last scrub's result.
type scrubState struct {
	mu   sync.Mutex
	last Damage
}

// LastScrub returns what the last scrub found (zero before the first).
func (s *Store) LastScrub() Damage {
	s.scrub.mu.Lock()
	defer s.scrub.mu.Unlock()
	return s.scrub.last
}

// scrubBatch is how many events one read transaction checks; scrubPause
// the rest between batches, so that a scrub never crowds out the node's
// own work.
const (
	// scrubFirst is when the first scrub runs after start: soon, so that
	// damage left by a crash or a bad disk is found while it is fresh.
	scrubFirst = 2 * time.Minute
	scrubBatch = 1000
	scrubPause = 50 * time.Millisecond
)

// Scrub reads the whole store, checking every block and every event, and
// removes events whose bytes are damaged (see above). Its result is kept
// for LastScrub and logged when it found anything.
func (s *Store) Scrub(ctx context.Context) (d Damage, err error) {
	defer func() {
		// A damaged table can make Badger panic while it reads it; this
		// goroutine is ours to guard.
		if r := recover(); r != nil {
			d.Tables, err = fmt.Sprint(r), nil
		}
		d.SetAside = s.setAside
		if err == nil {
			d.At = time.Now()
			s.scrub.mu.Lock()
			s.scrub.last = d
			s.scrub.mu.Unlock()
			if f := d.Found(); f != "" {
				s.log.Error("store damage found", "what", f, "events_checked", d.Events)
			}
		}
	}()
	d.Tables = s.verifyTables()
	var damaged []event.ID
	// Whole envelopes that lost index keys (a table set aside held them)
	// by their local flag: sync, which sees events through the history
	// index, would fetch them again and be told they are stored.
	unindexed := map[bool][]*event.Event{}
	var from []byte
	for {
		if err := ctx.Err(); err != nil {
			return d, err
		}
		var n int
		var broke any
		err := s.db.View(func(txn *badger.Txn) (err error) {
			// Badger can panic parsing a damaged block before it checks
			// it: the pass stops there, and the check of the history
			// index below reads the rest event by event.
			defer func() {
				if broke = recover(); broke != nil {
					err = nil
				}
			}()
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{'e'}, PrefetchValues: true, PrefetchSize: 64})
			defer it.Close()
			it.Seek(key('e', from))
			for ; it.Valid() && n < scrubBatch; it.Next() {
				k := it.Item().KeyCopy(nil)
				if len(from) > 0 && string(k[1:]) == string(from) {
					continue
				}
				from = k[1:]
				n++
				var id event.ID
				copy(id[:], k[1:])
				err := it.Item().Value(func(raw []byte) error {
					if got, ok := event.PeekID(raw); !ok || got != id {
						damaged = append(damaged, id)
						return nil
					}
					ev, err := event.Decode(raw)
					if err != nil {
						damaged = append(damaged, id)
					} else if local, whole := indexed(txn, ev); !whole {
						// raw is Badger's, valid only here.
						ev, _ = event.Decode(bytes.Clone(raw))
						unindexed[local] = append(unindexed[local], ev)
					}
					return nil
				})
				if err != nil {
					damaged = append(damaged, id)
				}
			}
			return nil
		})
		if err != nil {
			return d, fmt.Errorf("scrub: %w", err)
		}
		d.Events += n
		if broke != nil {
			d.Tables = strings.TrimPrefix(d.Tables+"; ", "; ") + fmt.Sprintf("reading the events stopped at a damaged block (%v)", broke)
			break
		}
		if n < scrubBatch {
			break
		}
		select {
		case <-ctx.Done():
			return d, ctx.Err()
		case <-time.After(scrubPause):
		}
	}
	// An envelope in a damaged block cannot be read at all, so the pass
	// above may never meet it; the history index, elsewhere on disk, still
	// names it.
	unreadable, err := s.unreadableEvents(ctx)
	if err != nil {
		return d, err
	}
	damaged = append(damaged, unreadable...)
	if len(damaged) > 0 {
		if err := s.removeDamaged(damaged); err != nil {
			return d, fmt.Errorf("scrub: %w", err)
		}
		d.Removed = len(damaged)
	}
	for local, evs := range unindexed {
		if err := s.reindex(evs, local); err != nil {
			return d, fmt.Errorf("scrub: %w", err)
		}
		d.Reindexed += len(evs)
	}
	if d.Removed+d.Reindexed > 0 {
		select {
		case s.repaired <- struct{}{}:
		default:
		}
	}
	return d, nil
}

// damageSeen has the scrub run now: a read met a damaged envelope, which
// the scrub removes so that sync fetches it again.
func (s *Store) damageSeen() {
	select {
	case s.scrubNow <- struct{}{}:
	default:
	}
}

// Repaired is signalled after a scrub removed or indexed again events:
// syncing with peers now brings back what was removed.
func (s *Store) Repaired() <-chan struct{} { return s.repaired }

// indexed reports whether every index key of a stored event is there, and
// whether it was written by this node.
func indexed(txn *badger.Txn, e *event.Event) (local, whole bool) {
	item, err := txn.Get(key('m', e.ID[:]))
	if err != nil {
		return false, false
	}
	_ = item.Value(func(v []byte) error {
		local = len(v) > 8 && v[8] == 1
		return nil
	})
	for _, k := range [][]byte{key('t', e.Scope, timeKey(e.Time), e.ID[:]), key('a', e.Scope, e.Author, u64(e.Seq), e.ID[:])} {
		if _, err := txn.Get(k); err != nil {
			return local, false
		}
	}
	return local, true
}

// reindex stores whole events again with all their keys.
func (s *Store) reindex(evs []*event.Event, local bool) error {
	ids := make([]event.ID, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	if err := s.removeDamaged(ids); err != nil {
		return err
	}
	_, err := s.PutEvents(evs, PutOptions{Local: local})
	return err
}

// unreadableEvents returns the events the history index names whose
// envelopes cannot be read, or are gone.
func (s *Store) unreadableEvents(ctx context.Context) ([]event.ID, error) {
	var out []event.ID
	seen := 0
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{'t'}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if seen++; seen%scrubBatch == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			k := it.Item().Key()
			if len(k) < 1+event.ScopeSize+8+event.IDSize {
				continue
			}
			ghost := false
			if err := it.Item().Value(func(v []byte) error { ghost = bytes.Equal(v, ghostValue); return nil }); err != nil {
				return err
			}
			if ghost {
				continue
			}
			var id event.ID
			copy(id[:], k[len(k)-event.IDSize:])
			if !readable(txn, id) {
				out = append(out, id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scrub: %w", err)
	}
	return out, nil
}

// readable reports whether the envelope of id can be read. Badger
// answers "not found" for a key in a block it cannot read, and may panic
// on one it parses before checking: an indexed event without a readable
// envelope is damage.
func readable(txn *badger.Txn, id event.ID) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	item, err := txn.Get(key('e', id[:]))
	if err == nil {
		err = item.Value(func([]byte) error { return nil })
	}
	return err == nil
}

// removeDamaged deletes every key of events whose envelopes are damaged:
// found by their IDs, since their bytes cannot be trusted to say their
// scope, time or author.
func (s *Store) removeDamaged(ids []event.ID) error {
	bad := make(map[event.ID]bool, len(ids))
	for _, id := range ids {
		bad[id] = true
	}
	var keys [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		for id := range bad {
			keys = append(keys, key('e', id[:]))
			item, err := txn.Get(key('m', id[:]))
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			} else if err != nil {
				return err
			}
			keys = append(keys, key('m', id[:]))
			err = item.Value(func(v []byte) error {
				if len(v) >= 8 {
					keys = append(keys, key('l', v[:8]))
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		// The index keys all end with the event's ID.
		for _, p := range []byte{'t', 'a', 'o'} {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{p}})
			for it.Rewind(); it.Valid(); it.Next() {
				k := it.Item().Key()
				var id event.ID
				if len(k) > event.IDSize {
					copy(id[:], k[len(k)-event.IDSize:])
				}
				if bad[id] {
					keys = append(keys, it.Item().KeyCopy(nil))
				}
			}
			it.Close()
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.putMu.Lock()
	defer s.putMu.Unlock()
	// The scopes whose history keys go keep no sums (summary.go).
	defer func() {
		for _, k := range keys {
			if k[0] == 't' && len(k) > 1+event.ScopeSize {
				s.sums.drop(event.Scope(k[1 : 1+event.ScopeSize]))
			}
		}
	}()
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range keys {
		if err := wb.Delete(k); err != nil {
			return err
		}
	}
	return wb.Flush()
}
