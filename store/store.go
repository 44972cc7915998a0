// Package store keeps a node's state in Badger: events by ID and the indexes
// the engine reads (scope + time for history, scope + author + sequence for
// chains and gaps), the local arrival log that event streams resume from,
// what peers are known to hold, and the named tables where features keep
// their own records.
//
// Key layout (the store's own prefixes; features' tables are in table.go):
//
//	0x00 ...                                 -> metadata: format version, table catalog, Reclaim's mark
//	e <id:32>                                -> envelope bytes
//	m <id:32>                                -> meta: arrival seq (8) || local flag (1) [|| source (8)]
//	t <scope:32> <time:8> <id:32>            -> empty       history order ('g': a ghost, evict.go)
//	a <scope:32> <author:32> <seq:8> <id:32> -> empty       per-author chains
//	l <arrival:8>                            -> id, or a table key   local arrival log
//	q arrival                                -> Badger sequence of arrival numbers
//	w <scope:32> <peer id>                   -> arrival (8)  peer holds the scope up to here
//	o <scope:32> <source:8> <time:8> <id:32> -> size (4)     events by the peer that gave them (evict.go)
//
// Integers are big-endian; times are Unix milliseconds with the sign bit
// flipped so that byte order is time order.
package store

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/skl"
)

// Options configures a Store.
type Options struct {
	// Dir is the Badger directory. Empty with InMemory set keeps everything
	// in memory (tests only).
	Dir      string
	InMemory bool
	// GCInterval is how often value-log garbage collection runs; 0 means
	// every 10 minutes.
	GCInterval time.Duration
	Logger     *slog.Logger
	// Reserve is the free space below which writes are refused (space.go);
	// 0 means what Badger may still allocate with this profile.
	Reserve uint64
	// FreeSpace tells the disk's free space; nil means Statfs.
	FreeSpace FreeSpaceFunc
	// ScrubInterval is how often the whole store is read and checked
	// (scrub.go); 0 means every day, the first two minutes after start.
	ScrubInterval time.Duration
	// Vault is the file that keeps the vault tables' records apart from
	// the store (vault.go); empty keeps none.
	Vault string
}

// Store is a node's durable state. It is safe for concurrent use.
type Store struct {
	db      *badger.DB
	putMu   sync.Mutex
	arrSeq  *badger.Sequence
	log     *slog.Logger
	gcEvery time.Duration
	events  *eventHub
	// maxBatch is the byte budget of one write transaction.
	maxBatch int64
	// space refuses writes when the disk is nearly full; nil in memory.
	space *space
	vault *vault
	// scrubEvery is how often the whole store is read and checked.
	scrubEvery time.Duration
	scrub      scrubState
	// setAside says which damaged tables were set aside at open.
	setAside []string
	repaired chan struct{}
	// scrubNow asks Serve for a scrub at once.
	scrubNow chan struct{}
	// sums are the history sums sync reads (summary.go).
	sums historySums
	tableRegistry
}

// ErrLocked reports a data directory already opened by another process.
var ErrLocked = errors.New("store is in use by another process")

// ErrNotFound reports a missing record.
var ErrNotFound = errors.New("not found")

