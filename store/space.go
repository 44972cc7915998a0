package store

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
)

// DefaultMinFree is the disk space a store keeps free: Badger writes its
// memtables and value log through memory maps of sparse files, and a write
// to one on a full disk kills the process, so the store refuses new data
// well before that.
const DefaultMinFree = 64 << 20

// ErrDiskFull reports data refused because the disk is nearly full. The
// store still reads, deletes and evicts; it takes data again by itself
// once there is room.
var ErrDiskFull = errors.New("the disk is nearly full: new data is refused until there is room")

// spaceCheckEvery is how often the free space is read: far less than
// MinFree takes to fill at any rate a node takes data.
const spaceCheckEvery = time.Second

// spaceGuard refuses writes while the store's disk is nearly full.
type spaceGuard struct {
	dir string
	min int64

	mu      sync.Mutex
	checked time.Time
	free    int64
	known   bool
}

// check returns ErrDiskFull while the disk has less than min free.
func (g *spaceGuard) check() error {
	if g == nil || g.min <= 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if now := time.Now(); now.Sub(g.checked) >= spaceCheckEvery {
		g.free, g.known = freeSpace(g.dir)
		g.checked = now
	}
	if g.known && g.free < g.min {
		return fmt.Errorf("%w (%s free of the %s kept free)", ErrDiskFull, humanize.IBytes(uint64(max(g.free, 0))), humanize.IBytes(uint64(g.min)))
	}
	return nil
}
