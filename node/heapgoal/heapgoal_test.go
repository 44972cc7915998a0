package heapgoal_test

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/node/heapgoal"
	"github.com/banyan-mesh/banyan/node/nodetest"
)

const mib = 1 << 20

func TestPercent(t *testing.T) {
	o := heapgoal.Options{Preallocated: 10 * mib, MinHeadroom: 4 * mib, BusyWindow: 100 * time.Millisecond}
	for _, c := range []struct {
		name string
		f    heapgoal.Figures
		want int
	}{
		{"a quiet node: the arena and a little", heapgoal.Figures{Live: 14 * mib, Roots: 2 * mib, AllocRate: 2 * mib}, 25},
		{"less live than the arena", heapgoal.Figures{Live: 6 * mib, Roots: 2 * mib}, 50},
		{"a large heap: half of it without the arena", heapgoal.Figures{Live: 300 * mib, AllocRate: 20 * mib}, 49},
		{"a small busy node: a tenth of a second's allocations", heapgoal.Figures{Live: 30 * mib, Roots: 2 * mib, AllocRate: 256 * mib}, 80},
		{"a very busy node: no more room than GOGC=100", heapgoal.Figures{Live: 20 * mib, AllocRate: 1024 * mib}, 100},
		{"a tiny heap", heapgoal.Figures{Live: 1 * mib, Roots: 1 * mib}, 100},
		{"nothing live yet", heapgoal.Figures{}, 100},
	} {
		if got := o.Percent(c.f); got != c.want {
			t.Errorf("%s: Percent(%+v) = %d, want %d", c.name, c.f, got, c.want)
		}
	}
}

// serve runs a Tuner until the test ends.
func serve(t *testing.T, opts heapgoal.Options) {
	t.Helper()
	before := gogc()
	stop := heapgoal.Start(opts)
	t.Cleanup(func() {
		stop()
		if got := gogc(); got != before {
			t.Errorf("after Serve GOGC is %d, want the one before it, %d", got, before)
		}
	})
}

// gogc reads GOGC without changing it.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

var sink [][]byte

// GOGC follows the live heap down and up, collection after collection.
func TestPercentFollowsTheLiveHeap(t *testing.T) {
	serve(t, heapgoal.Options{
		// Everything counts as the arena, and the allocation rate not at
		// all, so that MinHeadroom alone sets the room.
		Preallocated: 1 << 40, MinHeadroom: 4 * mib, BusyWindow: time.Nanosecond,
		Getenv: func(string) string { return "" }, Logger: slog.New(slog.DiscardHandler),
	})
	sink = make([][]byte, 64)
	for i := range sink {
		sink[i] = make([]byte, mib)
	}
	nodetest.Eventually(t, 10*time.Second, "a GOGC of about 4 MiB over 64 MiB of live heap", func() (bool, string) {
		runtime.GC()
		p := gogc()
		return p <= 7, fmt.Sprintf("GOGC %d", p)
	})
	sink = nil
	nodetest.Eventually(t, 10*time.Second, "GOGC back at 100 when the heap is freed", func() (bool, string) {
		runtime.GC()
		p := gogc()
		return p == 100, fmt.Sprintf("GOGC %d", p)
	})
}

var garbage []byte

// A burst of allocations gets room in proportion, and a node gone quiet
// after it loses that room without waiting for a collection.
func TestRoomForABurstEndsWithIt(t *testing.T) {
	serve(t, heapgoal.Options{
		Preallocated: 1 << 40, MinHeadroom: 4 * mib, BusyWindow: 10 * time.Second,
		Getenv: func(string) string { return "" }, Logger: slog.New(slog.DiscardHandler),
	})
	sink = make([][]byte, 64)
	for i := range sink {
		sink[i] = make([]byte, mib)
	}
	defer func() { sink = nil }()
	nodetest.Eventually(t, 10*time.Second, "GOGC at 100 for a burst of allocations", func() (bool, string) {
		for range 256 {
			garbage = make([]byte, mib)
		}
		runtime.GC()
		p := gogc()
		return p == 100, fmt.Sprintf("GOGC %d", p)
	})
	nodetest.Eventually(t, 10*time.Second, "GOGC down again, with no collection asked for", func() (bool, string) {
		p := gogc()
		return p <= 10, fmt.Sprintf("GOGC %d", p)
	})
}

// logged records the messages of a logger.
type logged struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logged) Enabled(context.Context, slog.Level) bool { return true }
func (l *logged) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logged) WithGroup(string) slog.Handler            { return l }
func (l *logged) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}

func (l *logged) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// GOGC or GOMEMLIMIT set by the person running the node win.
func TestTheEnvironmentWins(t *testing.T) {
	for _, v := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(v, func(t *testing.T) {
			log := &logged{}
			before := gogc()
			serve(t, heapgoal.Options{
				Getenv: func(k string) string {
					if k == v {
						return "50"
					}
					return ""
				},
				Logger: slog.New(log),
			})
			nodetest.Eventually(t, 10*time.Second, "the tuner to leave the policy to the environment", func() (bool, string) {
				return log.has("left to the environment"), "not logged"
			})
			runtime.GC()
			runtime.GC()
			if got := gogc(); got != before {
				t.Fatalf("with %s set GOGC became %d, want it left at %d", v, got, before)
			}
		})
	}
}
