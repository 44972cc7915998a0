package store

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Free space.
//
// Badger writes through memory maps: a write it cannot place on a full
// disk is a SIGBUS that kills the node, in a background compaction as
// easily as in a write. So the store judges every write that adds data
// against a reserve, the room Badger may still take after the write
// returns, and refuses the write while the disk's free space is below it.
// Free space is what statfs(2) says is available to this user; Badger's
// files are sparse (a new value log looks 32 MiB large and takes 4 KiB),
// so their apparent size says nothing, and the reserve counts what Badger
// may write: the memtable log being filled and one being flushed into a
// table (a memtable each), a compaction of level 0 into level 1 (two
// memtables' worth, NumLevelZeroTables tables of about a memtable each)
// and room for the manifest, a new value log's first pages, the chain
// marks and the files beside the store. Deletions are not refused: they
// are how space comes back.

// ErrDiskFull is what every refused write's error is (errors.Is).
var ErrDiskFull = errors.New("the disk is nearly full")

// DiskFullError refuses a write for want of free space.
type DiskFullError struct {
	Dir           string
	Free, Reserve uint64
	// ReadOnly is set when the store was opened read-only because the disk
	// was too full even to open it for writing: writes come back only
	// after a restart.
	ReadOnly bool
}

func (e *DiskFullError) Error() string {
	msg := fmt.Sprintf("the disk is nearly full: %s free where the store (%s) keeps %s free to write safely; new messages, payments and changes are refused until space is freed",
		mib(e.Free), e.Dir, mib(e.Reserve))
	if e.ReadOnly {
		msg += ", and then the node restarted"
	}
	return msg
}

// Is makes errors.Is(err, ErrDiskFull) hold.
func (e *DiskFullError) Is(target error) bool { return target == ErrDiskFull }

// HTTPStatus is the API's answer to a refused write: 507 Insufficient
// Storage.
func (e *DiskFullError) HTTPStatus() int { return 507 }

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// SpaceStatus is what the store knows of its disk.
type SpaceStatus struct {
	Free, Reserve uint64
	// Refused is why writes are refused; nil when they are not.
	Refused *DiskFullError
}

// FreeSpaceFunc returns the bytes available to this user on the file
// system holding dir.
type FreeSpaceFunc func(dir string) (uint64, error)

// Statfs is the FreeSpaceFunc of the real disk.
func Statfs(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("free space of %s: %w", dir, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// spaceCheckEvery bounds how often writes ask the disk; between asks they
// go by the last answer (the reserve covers what they add meanwhile).
const spaceCheckEvery = 100 * time.Millisecond

// space watches the store's disk.
type space struct {
	dir     string
	reserve uint64
	free    FreeSpaceFunc
	log     *slog.Logger
	// openNeed is the free space below which the store is opened
	// read-only; readOnly says it was.
	openNeed uint64
	readOnly bool

	mu    sync.Mutex
	at    time.Time
	avail uint64
	short bool
	err   error // the last check's failure
}

// check asks the disk, unless it was asked a moment ago, and logs a change
// between enough and too little space.
func (sp *space) check(force bool) {
	if sp == nil || sp.dir == "" {
		return
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	now := time.Now()
	if !force && now.Sub(sp.at) < spaceCheckEvery {
		return
	}
	sp.at = now
	avail, err := sp.free(sp.dir)
	if err != nil {
		if sp.err == nil {
			sp.log.Warn("cannot tell the disk's free space", "err", err)
		}
		sp.err = err
		return
	}
	sp.err = nil
	sp.avail = avail
	short := avail < sp.reserve
	switch {
	case short && !sp.short:
		sp.log.Error("disk nearly full: refusing new writes until space is freed; reading still works",
			"dir", sp.dir, "free", mib(avail), "reserve", mib(sp.reserve))
	case !short && sp.short && !sp.readOnly:
		sp.log.Info("disk space is back: writing again", "dir", sp.dir, "free", mib(avail))
	case !short && sp.short:
		sp.log.Warn("disk space is back, but the store was opened read-only: restart the node to write again", "free", mib(avail))
	}
	sp.short = short
}

// refusal returns why writes are refused now, if they are.
func (sp *space) refusal() *DiskFullError {
	if sp == nil {
		return nil
	}
	sp.check(false)
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if !sp.short && !sp.readOnly {
		return nil
	}
	return &DiskFullError{Dir: sp.dir, Free: sp.avail, Reserve: sp.reserve, ReadOnly: sp.readOnly}
}

// Writable returns a *DiskFullError if writes that add data are refused
// now, for a caller that would do work of its own before writing.
func (s *Store) Writable() error {
	if r := s.space.refusal(); r != nil {
		return r
	}
	return nil
}

// Space returns what the store knows of its disk, asking it again.
func (s *Store) Space() SpaceStatus {
	if s.space == nil {
		return SpaceStatus{}
	}
	s.space.check(true)
	st := SpaceStatus{Refused: s.space.refusal()}
	s.space.mu.Lock()
	st.Free, st.Reserve = s.space.avail, s.space.reserve
	s.space.mu.Unlock()
	return st
}

// spaceWatchEvery is how often the store looks at its disk while nothing
// is written.
const spaceWatchEvery = 2 * time.Second

// newSpace builds the watch of the store's disk, or nil for a store in
// memory, and looks at the disk once.
func newSpace(opts Options, bo badger.Options) (*space, error) {
	if opts.InMemory {
		return nil, nil
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	sp := &space{
		dir: opts.Dir, free: opts.FreeSpace, log: opts.Logger,
		reserve:  opts.Reserve,
		openNeed: 2*uint64(bo.MemTableSize) + 1<<20,
	}
	if sp.free == nil {
		sp.free = Statfs
	}
	if sp.reserve == 0 {
		sp.reserve = 4*uint64(bo.MemTableSize) + 8<<20
	}
	// Until the disk answers, assume there is room.
	sp.avail = math.MaxUint64
	sp.check(true)
	return sp, nil
}

// openBadger opens the database. On a disk too full even to open it for
// writing (a new memtable log; the flush of what the last run left in its
// memtables) it opens it read-only, which Badger allows after a clean
// stop. Badger panics on some kinds of on-disk damage, and faults (SIGBUS)
// on a memory map the disk cannot back: either is an error here, not a
// crash.
func openBadger(bo badger.Options, sp *space) (*badger.DB, error) {
	if sp != nil && sp.avail < sp.openNeed {
		db, err := tryOpen(bo.WithReadOnly(true))
		if err == nil {
			sp.readOnly = true
			sp.log.Error("the disk is too full to open the store for writing: it is open read-only; free some space and restart the node to write again",
				"dir", sp.dir, "free", mib(sp.avail), "needed", mib(sp.openNeed))
			return db, nil
		}
		sp.log.Warn("the store cannot be opened read-only (it was not closed cleanly); opening it for writing on a nearly full disk", "err", err)
	}
	return tryOpen(bo)
}

func tryOpen(bo badger.Options) (db *badger.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("damaged database, or a disk too full to open it: %v", r)
		}
	}()
	return badger.Open(bo)
}
