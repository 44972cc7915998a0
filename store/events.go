package store

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// PutOptions qualifies how an event is stored.
type PutOptions struct {
	// Local marks an event created on this node. The caller makes it
	// durable with Sync before telling the user it was sent.
	Local bool
	// Source is the peer that gave this node the event, if any: quotas
	// that evict fairly (EvictFairly) take from the peer that gave most.
	Source peer.ID
}

// PutEvent stores a verified event and its indexes. It reports false, and
// changes nothing, when the event is already stored. It returns the event's
// position in the local arrival log.
func (s *Store) PutEvent(e *event.Event, opts PutOptions) (added bool, arrival uint64, err error) {
	res, err := s.PutEvents([]*event.Event{e}, opts)
	if err != nil {
		return false, 0, err
	}
	return res[0] != 0, res[0], nil
}

// PutEvents stores a batch of verified events in as few transactions as
// Badger allows. For each event it returns its arrival position, or 0 if it
// was already stored.
func (s *Store) PutEvents(evs []*event.Event, opts PutOptions) ([]uint64, error) {
	// One writer at a time: arrival numbers must commit in the order they
	// are taken, or a reader resuming from n+1 would never see n; and two
	// deliveries of one event (gossip and sync) must not conflict.
	if err := s.Writable(); err != nil {
		return nil, fmt.Errorf("put events: %w", err)
	}
	s.putMu.Lock()
	defer s.putMu.Unlock()
	arrivals := make([]uint64, len(evs))
	added := 0
	for start := 0; start < len(evs); {
		txn := s.db.NewTransaction(true)
		var history []sumChange
		n, err := s.putInTxn(txn, evs[start:], arrivals[start:], opts, &history)
		if err == nil {
			// Sums count an event before it commits (summary.go).
			s.sums.apply(history)
			if err = txn.Commit(); err != nil {
				s.sums.undo(history)
			}
		}
		txn.Discard()
		if err != nil {
			return nil, fmt.Errorf("put events: %w", err)
		}
		s.tidySums(history)
		start += n
	}
	for _, a := range arrivals {
		if a != 0 {
			added++
		}
	}
	if added > 0 {
		s.events.notify()
	}
	return arrivals, nil
}

// putInTxn adds events to txn until they are done or the transaction is
// full, and returns how many it handled.
// It adds to history the history keys it adds.
func (s *Store) putInTxn(txn *badger.Txn, evs []*event.Event, arrivals []uint64, opts PutOptions, history *[]sumChange) (int, error) {
	local := byte(0)
	if opts.Local {
		local = 1
	}
	var src []byte
	if opts.Source != "" {
		src = sourceHash(opts.Source)
	}
	var bytes int64
	for i, e := range evs {
		ek := key('e', e.ID[:])
		if _, err := txn.Get(ek); err == nil {
			continue
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return 0, err
		}
		// Badger refuses transactions beyond a fraction of its memtable;
		// stop before this event could cross that, never half-way through.
		bytes += int64(len(e.Raw)) + txnOverheadPerEvent
		if i > 0 && (i >= maxEventsPerTxn || bytes > s.maxBatch) {
			return i, nil
		}
		// An event evicted here leaves a ghost (evict.go) holding its
		// history key: it is not taken back, however it comes again.
		tk := key('t', e.Scope, timeKey(e.Time), e.ID[:])
		item, err := txn.Get(tk)
		switch {
		case err == nil && isGhost(item):
			continue
		case err != nil && !errors.Is(err, badger.ErrKeyNotFound):
			return 0, err
		case err != nil && s.sums.keeps(e.ScopeID()):
			// A new history key: only scopes that keep sums need to
			// know, and none starts to under putMu.
			*history = append(*history, historyChange(tk, true))
		}
		n, err := s.arrSeq.Next()
		if err != nil {
			return 0, fmt.Errorf("arrival sequence: %w", err)
		}
		// Badger's sequence starts at 0; arrival numbers start at 1 so that
		// 0 can mean "from the beginning" (and "not added").
		arrival := n + 1
		kvs := [][2][]byte{
			{ek, e.Raw},
			{key('m', e.ID[:]), append(append(u64(arrival), local), src...)},
			{tk, nil},
			{key('a', e.Scope, e.Author, u64(e.Seq), e.ID[:]), nil},
			// The scope beside the ID lets a reader of one scope's
			// arrivals pass the others without reading them.
			{key('l', u64(arrival)), append(e.ID[:len(e.ID):len(e.ID)], e.Scope...)},
		}
		if src != nil {
			kvs = append(kvs, [2][]byte{key('o', e.Scope, src, timeKey(e.Time), e.ID[:]), u32(len(e.Raw))})
		}
		for _, kv := range kvs {
			if err := txn.Set(kv[0], kv[1]); err != nil {
				return 0, err
			}
		}
		arrivals[i] = arrival
	}
	return len(evs), nil
}

