package reconcile

import (
	"sync/atomic"
	"testing"
	"time"
)

// A turn's events frames are stored two at a time: the second frame's
// Accept starts while the first is still running, no more than two ever
// run at once, and the receiver reconciles (reads its items) only once
// every frame of the turn is stored.
func TestFramesAreStoredTwoAtATime(t *testing.T) {
	sc := scopeOf(1)
	stA, stB := newTestStore(), newTestStore()
	// 3,000 events of 1 KB: a dozen frames in one turn.
	stA.addScope(sc, 3000, 1000, 1)
	stB.addScope(sc, 0, 1000, 2)
	var running, most, itemsWhileAccepting atomic.Int64
	overlapped := make(chan struct{})
	var first atomic.Bool
	stB.acceptGate = func() {
		now := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if now <= m || most.CompareAndSwap(m, now) {
				break
			}
		}
		if now == 2 {
			select {
			case <-overlapped:
			default:
				close(overlapped)
			}
		}
		// The first frame's Accept waits for the second to start, which
		// it can only do while this one runs.
		if first.CompareAndSwap(false, true) {
			select {
			case <-overlapped:
			case <-time.After(10 * time.Second):
				t.Error("the second frame's Accept did not start while the first ran")
			}
		}
	}
	stB.gate = func() {
		if running.Load() > 0 {
			itemsWhileAccepting.Add(1)
		}
	}
	a, b := startNode(t, stA), startNode(t, stB)
	connect(t, b.h, a.h)
	if _, err := b.s.SyncPeer(t.Context(), a.h.ID()); err != nil {
		t.Fatal(err)
	}
	if got := stB.count(sc); got != 3000 {
		t.Fatalf("B holds %d events, want 3000", got)
	}
	if m := most.Load(); m != 2 {
		t.Errorf("at most %d Accepts ran at once, want 2", m)
	}
	if n := itemsWhileAccepting.Load(); n != 0 {
		t.Errorf("B read its items %d times while frames were still being stored", n)
	}
}
