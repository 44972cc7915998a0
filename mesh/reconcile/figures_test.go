//go:build syncfigures

package reconcile

import (
	"testing"
	"time"
)

// The attacks' figures, without assertions, using only what the sync had
// before it was hardened, so that the same file measures both versions
// (docs/BENCHMARKS.md, "Sync under attack"). Run with -tags syncfigures.

func figuresVictim(t *testing.T, n, size int) *node {
	st := newTestStore()
	st.addScope(scopeOf(1), n, size, 1)
	return startNode(t, st)
}

// quiet waits until the node's store has seen no call for a second.
func quiet(n *node) {
	last := n.st.work()
	for {
		time.Sleep(time.Second)
		if w := n.st.work(); w == last {
			return
		} else {
			last = w
		}
	}
}

func TestFigures1Amplify(t *testing.T) {
	n := figuresVictim(t, 50, 500)
	t.Log(mountAmplify(t, n, scopeOf(1), 1<<16))
}

func TestFigures2Rescan(t *testing.T) {
	n := figuresVictim(t, 2000, 300)
	start := time.Now()
	f := mountRescan(t, n, scopeOf(1), 1<<16, true, func() { quiet(n) })
	t.Log(f, "; the node worked for ", time.Since(start)-time.Second, " after the reset")
}

func TestFigures3IDFlood(t *testing.T) {
	n := figuresVictim(t, 100, 300)
	t.Log(mountIDFlood(t, n, scopeOf(1), 200, 32000))
}

func TestFigures4Want(t *testing.T) {
	st := newTestStore()
	sc := scopeOf(1)
	st.addScope(sc, 31, 300, 1)
	raw, it := fakeEnvelope(5000, 24<<10, 99)
	st.add(sc, raw)
	t.Log(mountWantFlood(t, startNode(t, st), sc, it.ID, 1<<15))
}

func TestFigures5Slots(t *testing.T) {
	n := figuresVictim(t, 100, 300)
	var honest []*node
	for i := range 5 {
		st := newTestStore()
		st.addScope(scopeOf(1), 100, 300, uint64(10+i))
		honest = append(honest, startNode(t, st))
	}
	t.Logf("%d of 20 honest syncs got through", mountSlotHog(t, n, 8, honest, 20))
}
