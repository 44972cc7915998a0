package store

import (
	"github.com/dgraph-io/badger/v4"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// DamageEvent flips a bit of a stored envelope, as a disk that lost it
// would.
func (s *Store) DamageEvent(id event.ID) error {
	return s.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(key('e', id[:]))
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		v[len(v)/2] ^= 1
		return txn.Set(key('e', id[:]), v)
	})
}
