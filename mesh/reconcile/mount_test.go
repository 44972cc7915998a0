package reconcile

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// The attacks of the sync hardening review, each mounted through the wire
// by a raw peer against a Syncer. A mount function only mounts the attack
// and measures it; the tests assert the bounds.

// figures is what an attack cost the node that served it.
type figures struct {
	in, out   int64 // bytes the attacker wrote and read
	work      work  // store calls the node made
	heapPeak  uint64
	allocated uint64
	cpu       time.Duration // CPU of the whole test process
	err       error         // what ended the attacker's reading
	turns     int           // turns the node answered
}

func (f figures) String() string {
	return fmtFigures(f)
}

func fmtFigures(f figures) string {
	return fmt.Sprintf("in %d B, out %d B (x%.0f), Items calls %d reading %d items, envelopes %d looked up %d read, heap peak +%.1f MB, allocated %.1f MB, cpu %v, ended by %v",
		f.in, f.out, float64(f.out)/float64(max(f.in, 1)), f.work.calls, f.work.items, f.work.lookups, f.work.envs, float64(f.heapPeak)/1e6, float64(f.allocated)/1e6, f.cpu, f.err)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs attack and measures the node's work while it runs and
// until settle reports the node has finished with it.
func measure(n *node, attack func() (in, out int64, turns int, err error), settle func()) figures {
	w0 := n.st.work()
	cpu0 := cpuTime()
	mem := startMemPeak()
	var f figures
	f.in, f.out, f.turns, f.err = attack()
	if settle != nil {
		settle()
	}
	f.heapPeak, f.allocated = mem.end()
	f.cpu = cpuTime() - cpu0
	f.work = n.st.work().minus(w0)
	return f
}

// mountAmplify sends one turn: a frame of ranges alternating "up to
// infinity, I have nothing" and "back down to the floor", then reads the
// node's answer.
func mountAmplify(t testing.TB, n *node, sc event.Scope, ranges int) figures {
	p := newRawPeer(t).open(n)
	rs := make([]wireRange, ranges)
	for i := range rs {
		rs[i] = wireRange{Upper: inf, Mode: ModeIDList}
		if i%2 == 1 {
			rs[i].Upper = floor0
		}
	}
	msg := reconcileFrame(sc, floor0, rs...)
	return measure(n, func() (int64, int64, int, error) {
		if err := p.send(msg, endFrame); err != nil {
			return p.sent, p.got, 0, err
		}
		_, err := p.readTurn()
		p.st.Reset()
		return p.sent, p.got, 1, err
	}, nil)
}

// mountRescan sends a frame of ranges that each make the node read the
// whole scope (a wrong fingerprint up to infinity, then back down to the
// floor); then it resets the stream at once, or reads until the node ends
// it.
func mountRescan(t testing.TB, n *node, sc event.Scope, ranges int, reset bool, settle func()) figures {
	p := newRawPeer(t).open(n)
	rs := make([]wireRange, ranges)
	for i := range rs {
		rs[i] = wireRange{Upper: inf, Mode: ModeFingerprint, FP: make([]byte, 16)}
		if i%2 == 1 {
			rs[i] = wireRange{Upper: floor0}
		}
	}
	msg := reconcileFrame(sc, floor0, rs...)
	return measure(n, func() (int64, int64, int, error) {
		err := p.send(msg, endFrame)
		if reset {
			// Once the node is at work on it, or has ended the stream.
			var ended atomic.Bool
			go func() {
				p.drain()
				ended.Store(true)
			}()
			waitFor(t, "the node to read its store", func() bool { return n.st.itemCalls.Load() > 0 || ended.Load() })
			p.st.Reset()
		} else if err == nil {
			err = p.drain()
		}
		return p.sent, p.got, 0, err
	}, settle)
}

// mountIDFlood sends frames full of IDs and never ends the turn: frames
// of one ID-list range each (bounds increasing), idsPerRange IDs per
// range.
func mountIDFlood(t testing.TB, n *node, sc event.Scope, frames, idsPerRange int) figures {
	p := newRawPeer(t).open(n)
	ids := make([]byte, idsPerRange*event.IDSize)
	for i := range ids {
		ids[i] = byte(i*7 + i/251)
	}
	return measure(n, func() (int64, int64, int, error) {
		for i := range frames {
			// Distinct IDs in each frame.
			ids[0], ids[1] = byte(i), byte(i>>8)
			f := reconcileFrame(sc, floor0, wireRange{Upper: wireBound{Time: uint64(i + 1)}, Mode: ModeIDList, IDs: ids})
			if err := p.send(f); err != nil {
				return p.sent, p.got, 0, err
			}
		}
		err := p.drain()
		return p.sent, p.got, 0, err
	}, nil)
}

// mountWantFlood wants one event times times in the first turn, in frames
// of at most 8192 IDs, then reads the node's answer.
func mountWantFlood(t testing.TB, n *node, sc event.Scope, id event.ID, times int) figures {
	p := newRawPeer(t).open(n)
	var fs []*frame
	for left := times; left > 0; {
		k := min(left, 8192)
		ids := make([]byte, 0, k*event.IDSize)
		for range k {
			ids = append(ids, id[:]...)
		}
		fs = append(fs, &frame{Type: frameWant, Scope: sc[:], IDs: ids})
		left -= k
	}
	fs = append(fs, endFrame)
	return measure(n, func() (int64, int64, int, error) {
		if err := p.send(fs...); err != nil {
			return p.sent, p.got, 0, err
		}
		_, err := p.readTurn()
		p.st.Reset()
		return p.sent, p.got, 1, err
	}, nil)
}

// mountSlotHog opens streams from one peer that start a turn and stall,
// then runs honest syncs from other peers and counts those that succeed.
func mountSlotHog(t testing.TB, n *node, streams int, honest []*node, syncs int) (ok int) {
	p := newRawPeer(t)
	for range streams {
		q := p.open(n)
		// The first byte of a frame: the node's handler runs and waits.
		q.writeRaw([]byte{0x05})
	}
	for i := range syncs {
		h := honest[i%len(honest)]
		connect(t, h.h, n.h)
		if _, err := h.s.SyncPeer(t.Context(), n.h.ID()); err == nil {
			ok++
		}
	}
	return ok
}