// Open opens (creating if needed) the store with a low-memory Badger profile
// suited to an old laptop or a single-board computer.
func Open(opts Options) (s *Store, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	bo := badgerOptions(opts)
	var setAside []string
	if !opts.InMemory {
		if err := checkManifest(opts.Dir); err != nil {
			return nil, err
		}
		if setAside, err = setAsideDamagedTables(opts.Dir, bo, opts.Logger); err != nil {
			return nil, fmt.Errorf("open store %s: %w", opts.Dir, err)
		}
	}
	sp, err := newSpace(opts, bo)
	if err != nil {
		return nil, err
	}
	db, err := openBadger(bo, sp)
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("open store %s: %w", opts.Dir, ErrLocked)
		}
		return nil, fmt.Errorf("open store %s: %w", opts.Dir, err)
	}
	if err := checkFormat(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", opts.Dir, err)
	}
	var seq *badger.Sequence
	if !db.Opts().ReadOnly {
		// Leasing numbers writes; a read-only store takes none.
		if err := raiseArrival(db); err != nil {
			db.Close()
			return nil, fmt.Errorf("open store: arrival sequence: %w", err)
		}
		if seq, err = db.GetSequence([]byte(arrivalKey), 256); err != nil {
			db.Close()
			return nil, fmt.Errorf("open store: arrival sequence: %w", err)
		}
	}
	gc := opts.GCInterval
	if gc <= 0 {
		gc = 10 * time.Minute
	}
	return &Store{
		db: db, arrSeq: seq, log: opts.Logger, gcEvery: gc, events: newEventHub(),
		maxBatch: bo.MemTableSize / 10, space: sp, vault: newVault(opts.Vault), scrubEvery: cmp.Or(opts.ScrubInterval, 24*time.Hour),
		tableRegistry: tableRegistry{tables: map[string]*Table{}, byPrefix: map[string]*Table{}},
		setAside:      setAside, repaired: make(chan struct{}, 1),
		scrubNow: make(chan struct{}, 1),
	}, nil
}

// valueThreshold is the size from which Badger keeps a value in its value
// log instead of in the tables.
const valueThreshold = 256

// badgerOptions is the low-memory Badger profile.
func badgerOptions(opts Options) badger.Options {
	return badger.DefaultOptions(opts.Dir).
		WithInMemory(opts.InMemory).
		WithLogger(badgerLogger{opts.Logger}).
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithBlockCacheSize(8 << 20).
		WithIndexCacheSize(16 << 20).
		WithValueLogFileSize(16 << 20).
		WithNumCompactors(2).
		WithCompression(options.Snappy).
		// Damaged blocks and values are errors when read, never wrong data.
		WithChecksumVerificationMode(options.OnBlockRead).
		WithVerifyValueChecksum(true).
		// Envelopes (a short text's is about 490 bytes) go to the value
		// log, so that compactions move keys and pointers rather than
		// every envelope again at each level: catching up 100,000 events
		// took a third less CPU and half the memory (docs/BENCHMARKS.md).
		// Small records (indexes, marks, counters) stay in the tables.
		WithValueThreshold(valueThreshold).
		WithSyncWrites(false)
}

// Preallocated is the heap Badger allocates whole for the memtable being
// filled (its arena: the memtable and room for one more write batch) and
// fills as writes come, so that on a quiet node most of its pages are
// never touched.
func (s *Store) Preallocated() uint64 {
	m := s.db.Opts().MemTableSize
	batch := 15 * m / 100 // Badger's largest write batch, in bytes
	nodes := batch / int64(skl.MaxNodeSize)
	return uint64(m + batch + nodes*int64(skl.MaxNodeSize))
}

// Close flushes and closes the store.
func (s *Store) Close() error {
	var relErr error
	if s.arrSeq != nil {
		relErr = s.arrSeq.Release()
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	if bo := s.db.Opts(); !bo.InMemory && !bo.ReadOnly {
		// Badger wrote these tables whole; the next open need not read them.
		if err := recordTablesWhole(bo); err != nil {
			s.log.Warn("close store", "err", err)
		}
	}
	if relErr != nil {
		return fmt.Errorf("close store: release sequence: %w", relErr)
	}
	return nil
}

// Serve runs background maintenance until ctx is done: value-log garbage
// collection, a scrub of the whole store (scrub.go), and a look at the disk's free space every few seconds, so
// that a full disk is reported, and writing resumes once space is freed,
// also while nothing is written.
func (s *Store) Serve(ctx context.Context) error {
	t := time.NewTicker(s.gcEvery)
	defer t.Stop()
	disk := time.NewTicker(spaceWatchEvery)
	defer disk.Stop()
	first := min(scrubFirst, s.scrubEvery)
	if len(s.setAside) > 0 {
		// The tables set aside held index keys of events kept elsewhere,
		// and envelopes still indexed elsewhere: sync needs both put right.
		first = 0
	}
	scrub := time.NewTimer(first)
	defer scrub.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-scrub.C:
			if _, err := s.Scrub(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("scrub", "err", err)
			}
			scrub.Reset(s.scrubEvery)
		case <-s.scrubNow:
			s.log.Warn("a read met a damaged event; checking the whole store")
			if _, err := s.Scrub(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("scrub", "err", err)
			}
		case <-t.C:
			if s.Writable() == nil {
				s.collectGarbage()
			}
		case <-disk.C:
			s.space.check(true)
		}
	}
}

