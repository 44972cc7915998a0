package private

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/store"
)

// Private messaging keeps, on the two ends of a conversation only, four
// tables:
//
//	contacts  <peer id>                       -> JSON Contact
//	sessions  <peer id>                       -> ratchet session state
//	dms       <peer id> 0x00 <time:8> <id:16> -> JSON DM       conversation order
//	dm-ids    <id:16>                         -> the DM's key in dms
//	delivery  "cursor"                        -> arrival (8): own mail looked at up to here

// Contact states.
const (
	ContactRequested = "requested" // this node asked; waiting for them
	ContactPending   = "pending"   // they asked; waiting for this user
	ContactAccepted  = "accepted"
	ContactBlocked   = "blocked"
)

// Contact is a person this node talks to privately.
type Contact struct {
	ID     peer.ID `json:"id"`
	Bundle []byte  `json:"bundle"` // their signed DM key bundle
	// Nickname is the name the user gave them (or that their contact code,
	// which the user added, carried). Name is what they call themselves;
	// it never names them in commands.
	Nickname string `json:"nickname,omitempty"`
	Name     string `json:"name,omitempty"`
	State    string `json:"state"`
	// BlockedFrom is the state a blocked contact had, which unblocking
	// gives back.
	BlockedFrom string    `json:"blocked_from,omitempty"`
	Addrs       []string  `json:"addrs,omitempty"`
	Added       time.Time `json:"added"`
	ReadUpTo    time.Time `json:"read_up_to,omitzero"`
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
	// Status of an outgoing message: stored, delivered, read.
	Status string `json:"status,omitempty"`
	// Envelope is the ID of the sealed envelope that carried it.
	Envelope []byte `json:"envelope,omitempty"`
}

// records are the private-messaging tables.
type records struct {
	st                                     *store.Store
	contacts, sessions, dms, ids, delivery *store.Table
	// changed is closed, and replaced, at every change of a contact.
	changedMu sync.Mutex
	changed   chan struct{}
}

// contactsChanged returns a channel closed at the next change of a
// contact record.
func (r *records) contactsChanged() <-chan struct{} {
	r.changedMu.Lock()
	defer r.changedMu.Unlock()
	return r.changed
}

func (r *records) notifyChanged() {
	r.changedMu.Lock()
	defer r.changedMu.Unlock()
	close(r.changed)
	r.changed = make(chan struct{})
}

func openRecords(st *store.Store) (*records, error) {
	r := &records{st: st, changed: make(chan struct{})}
	for _, t := range []struct {
		name string
		dst  **store.Table
	}{{"contacts", &r.contacts}, {"sessions", &r.sessions}, {"dms", &r.dms}, {"dm-ids", &r.ids}, {"delivery", &r.delivery}} {
		// Contacts cannot be fetched again from peers; the rest can, or
		// must not come back stale (a ratchet session restored from an
		// older copy would reuse message keys).
		open := st.Table
		if t.name == "contacts" {
			open = st.VaultTable
		}
		var err error
		if *t.dst, err = open(t.name); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *records) putContact(c *Contact) error {
	if err := store.PutJSON(r.contacts, []byte(c.ID), c); err != nil {
		return err
	}
	r.notifyChanged()
	return nil
}

func (r *records) contact(p peer.ID) (*Contact, error) {
	c, err := store.GetJSON[Contact](r.contacts, []byte(p))
	if err != nil {
		return nil, fmt.Errorf("contact: %w", err)
	}
	return c, nil
}

func (r *records) allContacts() ([]*Contact, error) { return store.ListJSON[Contact](r.contacts, nil) }

func (r *records) putSession(p peer.ID, state []byte) error { return r.sessions.Put([]byte(p), state) }

func (r *records) session(p peer.ID) ([]byte, error) { return r.sessions.Get([]byte(p)) }

func dmKey(p peer.ID, t time.Time, id [DMIDSize]byte) []byte {
	k := append([]byte(p), 0)
	k = binary.BigEndian.AppendUint64(k, uint64(t.UnixMilli())^1<<63)
	return append(k, id[:]...)
}

// putDM creates or replaces a private message, and logs the change on the
// arrival log so that event streams see it.
func (r *records) putDM(m *DM) error {
	k := dmKey(m.Peer, m.Time, m.ID)
	return r.st.Write(func(b *store.Batch) error {
		if err := b.PutJSON(r.dms, k, m); err != nil {
			return err
		}
		if err := b.Put(r.ids, m.ID[:], k); err != nil {
			return err
		}
		return b.Log(r.dms, k)
	})
}

// dmByID returns a private message by ID.
func (r *records) dmByID(id [DMIDSize]byte) (*DM, error) {
	k, err := r.ids.Get(id[:])
	if err != nil {
		return nil, err
	}
	return store.GetJSON[DM](r.dms, k)
}

// conversation returns up to limit private messages with a peer before
// time before (the newest when zero), oldest first.
func (r *records) conversation(p peer.ID, before time.Time, limit int) ([]*DM, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("dms: limit must be positive, got %d", limit)
	}
	prefix := append([]byte(p), 0)
	rg := store.Range{Prefix: prefix, Reverse: true}
	if !before.IsZero() {
		rg.From = binary.BigEndian.AppendUint64(bytes.Clone(prefix), uint64(before.UnixMilli())^1<<63)
	}
	var out []*DM
	err := r.dms.Scan(rg, func(_, v []byte) error {
		m, err := decodeDM(v)
		if err != nil {
			return err
		}
		out = append(out, m)
		if len(out) == limit {
			return store.ErrStop
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

var errNotDM = errors.New("not a private message record")

func decodeDM(v []byte) (*DM, error) {
	var m DM
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", errNotDM, err)
	}
	return &m, nil
}

// deleteContact forgets a contact: its record, its session and the
// conversation.
func (r *records) deleteContact(p peer.ID) error {
	ms, err := r.conversation(p, time.Time{}, 1<<30)
	if err != nil {
		return err
	}
	defer r.notifyChanged()
	return r.st.Write(func(b *store.Batch) error {
		for _, m := range ms {
			if err := b.Delete(r.dms, dmKey(m.Peer, m.Time, m.ID)); err != nil {
				return err
			}
			if err := b.Delete(r.ids, m.ID[:]); err != nil {
				return err
			}
		}
		if err := b.Delete(r.sessions, []byte(p)); err != nil {
			return err
		}
		return b.Delete(r.contacts, []byte(p))
	})
}