// Bounds of one write transaction: the index keys of an event take about
// txnOverheadPerEvent bytes beside its envelope.
const (
	txnOverheadPerEvent = 512
	maxEventsPerTxn     = 1000
)

// HasEvent reports whether the event is stored.
func (s *Store) HasEvent(id event.ID) (bool, error) {
	has, err := s.HasEvents([]event.ID{id})
	if err != nil {
		return false, err
	}
	return has[0], nil
}

// HasEvents reports which of ids are stored, in one read: each read
// waits for the writes in progress to commit.
func (s *Store) HasEvents(ids []event.ID) ([]bool, error) {
	out := make([]bool, len(ids))
	err := s.db.View(func(txn *badger.Txn) error {
		for i, id := range ids {
			_, err := txn.Get(key('e', id[:]))
			switch {
			case err == nil:
				out[i] = true
			case !errors.Is(err, badger.ErrKeyNotFound):
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("has events: %w", err)
	}
	return out, nil
}

// Event returns a stored event.
func (s *Store) Event(id event.ID) (*event.Event, error) {
	var e *event.Event
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		e, err = getEvent(txn, id[:])
		return err
	})
	if errors.Is(err, ErrDamaged) {
		s.damageSeen()
	}
	return e, err
}

// Events returns the stored events among ids, in one read transaction,
// skipping those not stored.
func (s *Store) Events(ids []event.ID) ([]*event.Event, error) {
	out := make([]*event.Event, 0, len(ids))
	err := s.db.View(func(txn *badger.Txn) error {
		for _, id := range ids {
			e, err := getEvent(txn, id[:])
			if errors.Is(err, ErrDamaged) {
				s.damageSeen()
				continue
			}
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	return out, nil
}

// ErrDamaged reports a stored envelope whose bytes cannot be read or are
// not the event they are stored as.
var ErrDamaged = errors.New("stored event is damaged")

func getEvent(txn *badger.Txn, id []byte) (*event.Event, error) {
	item, err := txn.Get(key('e', id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("event %x: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get event: %w", err)
	}
	return itemEvent(item, id)
}

// itemEvent reads the envelope of id from its item and checks that it is
// the envelope of id.
func itemEvent(item *badger.Item, id []byte) (*event.Event, error) {
	raw, err := item.ValueCopy(nil)
	if err != nil {
		return nil, fmt.Errorf("event %x: %w (%v)", id, ErrDamaged, err)
	}
	e, err := event.Parse(raw)
	if err != nil || !bytes.Equal(e.ID[:], id) {
		return nil, fmt.Errorf("event %x: %w (%v)", id, ErrDamaged, err)
	}
	return e, nil
}

// Head returns the highest sequence number and its event ID stored for an
// author in a scope; seq is 0 when there is none.
func (s *Store) Head(scope event.Scope, author []byte) (seq uint64, id event.ID, err error) {
	prefix := key('a', scope[:], author)
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
		defer it.Close()
		it.Seek(scopeEnd(prefix))
		if !it.Valid() {
			return nil
		}
		k := it.Item().Key()[len(prefix):]
		seq = binary.BigEndian.Uint64(k)
		copy(id[:], k[8:])
		return nil
	})
	if err != nil {
		return 0, id, fmt.Errorf("head: %w", err)
	}
	return seq, id, nil
}

// Cursor is a position in a scope's history: a (time, id) pair, encoded as
// an opaque string for clients.
type Cursor struct {
	Time int64
	ID   event.ID
}

// Compare orders cursors by (time, id).
func (c Cursor) Compare(o Cursor) int {
	if c.Time != o.Time {
		if c.Time < o.Time {
			return -1
		}
		return 1
	}
	return bytes.Compare(c.ID[:], o.ID[:])
}

// IsZero reports whether c is the zero cursor (the newest end of history).
func (c Cursor) IsZero() bool { return c == Cursor{} }

// String encodes the cursor for clients.
func (c Cursor) String() string {
	if c.IsZero() {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(append(timeKey(c.Time), c.ID[:]...))
}

// ParseCursor decodes a cursor made by Cursor.String.
func ParseCursor(s string) (Cursor, error) {
	var c Cursor
	if s == "" {
		return c, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 8+event.IDSize {
		return c, fmt.Errorf("bad cursor %q: use a cursor printed by a previous page", s)
	}
	c.Time = timeFromKey(b[:8])
	copy(c.ID[:], b[8:])
	return c, nil
}

// CursorOf returns the history position of an event.
func CursorOf(e *event.Event) Cursor { return Cursor{Time: e.Time, ID: e.ID} }

// History returns up to limit events of a scope that sort before the cursor
// (the newest ones when the cursor is zero), oldest first, and the cursor of
// the next, older page (zero when there is none). History is ordered by
// (author time, event ID), so every node shows the same order.
func (s *Store) History(scope event.Scope, before Cursor, limit int) ([]*event.Event, Cursor, error) {
	if limit <= 0 {
		return nil, Cursor{}, fmt.Errorf("history: limit must be positive, got %d", limit)
	}
	var out []*event.Event
	var next Cursor
	prefix := key('t', scope[:])
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
		defer it.Close()
		if before.IsZero() {
			it.Seek(scopeEnd(prefix))
		} else {
			it.Seek(key('t', scope[:], timeKey(before.Time), before.ID[:]))
			if it.Valid() && string(it.Item().Key()) == string(key('t', scope[:], timeKey(before.Time), before.ID[:])) {
				it.Next()
			}
		}
		for ; it.Valid(); it.Next() {
			if isGhost(it.Item()) {
				continue
			}
			k := it.Item().Key()
			id := k[len(k)-event.IDSize:]
			if len(out) == limit {
				next = CursorOf(out[len(out)-1])
				break
			}
			e, err := getEvent(txn, id)
			// Badger answers "not found" for a key in a block it cannot
			// read: an indexed event without its envelope is damage too.
			if errors.Is(err, ErrDamaged) || errors.Is(err, ErrNotFound) {
				s.damageSeen()
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, Cursor{}, fmt.Errorf("history: %w", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, next, nil
}

// CountAfter counts a scope's events that sort after the cursor (all of
// them for the zero cursor).
func (s *Store) CountAfter(scope event.Scope, after Cursor) (int, error) {
	n := 0
	prefix := key('t', scope[:])
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		start := key('t', scope[:], timeKey(after.Time), after.ID[:])
		if after.IsZero() {
			it.Rewind()
		} else {
			it.Seek(start)
		}
		for ; it.Valid(); it.Next() {
			if isGhost(it.Item()) || (!after.IsZero() && string(it.Item().Key()) == string(start)) {
				continue
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	return n, nil
}

// Arrival is an entry of the local arrival log: every event this node
// stored, and every record a feature logged (a private message written or
// updated, say), in that order. Either Event is set, or Table, Key and
// Value are.
type Arrival struct {
	Seq   uint64
	Event *event.Event
	// Table is the name of the logged record's table, Key its key in the
	// table and Value what the record holds now.
	Table string
	Key   []byte
	Value []byte
}

// ArrivalsSince returns up to limit arrival-log entries after seq. Entries
// whose event or record has been deleted since are skipped.
func (s *Store) ArrivalsSince(seq uint64, limit int) ([]Arrival, error) {
	var out []Arrival
	if seq == math.MaxUint64 {
		return nil, nil
	}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{'l'}})
		defer it.Close()
		for it.Seek(key('l', u64(seq+1))); it.Valid() && len(out) < limit; it.Next() {
			item := it.Item()
			a := Arrival{Seq: binary.BigEndian.Uint64(item.Key()[1:])}
			ref, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if item.UserMeta() == logRecord {
				t, k := s.tableOf(ref)
				if t == nil {
					continue // a table nobody opened: nobody can show it
				}
				v, err := getValue(txn, ref)
				if errors.Is(err, ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				a.Table, a.Key, a.Value = t.name, k, v
				out = append(out, a)
				continue
			}
			e, err := getEvent(txn, ref[:event.IDSize])
			if errors.Is(err, ErrNotFound) {
				continue // the scope was deleted since
			}
			if errors.Is(err, ErrDamaged) {
				s.damageSeen()
				continue
			}
			if err != nil {
				return err
			}
			a.Event = e
			out = append(out, a)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("arrivals: %w", err)
	}
	return out, nil
}

// ScopeArrivalsSince returns the events of scope among the next limit
// arrival-log entries after seq, and the position of the last entry it
// looked at (seq if none): the cursor to go on from. Events of other
// scopes are passed without being read.
func (s *Store) ScopeArrivalsSince(scope event.Scope, seq uint64, limit int) ([]*event.Event, uint64, error) {
	var out []*event.Event
	last := seq
	if seq == math.MaxUint64 {
		return nil, seq, nil
	}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{'l'}})
		defer it.Close()
		n := 0
		for it.Seek(key('l', u64(seq+1))); it.Valid() && n < limit; it.Next() {
			n++
			item := it.Item()
			last = binary.BigEndian.Uint64(item.Key()[1:])
			if item.UserMeta() == logRecord {
				continue
			}
			ref, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			// Entries written before the scope was logged beside the ID
			// are read to learn it.
			if len(ref) == event.IDSize+event.ScopeSize && string(ref[event.IDSize:]) != string(scope[:]) {
				continue
			}
			e, err := getEvent(txn, ref[:event.IDSize])
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if e.ScopeID() == scope {
				out = append(out, e)
			}
		}
		return nil
	})
	if err != nil {
		return nil, seq, fmt.Errorf("arrivals of %s: %w", scope, err)
	}
	return out, last, nil
}

// Notify returns a channel that is closed at the next arrival. Readers of
// the arrival log wait on it instead of polling.
func (s *Store) Notify() <-chan struct{} { return s.events.wait() }

// DeleteScope removes every event of a scope and its indexes, and what
// is known about which peers hold them.
func (s *Store) DeleteScope(scope event.Scope) error {
	if _, _, err := s.deleteOldest(scope, func(int64, int64) bool { return true }); err != nil {
		return err
	}
	return s.deletePrefix(key('w', scope[:]))
}

// Prune deletes a scope's oldest events: those older than minTime (Unix
// ms; 0 for no age limit) and, oldest first, as many as needed for the
// rest to fit in quota bytes (0 for no quota). It returns how many were
// deleted and the position of the oldest event kept, which becomes the
// scope's floor for sync.
func (s *Store) Prune(scope event.Scope, minTime int64, quota int64) (deleted int, floor Cursor, err error) {
	total, err := s.ScopeBytes(scope)
	if err != nil {
		return 0, Cursor{}, err
	}
	return s.deleteOldest(scope, func(t, size int64) bool {
		if (minTime != 0 && t < minTime) || (quota > 0 && total > quota) {
			total -= size
			return true
		}
		return false
	})
}

// ScopeBytes returns the stored size of a scope's envelopes.
func (s *Store) ScopeBytes(scope event.Scope) (int64, error) {
	var total int64
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: key('t', scope[:])})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if isGhost(it.Item()) {
				continue
			}
			k := it.Item().Key()
			item, err := txn.Get(key('e', k[len(k)-event.IDSize:]))
			if err != nil {
				return err
			}
			total += item.ValueSize()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("scope bytes: %w", err)
	}
	return total, nil
}

// deleteOldest deletes a scope's events from the oldest while drop(time,
// size) says so, with their indexes, and returns the first event kept.
// Ghosts (see EvictFairly) go as they are reached, without counting.
func (s *Store) deleteOldest(scope event.Scope, drop func(t, size int64) bool) (int, Cursor, error) {
	var victims []*event.Event
	var metas, ghosts [][]byte
	var kept Cursor
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: key('t', scope[:])})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			id := k[len(k)-event.IDSize:]
			if isGhost(it.Item()) {
				if !drop(timeFromKey(k[1+event.ScopeSize:]), 0) {
					kept = Cursor{Time: timeFromKey(k[1+event.ScopeSize:]), ID: event.ID(id)}
					return nil
				}
				ghosts = append(ghosts, bytes.Clone(k))
				continue
			}
			e, err := getEvent(txn, id)
			if err != nil {
				return err
			}
			if !drop(e.Time, int64(len(e.Raw))) {
				kept = CursorOf(e)
				return nil
			}
			item, err := txn.Get(key('m', id))
			if err != nil {
				return err
			}
			meta, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			victims, metas = append(victims, e), append(metas, meta)
		}
		return nil
	})
	if err != nil {
		return 0, Cursor{}, fmt.Errorf("delete events: %w", err)
	}
	s.putMu.Lock()
	defer s.putMu.Unlock()
	history := make([][]byte, 0, len(ghosts)+len(victims))
	history = append(history, ghosts...)
	for _, e := range victims {
		history = append(history, key('t', e.Scope, timeKey(e.Time), e.ID[:]))
	}
	removed, err := s.presentKeys(history)
	if err != nil {
		return 0, Cursor{}, fmt.Errorf("delete events: %w", err)
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range ghosts {
		if err := wb.Delete(k); err != nil {
			return 0, Cursor{}, fmt.Errorf("delete events: %w", err)
		}
	}
	for i, e := range victims {
		for _, k := range eventKeys(e, metas[i]) {
			if err := wb.Delete(k); err != nil {
				return 0, Cursor{}, fmt.Errorf("delete events: %w", err)
			}
		}
	}
	if err := wb.Flush(); err != nil {
		// Some of the batch may have been written.
		s.sums.drop(scope)
		return 0, Cursor{}, fmt.Errorf("delete events: %w", err)
	}
	s.sums.apply(removed)
	return len(victims), kept, nil
}

