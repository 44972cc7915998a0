package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/fb"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/klauspost/compress/snappy"

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

// DropHistoryKey deletes an event's history index key, as a table lost
// with it would.
func (s *Store) DropHistoryKey(e *event.Event) error {
	return s.db.Update(func(txn *badger.Txn) error {
		return txn.Delete(key('t', e.Scope, timeKey(e.Time), e.ID[:]))
	})
}

// CheckTables runs the check of every table's footer that Open runs.
func CheckTables(dir string) ([]string, error) {
	return setAsideDamagedTables(dir, badgerOptions(Options{Dir: dir}), slog.New(slog.DiscardHandler))
}

// OpenBadger opens the store in dir as Badger alone, with the store's
// profile but the given checksum mode.
func OpenBadger(dir string, mode options.ChecksumVerificationMode) (*badger.DB, error) {
	return badger.Open(badgerOptions(Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)}).WithChecksumVerificationMode(mode))
}

// VerifyTables runs the scrub's check of every table's blocks.
func (s *Store) VerifyTables() string { return s.verifyTables() }

// SetSumBlock sets the size of the history sums' blocks (summary.go) until
// the returned function puts it back.
func SetSumBlock(n uint64) func() {
	old := sumBlock
	sumBlock = n
	return func() { sumBlock = old }
}

// SumScopes returns how many scopes keep history sums.
func (s *Store) SumScopes() int {
	s.sums.mu.Lock()
	defer s.sums.mu.Unlock()
	return len(s.sums.scopes)
}

// DropSums forgets every scope's history sums.
func (s *Store) DropSums() {
	s.sums.mu.Lock()
	defer s.sums.mu.Unlock()
	clear(s.sums.scopes)
}

// SetSumsClock sets the clock that tells the history sums' idle time.
func (s *Store) SetSumsClock(now func() time.Time) {
	s.sums.mu.Lock()
	defer s.sums.mu.Unlock()
	s.sums.clock = now
}

// EventBlocks counts the blocks of the table file at path whose first key
// is an envelope's: a table that holds events has some.
func EventBlocks(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	idx, _, err := tableIndex(f)
	if err != nil {
		return 0, err
	}
	n := 0
	var bo fb.BlockOffset
	for i := range idx.OffsetsLength() {
		if idx.Offsets(&bo, i) && len(bo.KeyBytes()) > 0 && bo.KeyBytes()[0] == 'e' {
			n++
		}
	}
	return n, nil
}

// IsGhost reports whether the event at (time, id) of scope was evicted
// here (Ghosts, for one event).
func (s *Store) IsGhost(scope event.Scope, t int64, id event.ID) (bool, error) {
	var ghost bool
	err := s.db.View(func(txn *badger.Txn) (err error) {
		ghost, err = ghostIn(txn, key('t', scope[:], timeKey(t), id[:]))
		return err
	})
	return ghost, err
}

// BreakBlock writes over the trailer of the block that holds the given
// fraction of the table at path: its checksum (a damage Badger reports
// when it reads the block), or its entry count, which Badger reads before
// it checks the checksum. A Snappy block ends in a literal, so both lie at
// the same distance from the end before and after decompression and can
// be changed in place.
func BreakBlock(path string, at float64, entryCount bool) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	idx, _, err := tableIndex(f)
	f.Close()
	if err != nil {
		return err
	}
	var bo fb.BlockOffset
	if !idx.Offsets(&bo, int(at*float64(idx.OffsetsLength()))) {
		return errors.New("no such block")
	}
	blk := raw[bo.Offset() : bo.Offset()+bo.Len()]
	plain, err := snappy.Decode(nil, blk)
	if err != nil || len(plain) < 8 {
		return fmt.Errorf("block does not decode: %v", err)
	}
	// A block ends: entry count (4), checksum, checksum length (4).
	chkLen := int(binary.BigEndian.Uint32(plain[len(plain)-4:]))
	from, in := len(plain)-8-chkLen, len(blk)-8-chkLen
	if !entryCount {
		from, in = len(plain)-8, len(blk)-8
	}
	if in < 0 || from < 0 {
		return errors.New("block too short")
	}
	saved := binary.BigEndian.Uint32(blk[in:])
	binary.BigEndian.PutUint32(blk[in:], ^saved)
	if plain, err = snappy.Decode(nil, blk); err != nil || binary.BigEndian.Uint32(plain[from:]) != ^saved {
		return errors.New("the block's end is not a literal")
	}
	return os.WriteFile(path, raw, 0o600)
}