func (s *Store) collectGarbage() {
	n := 0
	for {
		err := s.db.RunValueLogGC(0.5)
		if err != nil {
			if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
				s.log.Warn("value log gc", "err", err)
			}
			break
		}
		n++
	}
	if n > 0 {
		s.log.Debug("value log gc", "rewritten", n)
	}
}

// Reclaim gives back the disk space of what was deleted, at once rather
// than when Badger gets round to it: envelopes live in the LSM tree
// (they are under Badger's value threshold), whose deleted keys go only
// when the tables holding them are compacted, so it writes the memtable
// out and compacts every level into the last; then it collects the value
// log.
func (s *Store) Reclaim() {
	if s.db.Opts().InMemory {
		return
	}
	// Badger writes its memtable out, deletions included, when a prefix
	// that holds something is dropped: one key, written to be dropped.
	// Badger refuses writes while it drops a prefix: the store's own wait
	// for it instead of failing.
	mark := []byte{metaPrefix, metaReclaim}
	s.putMu.Lock()
	err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(mark, nil) })
	if err == nil {
		err = s.db.DropPrefix(mark)
	}
	s.putMu.Unlock()
	if err != nil {
		s.log.Warn("reclaim: flush memtable", "err", err)
	}
	// Compaction drops only versions older than every transaction still
	// reading: one that starts after the deletions lets them count.
	s.db.View(func(*badger.Txn) error { return nil })
	if err := s.db.Flatten(1); err != nil {
		s.log.Warn("compact", "err", err)
	}
	s.collectGarbage()
}

// Sync forces everything written so far to stable storage.
func (s *Store) Sync() error {
	if err := s.db.Sync(); err != nil {
		return fmt.Errorf("sync store: %w", err)
	}
	return nil
}

type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any)   { b.l.Error(strings.TrimSpace(fmt.Sprintf(f, a...))) }
func (b badgerLogger) Warningf(f string, a ...any) { b.l.Warn(strings.TrimSpace(fmt.Sprintf(f, a...))) }
func (b badgerLogger) Infof(f string, a ...any)    { b.l.Debug(strings.TrimSpace(fmt.Sprintf(f, a...))) }
func (b badgerLogger) Debugf(f string, a ...any)   {}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// timeKey maps a signed millisecond time to bytes that sort in time order.
func timeKey(ms int64) []byte { return u64(uint64(ms) ^ 1<<63) }

func timeFromKey(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ 1<<63) }

func key(prefix byte, parts ...[]byte) []byte {
	n := 1
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 0, n)
	k = append(k, prefix)
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

// Scan calls fn with every key and value in the store, for inspection
// tools and tests that check what a node keeps.
func (s *Store) Scan(fn func(k, v []byte) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			err := it.Item().Value(func(v []byte) error { return fn(it.Item().Key(), v) })
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// arrivalKey holds Badger's lease of arrival numbers.
const arrivalKey = "qarrival"

// raiseArrival makes the lease of arrival numbers start after the newest
// in the arrival log: a table lost to damage may have held the lease's
// newest value, and numbers taken again would hide events from readers
// resuming past them.
func raiseArrival(db *badger.DB) error {
	return db.Update(func(txn *badger.Txn) error {
		var last uint64
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{'l'}, Reverse: true})
		it.Seek(key('l', u64(^uint64(0))))
		if it.Valid() {
			last = binary.BigEndian.Uint64(it.Item().Key()[1:])
		}
		it.Close()
		var next uint64
		item, err := txn.Get([]byte(arrivalKey))
		if err == nil {
			err = item.Value(func(v []byte) error {
				if len(v) == 8 {
					next = binary.BigEndian.Uint64(v)
				}
				return nil
			})
		}
		if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		// Arrival numbers are the sequence's plus one.
		if next >= last {
			return nil
		}
		return txn.Set([]byte(arrivalKey), u64(last))
	})
}
