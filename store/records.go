package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
)

// Group is a group this node is a member of.
type Group struct {
	ID     [crypto.GroupIDSize]byte `json:"id"`
	Name   string                   `json:"name"`
	Key    [crypto.KeySize]byte     `json:"key"`
	Joined time.Time                `json:"joined"`
	// ReadUpTo is the history position the user has read up to.
	ReadUpTo string `json:"read_up_to,omitempty"`
	// Retention and Quota bound what this node keeps of the group's
	// history (0: no limit, the default). Floor is the oldest position
	// kept after pruning; nothing older is stored or synced again.
	Retention time.Duration `json:"retention,omitempty"`
	Quota     int64         `json:"quota,omitempty"`
	Floor     string        `json:"floor,omitempty"`
}

// Scope returns the scope of the group's events.
func (g *Group) Scope() event.Scope { return crypto.GroupScope(g.ID, g.Key) }

// PutGroup creates or replaces a group record.
func (s *Store) PutGroup(g *Group) error {
	return s.putJSON(key('g', g.ID[:]), g)
}

// Group returns a group by ID.
func (s *Store) Group(id [crypto.GroupIDSize]byte) (*Group, error) {
	var g Group
	if err := s.getJSON(key('g', id[:]), &g); err != nil {
		return nil, fmt.Errorf("group: %w", err)
	}
	return &g, nil
}

// Groups lists every group.
func (s *Store) Groups() ([]*Group, error) {
	return listJSON[Group](s, 'g', "groups")
}

// DeleteGroup removes a group record (not its history; see DeleteScope).
func (s *Store) DeleteGroup(id [crypto.GroupIDSize]byte) error {
	err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete(key('g', id[:])) })
	if err != nil {
		return fmt.Errorf("delete group: %w", err)
	}
	return nil
}

// Peer is an entry of the peer book: a peer this node has been connected to,
// and where it was reachable.
type Peer struct {
	ID       peer.ID   `json:"id"`
	Addrs    []string  `json:"addrs"`
	LastSeen time.Time `json:"last_seen"`
}

// AddrInfo returns the peer's ID and parseable addresses.
func (p *Peer) AddrInfo() peer.AddrInfo {
	ai := peer.AddrInfo{ID: p.ID}
	for _, a := range p.Addrs {
		if m, err := ma.NewMultiaddr(a); err == nil {
			ai.Addrs = append(ai.Addrs, m)
		}
	}
	return ai
}

// PutPeer records a peer in the peer book.
func (s *Store) PutPeer(p *Peer) error {
	return s.putJSON(key('p', []byte(p.ID)), p)
}

// Peers lists the peer book.
func (s *Store) Peers() ([]*Peer, error) {
	return listJSON[Peer](s, 'p', "peers")
}

func (s *Store) putJSON(k []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %c record: %w", k[0], err)
	}
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(k, b) }); err != nil {
		return fmt.Errorf("put %c record: %w", k[0], err)
	}
	return nil
}

func (s *Store) getJSON(k []byte, v any) error {
	return s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(k)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return item.Value(func(b []byte) error { return json.Unmarshal(b, v) })
	})
}

// listJSON decodes every JSON record of a table.
func listJSON[T any](s *Store, table byte, what string) ([]*T, error) {
	var out []*T
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{table}, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			r := new(T)
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, r) }); err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