// presentKeys returns the removal of those of the history keys ks that
// are stored, for the sums (summary.go). The caller holds putMu: another
// deletion may have taken some since the caller read them.
func (s *Store) presentKeys(ks [][]byte) ([]sumChange, error) {
	var out []sumChange
	err := s.db.View(func(txn *badger.Txn) error {
		for _, k := range ks {
			if _, err := txn.Get(k); errors.Is(err, badger.ErrKeyNotFound) {
				continue
			} else if err != nil {
				return err
			}
			out = append(out, historyChange(k, false))
		}
		return nil
	})
	return out, err
}

// eventKeys lists every key an event has, given its meta value.
func eventKeys(e *event.Event, meta []byte) [][]byte {
	ks := [][]byte{
		key('e', e.ID[:]), key('m', e.ID[:]), key('l', meta[:8]),
		key('t', e.Scope, timeKey(e.Time), e.ID[:]),
		key('a', e.Scope, e.Author, u64(e.Seq), e.ID[:]),
	}
	if len(meta) == 9+sourceHashSize {
		ks = append(ks, key('o', e.Scope, meta[9:], timeKey(e.Time), e.ID[:]))
	}
	return ks
}

// deletePrefix deletes every key under prefix. Badger's DropPrefix would
// block every other write while it runs, failing them.
func (s *Store) deletePrefix(prefix []byte) error {
	var keys [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete %x: %w", prefix, err)
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range keys {
		if err := wb.Delete(k); err != nil {
			return fmt.Errorf("delete %x: %w", prefix, err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("delete %x: %w", prefix, err)
	}
	return nil
}

// scopeEnd returns a key after every (time, id) key under prefix, for
// reverse iteration from the newest end.
func scopeEnd(prefix []byte) []byte {
	return append(bytes.Clone(prefix), bytes.Repeat([]byte{0xff}, 8+event.IDSize+1)...)
}

// eventHub wakes readers of the arrival log.
type eventHub struct {
	mu sync.Mutex
	ch chan struct{}
}

func newEventHub() *eventHub { return &eventHub{ch: make(chan struct{})} }

func (h *eventHub) wait() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ch
}

func (h *eventHub) notify() {
	h.mu.Lock()
	close(h.ch)
	h.ch = make(chan struct{})
	h.mu.Unlock()
}
