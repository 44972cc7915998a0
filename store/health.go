package store

import (
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// DiskSize returns the bytes the store takes on disk: its LSM tree (keys
// and small values) and its value log (large values).
func (s *Store) DiskSize() (lsm, vlog int64) { return s.db.Size() }

// Healthy reports whether the store can be read, and has room to write.
func (s *Store) Healthy() error {
	if s.db.IsClosed() {
		return errors.New("store is closed")
	}
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get([]byte{metaPrefix, metaFormat})
		return err
	})
	if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
		return fmt.Errorf("store cannot be read: %w", err)
	}
	return s.space.check()
}
