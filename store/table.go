package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sync"

	"github.com/dgraph-io/badger/v4"
)

// Tables are where features keep their own records (groups, contacts,
// settings...). A feature asks for a table by name; the store gives it a
// key prefix of its own, recorded in the catalog so that it stays the same
// across restarts, and no two tables share one. Features never build
// prefixed keys themselves: a Table takes the key within the table.
//
// The catalog and the format version live under the metadata prefix:
//
//	0x00 'F'          -> format version (1 byte)
//	0x00 'T' <name>   -> the table's prefix
//
// New tables get two-byte prefixes 0xf0 <n>; stores made before the catalog
// existed keep the one-letter prefixes their tables had (see migrate.go).

// Table is a named key-value table of the store.
type Table struct {
	s      *Store
	name   string
	prefix []byte
	// vault is set for a vault table (vault.go).
	vault bool
}

var tableName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// Table returns the table with the given name, creating it on first use.
// Each name may be opened once per Store, so that two parts of the program
// cannot share a table by accident.
func (s *Store) Table(name string) (*Table, error) {
	if !tableName.MatchString(name) {
		return nil, fmt.Errorf("table name %q: use 1 to 32 lowercase letters, digits and dashes", name)
	}
	s.tablesMu.Lock()
	defer s.tablesMu.Unlock()
	if _, ok := s.tables[name]; ok {
		return nil, fmt.Errorf("table %q is already open", name)
	}
	ck := catalogKey(name)
	var prefix []byte
	err := s.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(ck)
		if err == nil {
			prefix, err = item.ValueCopy(nil)
			return err
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		if prefix, err = nextPrefix(txn); err != nil {
			return err
		}
		return txn.Set(ck, prefix)
	})
	if err != nil {
		return nil, fmt.Errorf("open table %s: %w", name, err)
	}
	t := &Table{s: s, name: name, prefix: prefix}
	s.tables[name] = t
	s.byPrefix[string(prefix)] = t
	return t, nil
}

// Name returns the table's name.
func (t *Table) Name() string { return t.name }

const (
	metaPrefix = 0x00
	metaFormat = 'F'
	metaTable  = 'T'
	// metaReclaim is written only to be dropped at once (Reclaim).
	metaReclaim     = 'R'
	allocatedPrefix = 0xf0
)

func catalogKey(name string) []byte { return append([]byte{metaPrefix, metaTable}, name...) }

