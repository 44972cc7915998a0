package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	badger "github.com/dgraph-io/badger/v4"
)

// DiskSize returns the bytes the store's files take on disk: its LSM tree
// (tables, memtable logs, manifest: keys and small values) and its value
// log (large values). It counts the blocks allocated, not the files'
// lengths, because Badger's files are sparse: a new value log is 2 GiB
// long and a few KiB on disk. An in-memory store takes nothing.
func (s *Store) DiskSize() (lsm, vlog int64) {
	dir := s.db.Opts().Dir
	if dir == "" {
		return 0, 0
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		n := fi.Size()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			n = st.Blocks * 512
		}
		if filepath.Ext(e.Name()) == ".vlog" {
			vlog += n
		} else {
			lsm += n
		}
	}
	return lsm, vlog
}

// Healthy reports whether the store can be read (a full disk leaves it
// readable: see Writable).
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
	return nil
}
