package store

import (
	"encoding/binary"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// Red envelope seeds are kept under their own table until the envelope is
// settled:
//
//	v <envelope id:32> -> JSON EnvelopeSeed

// EnvelopeSeed is the secret seed of a red envelope this node sent, kept
// until the envelope is settled (the settlement reveals it).
type EnvelopeSeed struct {
	Envelope event.ID `json:"envelope"`
	Unit     string   `json:"unit"`
	Seed     [32]byte `json:"seed"`
	Count    int      `json:"count"`
	Expiry   int64    `json:"expiry"` // Unix ms
	// Group is the group the envelope was announced in, if any.
	Group string `json:"group,omitempty"`
}

// PutEnvelopeSeed stores (or replaces) an envelope's seed.
func (s *Store) PutEnvelopeSeed(es *EnvelopeSeed) error {
	return s.putJSON(key('v', es.Envelope[:]), es)
}

// EnvelopeSeeds lists every stored envelope seed.
func (s *Store) EnvelopeSeeds() ([]*EnvelopeSeed, error) {
	return listJSON[EnvelopeSeed](s, 'v', "envelope seeds")
}

// DeleteEnvelopeSeed forgets a settled envelope's seed.
func (s *Store) DeleteEnvelopeSeed(id event.ID) error {
	err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete(key('v', id[:])) })
	if err != nil {
		return fmt.Errorf("delete envelope seed: %w", err)
	}
	return nil
}

// What this person accepts from payers whose recent spending nobody else
// has confirmed yet:
//
//	u <payer account:32>  -> cap (8)    for one payer
//	u                     -> cap (8)    for anyone else

// PutAcceptCap sets the cap for a payer, or for every other payer when
// payer is nil.
func (s *Store) PutAcceptCap(payer []byte, limit uint64) error {
	err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(key('u', payer), u64(limit)) })
	if err != nil {
		return fmt.Errorf("put accept cap: %w", err)
	}
	return nil
}

// AcceptCaps returns the cap for anyone (0 when unset) and the caps for
// given payers.
func (s *Store) AcceptCaps() (anyone uint64, payers map[[32]byte]uint64, err error) {
	payers = map[[32]byte]uint64{}
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{'u'}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			var v uint64
			if err := it.Item().Value(func(b []byte) error { v = binary.BigEndian.Uint64(b); return nil }); err != nil {
				return err
			}
			switch len(k) {
			case 1:
				anyone = v
			case 33:
				payers[[32]byte(k[1:])] = v
			}
		}
		return nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("accept caps: %w", err)
	}
	return anyone, payers, nil
}