// nextPrefix allocates the prefix of a new table: one more than the highest
// allocated so far.
func nextPrefix(txn *badger.Txn) ([]byte, error) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{metaPrefix, metaTable}})
	defer it.Close()
	highest := 0
	for it.Rewind(); it.Valid(); it.Next() {
		err := it.Item().Value(func(v []byte) error {
			if len(v) == 2 && v[0] == allocatedPrefix {
				highest = max(highest, int(v[1]))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if highest == 0xff {
		return nil, errors.New("no table prefixes left")
	}
	return []byte{allocatedPrefix, byte(highest + 1)}, nil
}

func (t *Table) key(k []byte) []byte {
	out := make([]byte, 0, len(t.prefix)+len(k))
	return append(append(out, t.prefix...), k...)
}

// Get returns the value stored under k, or ErrNotFound.
func (t *Table) Get(k []byte) ([]byte, error) {
	var out []byte
	err := t.s.db.View(func(txn *badger.Txn) error {
		var err error
		out, err = getValue(txn, t.key(k))
		return err
	})
	if err != nil {
		return nil, t.wrap("get", err)
	}
	return out, nil
}

func getValue(txn *badger.Txn, k []byte) ([]byte, error) {
	item, err := txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

// Has reports whether k is stored.
func (t *Table) Has(k []byte) (bool, error) {
	_, err := t.Get(k)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Put stores v under k.
func (t *Table) Put(k, v []byte) error {
	return t.s.Write(func(b *Batch) error { return b.Put(t, k, v) })
}

// Delete removes k.
func (t *Table) Delete(k []byte) error {
	return t.s.Write(func(b *Batch) error { return b.Delete(t, k) })
}

// DeletePrefix removes every key of the table that starts with prefix.
func (t *Table) DeletePrefix(prefix []byte) error {
	var keys [][]byte
	err := t.Scan(Range{Prefix: prefix}, func(k, _ []byte) error {
		keys = append(keys, bytes.Clone(k))
		return nil
	})
	if err != nil {
		return err
	}
	wb := t.s.db.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range keys {
		if err := wb.Delete(t.key(k)); err != nil {
			return t.wrap("delete", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return t.wrap("delete", err)
	}
	if t.vault {
		t.s.saveVault()
	}
	return nil
}

// Range selects keys of a table. Keys given and returned are within the
// table (without its prefix).
type Range struct {
	// Prefix restricts the range to keys that start with it.
	Prefix []byte
	// From is where to start: forward, at the first key at or after
	// From; in reverse, at the last key before From. Nil starts at the
	// first (or, in reverse, the last) key of the prefix.
	From    []byte
	Reverse bool
}

// ErrStop, returned by a Scan callback, ends the scan without an error.
var ErrStop = errors.New("stop")

// Scan calls fn with every key and value in r, in key order (reversed if
// r.Reverse), until fn returns an error; ErrStop ends the scan quietly.
// The slices are valid only during the call.
func (t *Table) Scan(r Range, fn func(k, v []byte) error) error {
	prefix := t.key(r.Prefix)
	err := t.s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: r.Reverse, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		switch {
		case r.From == nil && r.Reverse:
			it.Seek(append(bytes.Clone(prefix), bytes.Repeat([]byte{0xff}, 256)...))
		case r.From == nil:
			it.Rewind()
		default:
			it.Seek(t.key(r.From))
		}
		from := t.key(r.From)
		for ; it.Valid(); it.Next() {
			k := it.Item().Key()
			if r.Reverse && r.From != nil && bytes.Compare(k, from) >= 0 {
				continue
			}
			err := it.Item().Value(func(v []byte) error { return fn(k[len(t.prefix):], v) })
			if errors.Is(err, ErrStop) {
				return nil
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return t.wrap("scan", err)
	}
	return nil
}

func (t *Table) wrap(op string, err error) error {
	if errors.Is(err, ErrNotFound) {
		return err
	}
	return fmt.Errorf("%s %s: %w", t.name, op, err)
}

// GetJSON decodes the JSON record stored under k.
func GetJSON[T any](t *Table, k []byte) (*T, error) {
	b, err := t.Get(k)
	if err != nil {
		return nil, err
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("%s: decode record: %w", t.name, err)
	}
	return v, nil
}

// PutJSON stores v under k as JSON.
func PutJSON(t *Table, k []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s: encode record: %w", t.name, err)
	}
	return t.Put(k, b)
}

// ListJSON decodes every JSON record of the table under prefix, in key
// order.
func ListJSON[T any](t *Table, prefix []byte) ([]*T, error) {
	var out []*T
	err := t.Scan(Range{Prefix: prefix}, func(_, v []byte) error {
		r := new(T)
		if err := json.Unmarshal(v, r); err != nil {
			return fmt.Errorf("decode record: %w", err)
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// Batch is a set of writes committed together, in one transaction.
type Batch struct {
	s      *Store
	txn    *badger.Txn
	logged bool
	// vaulted is set once the batch changed a vault table.
	vaulted bool
}

// Write runs fn with a batch and commits what it wrote, atomically; if fn
// fails nothing is written. A batch that logs a record (Log) is ordered
// with every other write to the arrival log.
func (s *Store) Write(fn func(b *Batch) error) error {
	b, err := s.write(fn)
	if err != nil {
		return err
	}
	// After the store's lock is released, so that events are stored
	// meanwhile: the vault's write takes fsyncs. It writes the tables as
	// they are when it runs, this write included.
	if b.vaulted {
		s.saveVault()
	}
	return nil
}

// write is Write under the store's write lock, without the vault.
func (s *Store) write(fn func(b *Batch) error) (*Batch, error) {
	s.putMu.Lock()
	defer s.putMu.Unlock()
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	b := &Batch{s: s, txn: txn}
	if err := fn(b); err != nil {
		return nil, err
	}
	if err := txn.Commit(); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	if b.logged {
		s.events.notify()
	}
	return b, nil
}

// Get reads k of table t as the batch sees it.
func (b *Batch) Get(t *Table, k []byte) ([]byte, error) {
	v, err := getValue(b.txn, t.key(k))
	if err != nil {
		return nil, t.wrap("get", err)
	}
	return v, nil
}

// Put stores v under k in table t.
func (b *Batch) Put(t *Table, k, v []byte) error {
	if err := b.s.Writable(); err != nil {
		return t.wrap("put", err)
	}
	if err := b.txn.Set(t.key(k), v); err != nil {
		return t.wrap("put", err)
	}
	b.vaulted = b.vaulted || t.vault
	return nil
}

// PutJSON stores v under k in table t as JSON.
func (b *Batch) PutJSON(t *Table, k []byte, v any) error {
	enc, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s: encode record: %w", t.name, err)
	}
	return b.Put(t, k, enc)
}

// Delete removes k from table t.
func (b *Batch) Delete(t *Table, k []byte) error {
	if err := b.txn.Delete(t.key(k)); err != nil {
		return t.wrap("delete", err)
	}
	b.vaulted = b.vaulted || t.vault
	return nil
}

// Log appends the record k of table t to the arrival log, so that event
// streams show it (a private message written or updated, say). The stream
// reads the record's value when it reaches the entry.
func (b *Batch) Log(t *Table, k []byte) error {
	if err := b.s.Writable(); err != nil {
		return t.wrap("log", err)
	}
	n, err := b.s.arrSeq.Next()
	if err != nil {
		return fmt.Errorf("arrival sequence: %w", err)
	}
	e := badger.NewEntry(key('l', u64(n+1)), t.key(k)).WithMeta(logRecord)
	if err := b.txn.SetEntry(e); err != nil {
		return t.wrap("log", err)
	}
	b.logged = true
	return nil
}

// The arrival log's user-meta byte says what an entry refers to.
const (
	logEvent  byte = 0 // the value is an event ID
	logRecord byte = 1 // the value is a table key, prefix included
)

// tableRegistry is the part of the Store that knows the open tables.
type tableRegistry struct {
	tablesMu sync.Mutex
	tables   map[string]*Table
	byPrefix map[string]*Table
}

// tableOf returns the open table a full key belongs to, and the key within
// it.
func (s *Store) tableOf(full []byte) (*Table, []byte) {
	s.tablesMu.Lock()
	defer s.tablesMu.Unlock()
	for _, n := range []int{1, 2} {
		if len(full) >= n {
			if t, ok := s.byPrefix[string(full[:n])]; ok {
				return t, full[n:]
			}
		}
	}
	return nil, nil
}

// Names of the store's own areas of the key space, as TableOf gives them.
var coreAreas = map[byte]string{
	metaPrefix: "meta", 'e': "events", 'm': "event-meta", 't': "history", 'a': "chains",
	'l': "arrivals", 'q': "sequence", 'w': "synced", 'o': "sources",
}

// TableOf names the part of the store a raw key (from Scan) belongs to:
// the name of an open table, or of one of the store's own areas
// ("events", "history", "synced"...). Tools and tests use it to tell what
// they find apart.
func (s *Store) TableOf(k []byte) string {
	if t, _ := s.tableOf(k); t != nil {
		return t.name
	}
	if len(k) > 0 {
		if name, ok := coreAreas[k[0]]; ok {
			return name
		}
	}
	return ""
}
