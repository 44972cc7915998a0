package store

import (
	"encoding/json"
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
	var out []*EnvelopeSeed
	err := s.eachJSON([]byte{'v'}, func(v []byte) error {
		var es EnvelopeSeed
		if err := json.Unmarshal(v, &es); err != nil {
			return err
		}
		out = append(out, &es)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("envelope seeds: %w", err)
	}
	return out, nil
}

// DeleteEnvelopeSeed forgets a settled envelope's seed.
func (s *Store) DeleteEnvelopeSeed(id event.ID) error {
	err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete(key('v', id[:])) })
	if err != nil {
		return fmt.Errorf("delete envelope seed: %w", err)
	}
	return nil
}
