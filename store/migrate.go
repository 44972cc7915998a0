package store

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// formatVersion is the layout this code reads and writes. Version 0 had no
// catalog: every table had a one-letter prefix chosen in the code, and the
// arrival log named private messages by their ID. Version 1 logged an
// event's arrival by its ID alone; version 2 logs its scope beside it
// (both are read, but a version-1 binary would skip the new entries).
const formatVersion = 2

// legacyTables are the tables of a version-0 store and the prefixes they
// had. Opening such a store records them in the catalog under these
// prefixes, so that nothing has to move.
var legacyTables = map[string]byte{
	"groups":         'g',
	"peers":          'p',
	"contacts":       'c',
	"sessions":       'r',
	"dms":            'd',
	"dm-ids":         'x',
	"envelope-seeds": 'v',
	"accept-caps":    'u',
}

// checkFormat makes sure the store is in the current format: a new store
// is marked, a version-0 store is migrated, a newer one is refused.
func checkFormat(db *badger.DB) error {
	fk := []byte{metaPrefix, metaFormat}
	var version int
	var empty bool
	err := db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(fk)
		switch {
		case err == nil:
			return item.Value(func(v []byte) error {
				if len(v) != 1 {
					return fmt.Errorf("format version of %d bytes", len(v))
				}
				version = int(v[0])
				return nil
			})
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		version = -1
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		it.Rewind()
		empty = !it.Valid()
		return nil
	})
	if err != nil {
		return fmt.Errorf("read format: %w", err)
	}
	switch {
	case version == formatVersion:
		return nil
	case version > formatVersion:
		return fmt.Errorf("the store was written by a newer version of Banyan (format %d; this one reads %d): upgrade banyan", version, formatVersion)
	case version == -1 && !empty:
		if err := migrateFrom0(db); err != nil {
			return fmt.Errorf("upgrade store: %w", err)
		}
	}
	return db.Update(func(txn *badger.Txn) error { return txn.Set(fk, []byte{formatVersion}) })
}

// migrateFrom0 records a version-0 store's tables in the catalog, turns its
// arrival-log entries for private messages ('d' and the message ID) into
// references to the message's record, and makes the message index ('x')
// name records by their key within the table, without the table's letter.
// It can be run again if it was interrupted.
func migrateFrom0(db *badger.DB) error {
	err := db.Update(func(txn *badger.Txn) error {
		for name, p := range legacyTables {
			if err := txn.Set(catalogKey(name), []byte{p}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	type rewrite struct {
		key, value []byte
		meta       byte
	}
	var todo []rewrite
	err = db.View(func(txn *badger.Txn) error {
		ix := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{'x'}})
		defer ix.Close()
		for ix.Rewind(); ix.Valid(); ix.Next() {
			v, err := ix.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if len(v) > 1 && v[0] == 'd' {
				todo = append(todo, rewrite{key: ix.Item().KeyCopy(nil), value: v[1:]})
			}
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{'l'}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			if item.UserMeta() != logEvent || item.ValueSize() != 17 {
				continue
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if v[0] != 'd' {
				continue
			}
			ref, err := getValue(txn, append([]byte{'x'}, v[1:]...))
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if ref[0] != 'd' {
				ref = append([]byte{'d'}, ref...) // indexed already by an interrupted run
			}
			todo = append(todo, rewrite{key: item.KeyCopy(nil), value: ref, meta: logRecord})
		}
		return nil
	})
	if err != nil {
		return err
	}
	wb := db.NewWriteBatch()
	defer wb.Cancel()
	for _, r := range todo {
		if err := wb.SetEntry(badger.NewEntry(r.key, r.value).WithMeta(r.meta)); err != nil {
			return err
		}
	}
	return wb.Flush()
}
