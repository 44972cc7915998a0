package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Private messaging keeps, on the two ends of a conversation only:
//
//	c <peer id>                       -> JSON Contact
//	r <peer id>                       -> ratchet session state
//	d <peer id> 0x00 <time:8> <id:16> -> JSON DM         conversation order
//	x <id:16>                         -> the DM's d key  DM by ID

// Contact states.
const (
	ContactRequested = "requested" // this node asked; waiting for them
	ContactPending   = "pending"   // they asked; waiting for this user
	ContactAccepted  = "accepted"
	ContactBlocked   = "blocked"
)

// Contact is a person this node talks to privately.
type Contact struct {
	ID       peer.ID   `json:"id"`
	Bundle   []byte    `json:"bundle"` // their signed DM key bundle
	Nickname string    `json:"nickname,omitempty"`
	State    string    `json:"state"`
	Addrs    []string  `json:"addrs,omitempty"`
	Added    time.Time `json:"added"`
	ReadUpTo time.Time `json:"read_up_to,omitzero"`
}

// PutContact creates or replaces a contact.
func (s *Store) PutContact(c *Contact) error { return s.putJSON(key('c', []byte(c.ID)), c) }

// Contact returns a contact.
func (s *Store) Contact(p peer.ID) (*Contact, error) {
	var c Contact
	if err := s.getJSON(key('c', []byte(p)), &c); err != nil {
		return nil, fmt.Errorf("contact: %w", err)
	}
	return &c, nil
}

// Contacts lists every contact.
func (s *Store) Contacts() ([]*Contact, error) {
	return listJSON[Contact](s, 'c', "contacts")
}

// PutSession stores the ratchet session with a peer.
func (s *Store) PutSession(p peer.ID, state []byte) error {
	err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(key('r', []byte(p)), state) })
	if err != nil {
		return fmt.Errorf("put session: %w", err)
	}
	return nil
}

// Session returns the ratchet session with a peer.
func (s *Store) Session(p peer.ID) ([]byte, error) {
	var out []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key('r', []byte(p)))
		if err != nil {
			return err
		}
		out, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	return out, nil
}

// DMIDSize is the size of a private message's ID.
const DMIDSize = 16

// DM is a private message as its two ends keep it.
type DM struct {
	ID   [DMIDSize]byte `json:"id"`
	Peer peer.ID        `json:"peer"`
	Out  bool           `json:"out"` // sent by this node
	Text string         `json:"text"`
	Time time.Time      `json:"time"`
	// Status of an outgoing message: sent, delivered, read.
	Status string `json:"status,omitempty"`
	// Envelope is the ID of the sealed envelope that carried it.
	Envelope []byte `json:"envelope,omitempty"`
}

func dmKey(p peer.ID, t time.Time, id [DMIDSize]byte) []byte {
	return key('d', []byte(p), []byte{0}, binary.BigEndian.AppendUint64(nil, uint64(t.UnixMilli())^1<<63), id[:])
}

// PutDM creates or replaces a private message, and records the change in
// the arrival log so that event streams see it.
func (s *Store) PutDM(m *DM) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode dm: %w", err)
	}
	s.putMu.Lock()
	defer s.putMu.Unlock()
	err = s.db.Update(func(txn *badger.Txn) error {
		n, err := s.arrSeq.Next()
		if err != nil {
			return err
		}
		for _, kv := range [][2][]byte{
			{dmKey(m.Peer, m.Time, m.ID), b},
			{key('x', m.ID[:]), dmKey(m.Peer, m.Time, m.ID)},
			{key('l', u64(n+1)), append([]byte{'d'}, m.ID[:]...)},
		} {
			if err := txn.Set(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put dm: %w", err)
	}
	s.events.notify()
	return nil
}

// DMByID returns a private message by ID.
func (s *Store) DMByID(id [DMIDSize]byte) (*DM, error) {
	var m *DM
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		m, err = getDM(txn, id)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("dm: %w", err)
	}
	return m, nil
}

func getDM(txn *badger.Txn, id [DMIDSize]byte) (*DM, error) {
	item, err := txn.Get(key('x', id[:]))
	if err != nil {
		return nil, err
	}
	k, err := item.ValueCopy(nil)
	if err != nil {
		return nil, err
	}
	if item, err = txn.Get(k); err != nil {
		return nil, err
	}
	var m DM
	if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &m) }); err != nil {
		return nil, err
	}
	return &m, nil
}

// DMs returns up to limit private messages with a peer before time before
// (the newest when zero), oldest first.
func (s *Store) DMs(p peer.ID, before time.Time, limit int) ([]*DM, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("dms: limit must be positive, got %d", limit)
	}
	var out []*DM
	prefix := key('d', []byte(p), []byte{0})
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
		defer it.Close()
		start := scopeEnd(prefix)
		if !before.IsZero() {
			start = key('d', []byte(p), []byte{0}, binary.BigEndian.AppendUint64(nil, uint64(before.UnixMilli())^1<<63))
		}
		for it.Seek(start); it.Valid() && len(out) < limit; it.Next() {
			if !before.IsZero() && string(it.Item().Key()) >= string(start) {
				continue
			}
			var m DM
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &m) }); err != nil {
				return err
			}
			out = append(out, &m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dms: %w", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}
