// Package heapgoal keeps a node process's memory close to what it holds.
//
// Go's collector lets the heap grow to twice what was live after the last
// collection (GOGC=100). For a small node most of that live heap is the
// store's memtable arena: Badger allocates it whole when the store opens (10
// MiB for an 8 MiB memtable) and fills it as events arrive, so its pages are
// mostly untouched, yet it doubles the heap goal, and the garbage allowed in
// its name becomes resident memory. After every collection, and every second
// between them, the Tuner sets GOGC so that the next heap goal leaves room
// for garbage of half the live heap without the arena, or as much as was
// allocated in the last tenth of a second (so that a node busy catching up
// collects no more than about ten times a second), and at least MinHeadroom;
// never more than GOGC=100 gives. For a large heap that is about GOGC=50,
// which caught up 100,000 events in the same time as GOGC=100 with a sixth
// less memory (docs/BENCHMARKS.md); for a small, quiet one a few MiB instead
// of the arena's size again.
//
// The Tuner moves GOGC, not the soft memory limit: a limit near the live
// heap makes the collector run back to back on a machine too busy to
// finish a cycle before the next allocations reach it, where a goal
// always leaves MinHeadroom to allocate between two collections.
//
// GOGC or GOMEMLIMIT in the environment mean the person running the node
// chose the collector's policy themselves: the Tuner then does nothing.
package heapgoal

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

const (
	// DefaultMinHeadroom is the least room for garbage the heap gets.
	DefaultMinHeadroom = 4 << 20
	// DefaultBusyWindow is how long a busy node's allocations may go on
	// before the next collection.
	DefaultBusyWindow = 100 * time.Millisecond
	// reviewEvery is how often GOGC is set again between collections.
	reviewEvery = time.Second
	// defaultPercent is Go's GOGC when the environment sets none.
	defaultPercent = 100
)

// Options configures a Tuner.
type Options struct {
	// Preallocated is live heap that was allocated whole and is filled
	// gradually (the store's memtable arena); it gets no headroom.
	Preallocated uint64
	// MinHeadroom is the least room for garbage; 0 means
	// DefaultMinHeadroom.
	MinHeadroom uint64
	// BusyWindow is how long allocations at the last cycle's rate may go
	// on before the next collection; 0 means DefaultBusyWindow.
	BusyWindow time.Duration
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	Logger *slog.Logger
}

// Tuner sets GOGC after every collection, and every second, while it is
// served. One process runs at most one.
type Tuner struct {
	opts Options
}

// New returns a Tuner.
func New(opts Options) *Tuner {
	if opts.MinHeadroom == 0 {
		opts.MinHeadroom = DefaultMinHeadroom
	}
	if opts.BusyWindow == 0 {
		opts.BusyWindow = DefaultBusyWindow
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Tuner{opts: opts}
}

// Start serves a Tuner in a goroutine of its own; stop ends it and waits
// for it to end.
func Start(opts Options) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		New(opts).Serve(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// Figures are the runtime's, read after a collection or between two.
type Figures struct {
	// Live is the heap live after the collection.
	Live uint64
	// Roots are the stacks and globals the collector scanned; GOGC
	// applies to them as to the live heap.
	Roots uint64
	// AllocRate is how many bytes a second were allocated since the
	// figures before.
	AllocRate float64
}

// Percent is the GOGC for the runtime's figures.
func (o Options) Percent(f Figures) int {
	own := uint64(0)
	if f.Live > o.Preallocated {
		own = f.Live - o.Preallocated
	}
	busy := uint64(f.AllocRate * o.BusyWindow.Seconds())
	room := max(o.MinHeadroom, own/2, busy)
	// Go's goal is live + (live + roots) * GOGC / 100.
	base := f.Live + f.Roots
	if base == 0 {
		return defaultPercent
	}
	p := (room*100 + base - 1) / base
	return int(min(max(p, 1), defaultPercent))
}

// Serve sets GOGC after every collection, and every second between them,
// until ctx is done, then gives the collector back the GOGC it had. It
// never fails.
func (t *Tuner) Serve(ctx context.Context) error {
	for _, v := range []string{"GOGC", "GOMEMLIMIT"} {
		if t.opts.Getenv(v) != "" {
			t.opts.Logger.Debug("collector's policy left to the environment", "var", v)
			<-ctx.Done()
			return nil
		}
	}
	before := debug.SetGCPercent(defaultPercent)
	defer debug.SetGCPercent(before)
	collected := make(chan struct{}, 1)
	var stopped atomic.Bool
	defer stopped.Store(true)
	watchCollections(collected, &stopped)
	// Between collections too, so that a node gone quiet after a burst
	// does not keep the burst's room until its heap reaches the goal.
	tick := time.NewTicker(reviewEvery)
	defer tick.Stop()
	s := newSampler()
	last := -1
	for {
		if p := t.opts.Percent(s.read()); p != last {
			debug.SetGCPercent(p)
			t.opts.Logger.Debug("GOGC", "percent", p)
			last = p
		}
		select {
		case <-ctx.Done():
			return nil
		case <-collected:
		case <-tick.C:
		}
	}
}

// sentinel is garbage from its birth: its cleanup tells that a collection
// ran. It holds a pointer and is larger than 16 bytes so that it never
// shares the tiny allocator's block with a live object.
type sentinel struct {
	_ *byte
	_ [24]byte
}

// watchCollections sends on collected (without blocking) after every
// collection until stopped is set.
func watchCollections(collected chan<- struct{}, stopped *atomic.Bool) {
	var arm func(struct{})
	arm = func(struct{}) {
		if stopped.Load() {
			return
		}
		select {
		case collected <- struct{}{}:
		default:
		}
		runtime.AddCleanup(new(sentinel), arm, struct{}{})
	}
	runtime.AddCleanup(new(sentinel), arm, struct{}{})
}

// sampler reads the runtime's figures.
type sampler struct {
	s [4]metrics.Sample
	// allocs and at are the bytes allocated in all, and when, at the
	// last read.
	allocs uint64
	at     time.Time
}

func newSampler() *sampler {
	return &sampler{s: [4]metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/heap/allocs:bytes"},
		{Name: "/gc/scan/stack:bytes"},
		{Name: "/gc/scan/globals:bytes"},
	}}
}

// read reads the runtime's figures now.
func (s *sampler) read() Figures {
	metrics.Read(s.s[:])
	now := time.Now()
	allocs := s.s[1].Value.Uint64()
	f := Figures{Live: s.s[0].Value.Uint64(), Roots: s.s[2].Value.Uint64() + s.s[3].Value.Uint64()}
	if !s.at.IsZero() {
		if d := now.Sub(s.at).Seconds(); d > 0 {
			f.AllocRate = float64(allocs-s.allocs) / d
		}
	}
	s.allocs, s.at = allocs, now
	return f
}
