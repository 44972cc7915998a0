package reconcile

import (
	"errors"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// victim starts a node holding one public scope of n events of size bytes.
func victim(t testing.TB, n, size int) (*node, event.Scope) {
	st := newTestStore()
	sc := scopeOf(1)
	st.addScope(sc, n, size, 1)
	return startNode(t, st), sc
}

// assertDropped checks that the attacker's stream was reset and that the
// node counted the refusal under reason.
func assertDropped(t *testing.T, n *node, before Counters, f figures, reason string) {
	t.Helper()
	if !errors.Is(f.err, network.ErrReset) {
		t.Errorf("the attacker's stream ended with %v, want a reset", f.err)
	}
	waitFor(t, "the refusal to be counted as "+reason, func() bool {
		return n.s.Counters().Malformed[reason] > before.Malformed[reason]
	})
}

// Attack 1: one frame of 65,536 ranges alternating "up to infinity, I have
// nothing" and "back down to the floor" made the node queue every event of
// the scope 32,768 times.
func TestAttackAmplifyByRangesBackToTheFloor(t *testing.T) {
	n, sc := victim(t, 50, 500)
	before := n.s.Counters()
	f := mountAmplify(t, n, sc, 1<<16)
	t.Log(f)
	assertDropped(t, n, before, f, ReasonOrder)
	if f.out > 0 || f.work.items > 0 || f.work.lookups > 0 {
		t.Errorf("the node answered a malformed message: %v", f)
	}
}

// Attack 2: ranges that each read the whole scope, and work that went on
// after the stream was reset.
func TestAttackRescanRanges(t *testing.T) {
	n, sc := victim(t, 2000, 300)
	before := n.s.Counters()
	f := mountRescan(t, n, sc, 1<<16, false, func() {
		waitFor(t, "the refusal", func() bool { return n.s.Counters().Malformed[ReasonOrder] > before.Malformed[ReasonOrder] })
	})
	t.Log(f)
	assertDropped(t, n, before, f, ReasonOrder)
	// The first range is well formed and the second is not: the message
	// is refused before any of it is processed.
	if f.work.calls > 0 || f.work.items > 0 {
		t.Errorf("the node read its store for a malformed message: %v", f)
	}
	// Strictly increasing bounds, but more ranges than a first message
	// can have (16).
	before = n.s.Counters()
	p := newRawPeer(t).open(n)
	var rs []wireRange
	for i := range 1000 {
		rs = append(rs, wireRange{Upper: wireBound{Time: uint64(1000 + i)}, Mode: ModeFingerprint, FP: make([]byte, 16)})
	}
	rs = append(rs, wireRange{Upper: inf, Mode: ModeFingerprint, FP: make([]byte, 16)})
	w0 := n.st.work()
	p.send(reconcileFrame(sc, floor0, rs...), endFrame)
	err := p.drain()
	f = figures{in: p.sent, out: p.got, err: err, work: n.st.work().minus(w0)}
	assertDropped(t, n, before, f, ReasonTooMany)
	if f.work.calls > 0 {
		t.Errorf("the node read its store for a message too large: %v", f)
	}
}

// Attack 2, within the rules: a peer that answers every turn with the
// largest message the rules allow, all of it wrong, keeps the sync going
// for as many turns as it can. Each turn costs the node at most one read
// of its scope, in a bounded number of store calls, and an answer bounded
// by the scope; the sync ends after maxTurns.
func TestAttackLegalRescanIsBoundedPerTurn(t *testing.T) {
	const events = 2000
	n, sc := victim(t, events, 300)
	before := n.s.Counters()
	p := newRawPeer(t).open(n)
	allowed := 1 // fingerprint ranges in the node's last message
	var maxItems, maxCalls, maxOut, lookups int64
	turns := 0
	for ; ; turns++ {
		// branches*allowed ranges with wrong fingerprints spread over
		// the scope (times 1000 to 1500), the first an empty ID list
		// ("I have nothing") over its lower half.
		k := branches * max(1, allowed)
		rs := make([]wireRange, k)
		rs[0] = wireRange{Upper: wireBound{Time: 1250}, Mode: ModeIDList}
		for i := 1; i < k; i++ {
			rs[i] = wireRange{Upper: wireBound{Time: 1250 + uint64(i*250/k), Prefix: []byte{byte(i >> 8), byte(i)}}, Mode: ModeFingerprint, FP: make([]byte, 16)}
		}
		rs[k-1].Upper = inf
		w0, out0 := n.st.work(), p.got
		p.st.SetDeadline(time.Now().Add(30 * time.Second))
		if err := p.send(reconcileFrame(sc, floor0, rs...), endFrame); err != nil {
			break
		}
		fs, err := p.readTurn()
		if err != nil {
			break
		}
		w := n.st.work().minus(w0)
		maxItems, maxCalls, maxOut = max(maxItems, w.items), max(maxCalls, w.calls), max(maxOut, p.got-out0)
		lookups += w.lookups
		allowed = 0
		for _, f := range fs {
			for _, r := range f.Ranges {
				if r.Mode == ModeFingerprint {
					allowed++
				}
			}
		}
	}
	t.Logf("%d turns; per turn at most %d items read in %d calls and %d bytes sent; %d envelopes looked up in all", turns, maxItems, maxCalls, maxOut, lookups)
	waitFor(t, "the sync to be ended after maxTurns", func() bool {
		return n.s.Counters().Malformed[ReasonTurns] > before.Malformed[ReasonTurns]
	})
	if maxItems > events {
		t.Errorf("one turn read %d items of a scope of %d", maxItems, events)
	}
	if maxCalls > maxQueries+1 {
		t.Errorf("one turn made %d store calls", maxCalls)
	}
	// Every event once (the peer said every turn that it had nothing).
	if lookups > events {
		t.Errorf("%d envelopes looked up for a scope of %d", lookups, events)
	}
	// At most every event once, and each of its items described once (a
	// fingerprint or an ID and a bound: under 100 bytes).
	if limit := int64(events*300 + events*100 + 4096); maxOut > limit {
		t.Errorf("one turn sent %d bytes, more than %d", maxOut, limit)
	}
}

// Attack 3: unfinished turns full of IDs: the old limit counted ranges,
// not IDs or bytes.
func TestAttackIDFloodInAnUnfinishedTurn(t *testing.T) {
	n, sc := victim(t, 100, 300)
	for _, tc := range []struct {
		name        string
		idsPerRange int
		reason      string
	}{
		{"lists of 32000 IDs", 32000, ReasonRange},
		{"lists of 32 IDs", 32, ReasonTooMany},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := n.s.Counters()
			f := mountIDFlood(t, n, sc, 200, tc.idsPerRange)
			t.Log(f)
			assertDropped(t, n, before, f, tc.reason)
			// The node keeps at most one frame (1 MiB) and its decoding.
			if f.heapPeak > 16<<20 {
				t.Errorf("the heap grew by %d bytes", f.heapPeak)
			}
		})
	}
}

// Attack 4: wanting one large envelope 32,768 times in a turn.
func TestAttackWantOneEnvelopeManyTimes(t *testing.T) {
	st := newTestStore()
	sc := scopeOf(1)
	// One large event and 31 small ones: the node lists all 32 when asked.
	st.addScope(sc, 31, 300, 1)
	raw, it := fakeEnvelope(5000, 24<<10, 99)
	st.add(sc, raw)
	n := startNode(t, st)

	// Before the node listed anything, nothing may be wanted.
	before := n.s.Counters()
	f := mountWantFlood(t, n, sc, it.ID, 1<<15)
	t.Log(f)
	assertDropped(t, n, before, f, ReasonTooMany)
	if f.out > 0 || f.work.lookups > 0 {
		t.Errorf("the node answered wants it never invited: %v", f)
	}

	// Within the rules: make the node list its IDs every turn (a wrong
	// fingerprint over its scope), and want the large event twice.
	scopeBytes := int64(len(raw) + 31*300)
	for _, tc := range []struct {
		name   string
		turns  [][]int // per turn, how many times the ID is wanted in each frame
		reason string
	}{
		{"twice in a frame", [][]int{{2}}, ReasonDuplicate},
		{"twice in a turn", [][]int{{1, 1}}, ReasonDuplicate},
		{"again in a later turn", [][]int{{1}, {1}}, ReasonDuplicate},
		{"more than listed", [][]int{{33}}, ReasonTooMany},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := n.s.Counters()
			p := newRawPeer(t).open(n)
			wrong := reconcileFrame(sc, floor0, wireRange{Upper: inf, Mode: ModeFingerprint, FP: make([]byte, 16)})
			p.send(wrong, endFrame)
			if _, err := p.readTurn(); err != nil {
				t.Fatal(err)
			}
			var err error
			for _, turn := range tc.turns {
				for _, times := range turn {
					var ids []byte
					for range times {
						ids = append(ids, it.ID[:]...)
					}
					p.send(&frame{Type: frameWant, Scope: sc[:], IDs: ids})
				}
				p.send(wrong, endFrame)
				if _, err = p.readTurn(); err != nil {
					break
				}
			}
			if err == nil {
				err = p.drain()
			}
			assertDropped(t, n, before, figures{err: err}, tc.reason)
			if limit := scopeBytes + 8192; p.got > limit {
				t.Errorf("the node sent %d bytes for a scope of %d bytes", p.got, scopeBytes)
			}
			t.Logf("in %d B, out %d B", p.sent, p.got)
		})
	}
}

// Attack 5: one peer held every sync slot and every other peer was turned
// away. Now a peer holds one slot, a new stream from it replaces its last,
// and other peers' syncs get through.
func TestAttackOnePeerHoldsAllSlots(t *testing.T) {
	n, _ := victim(t, 100, 300)
	var honest []*node
	for i := range 5 {
		st := newTestStore()
		st.addScope(scopeOf(1), 100, 300, uint64(10+i))
		honest = append(honest, startNode(t, st))
	}
	before := n.s.Counters()
	ok := mountSlotHog(t, n, 8, honest, 20)
	if ok != 20 {
		t.Errorf("%d of 20 honest syncs got through while one peer held streams open", ok)
	}
	c := n.s.Counters()
	if c.Replaced-before.Replaced < 7 {
		t.Errorf("%d of the attacker's 8 streams replaced its last", c.Replaced-before.Replaced)
	}
	for _, h := range honest {
		if !n.st.syncedWith(scopeOf(1), h.h.ID()) {
			t.Errorf("the node did not sync with honest peer %v", h.h.ID())
		}
	}
}

// The inbound and outbound pools are separate: peers that fill every
// inbound slot do not stop this node's own syncs, and a further peer is
// turned away until a slot is free.
func TestInboundAndOutboundPoolsAreSeparate(t *testing.T) {
	n, sc := victim(t, 100, 300)
	var hogs []*rawPeer
	for range 4 {
		q := newRawPeer(t).open(n)
		q.writeRaw([]byte{0x05})
		hogs = append(hogs, q)
	}
	waitFor(t, "four peers to hold the inbound slots", func() bool {
		n.s.mu.Lock()
		defer n.s.mu.Unlock()
		return len(n.s.inbound) == 4
	})
	st := newTestStore()
	st.addScope(sc, 100, 300, 5)
	other := startNode(t, st)
	connect(t, other.h, n.h)
	// This node's own sync with the other peer runs.
	if _, err := n.s.SyncPeer(t.Context(), other.h.ID()); err != nil {
		t.Fatalf("an outbound sync while the inbound slots are full: %v", err)
	}
	// The other peer's sync with this node is turned away...
	before := n.s.Counters()
	if _, err := other.s.SyncPeer(t.Context(), n.h.ID()); err == nil {
		t.Fatal("a fifth peer got an inbound slot")
	}
	if c := n.s.Counters(); c.Refused != before.Refused+1 {
		t.Errorf("refused %d, want %d", c.Refused, before.Refused+1)
	}
	// ...until one is free.
	hogs[0].st.Reset()
	waitFor(t, "a slot to be freed", func() bool {
		n.s.mu.Lock()
		defer n.s.mu.Unlock()
		return len(n.s.inbound) < 4
	})
	if _, err := other.s.SyncPeer(t.Context(), n.h.ID()); err != nil {
		t.Fatalf("a sync once a slot was free: %v", err)
	}
}

// gatedVictim returns a node whose store blocks the first Items call after
// arm() until release() and reports when it was entered.
type gated struct {
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan struct{}
}

func (g *gated) arm() {
	g.mu.Lock()
	g.armed, g.entered, g.release = true, make(chan struct{}), make(chan struct{})
	g.mu.Unlock()
}

func (g *gated) gate() {
	g.mu.Lock()
	armed, entered, release := g.armed, g.entered, g.release
	g.armed = false
	g.mu.Unlock()
	if armed {
		close(entered)
		<-release
	}
}

// When the stream goes away in the middle of a turn's work, the work
// stops: no store call follows the one under way.
func TestWorkStopsWhenTheStreamIsReset(t *testing.T) {
	for _, tc := range []struct {
		name   string
		action func(p *rawPeer, sc event.Scope)
		reason string
	}{
		{"reset", func(p *rawPeer, _ event.Scope) { p.st.Reset() }, ""},
		{"frame out of turn", func(p *rawPeer, sc event.Scope) {
			p.send(reconcileFrame(sc, floor0, wireRange{Upper: inf}), endFrame)
		}, ReasonOutOfTurn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newTestStore()
			sc := scopeOf(1)
			st.addScope(sc, 2000, 300, 1)
			g := &gated{}
			st.gate = g.gate
			cancelled := make(chan struct{}, 1)
			n := startNode(t, st, func(s *Syncer) { s.testHookCancelled = func() { cancelled <- struct{}{} } })
			before := n.s.Counters()
			p := newRawPeer(t).open(n)
			// Eight fingerprint ranges separated by skips: eight store
			// calls, if nothing stops them.
			var rs []wireRange
			for i := range 16 {
				r := wireRange{Upper: wireBound{Time: uint64(1000 + 30*(i+1))}}
				if i%2 == 0 {
					r.Mode, r.FP = ModeFingerprint, make([]byte, 16)
				}
				rs = append(rs, r)
			}
			rs[15].Upper = inf
			g.arm()
			p.send(reconcileFrame(sc, floor0, rs...), endFrame)
			<-g.entered
			calls := st.itemCalls.Load()
			tc.action(p, sc)
			<-cancelled
			close(g.release)
			waitFor(t, "the sync to end", func() bool {
				n.s.mu.Lock()
				defer n.s.mu.Unlock()
				return len(n.s.inbound) == 0
			})
			if extra := st.itemCalls.Load() - calls; extra > 0 {
				t.Errorf("%d store calls after the stream went away", extra)
			}
			if tc.reason != "" && n.s.Counters().Malformed[tc.reason] != before.Malformed[tc.reason]+1 {
				t.Errorf("counters %v, want one more %s", n.s.Counters().Malformed, tc.reason)
			}
		})
	}
}

// Every kind of malformed input is refused, the stream reset and the
// refusal counted by its reason.
func TestMalformedInputIsDroppedAndCounted(t *testing.T) {
	n, sc := victim(t, 100, 300)
	fp := make([]byte, 16)
	id := func(b byte) []byte { x := make([]byte, 32); x[0] = b; return x }
	short := sc[:31]
	cases := []struct {
		name   string
		raw    []byte   // sent as is
		frames []*frame // or these, followed by an end frame
		reason string
	}{
		{name: "frame above 1 MiB", raw: []byte{0x81, 0x80, 0x40}, reason: ReasonFrameSize},
		{name: "frame length of 11 bytes", raw: []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, reason: ReasonFrameSize},
		{name: "not CBOR", raw: []byte{0x02, 0xff, 0xff}, reason: ReasonDecode},
		{name: "unknown key", raw: []byte{0x05, 0xa2, 0x01, 0x04, 0x08, 0x01}, reason: ReasonDecode},
		{name: "unknown type", frames: []*frame{{Type: 9}}, reason: ReasonFrameType},
		{name: "type 0", frames: []*frame{{Type: 0}}, reason: ReasonFrameType},
		{name: "end with a scope", frames: []*frame{{Type: frameEnd, Scope: sc[:]}}, reason: ReasonFrameKeys},
		{name: "reconcile without floor", frames: []*frame{{Type: frameReconcile, Scope: sc[:], Ranges: []wireRange{{Upper: inf}}}}, reason: ReasonFrameKeys},
		{name: "reconcile without ranges", frames: []*frame{{Type: frameReconcile, Scope: sc[:], Floor: &floor0}}, reason: ReasonFrameKeys},
		{name: "want with events", frames: []*frame{{Type: frameWant, Scope: sc[:], IDs: id(1), Events: [][]byte{{1}}}}, reason: ReasonFrameKeys},
		{name: "events without events", frames: []*frame{{Type: frameEvents, Scope: sc[:], Remaining: 3}}, reason: ReasonFrameKeys},
		{name: "short scope", frames: []*frame{{Type: frameWant, Scope: short, IDs: id(1)}}, reason: ReasonScope},
		{name: "prefix of 33 bytes", frames: []*frame{reconcileFrame(sc, floor0, wireRange{Upper: wireBound{Time: 1, Prefix: make([]byte, 33)}}, wireRange{Upper: inf})}, reason: ReasonBound},
		{name: "infinity with a time", frames: []*frame{reconcileFrame(sc, floor0, wireRange{Upper: wireBound{Inf: true, Time: 3}})}, reason: ReasonBound},
		{name: "floor at infinity", frames: []*frame{reconcileFrame(sc, inf, wireRange{Upper: inf})}, reason: ReasonBound},
		{name: "mode 3", frames: []*frame{reconcileFrame(sc, floor0, wireRange{Upper: inf, Mode: 3})}, reason: ReasonRange},
		{name: "fingerprint of 15 bytes", frames: []*frame{reconcileFrame(sc, floor0, wireRange{Upper: inf, Mode: ModeFingerprint, FP: fp[:15]})}, reason: ReasonRange},
		{name: "skip with ids", frames: []*frame{reconcileFrame(sc, floor0, wireRange{Upper: inf, IDs: id(1)})}, reason: ReasonRange},
		{name: "fingerprint with ids", frames: []*frame{reconcileFrame(sc, floor0, wireRange{Upper: inf, Mode: ModeFingerprint, FP: fp, IDs: id(1)})}, reason: ReasonRange},
		{name: "id list of 33 ids", frames: []*frame{reconcileFrame(sc, floor0, wireRange{Upper: inf, Mode: ModeIDList, IDs: make([]byte, 33*32)})}, reason: ReasonRange},
		{name: "id list of 33 bytes", frames: []*frame{reconcileFrame(sc, floor0, wireRange{Upper: inf, Mode: ModeIDList, IDs: make([]byte, 33)})}, reason: ReasonIDs},
		{name: "want of 33 bytes", frames: []*frame{{Type: frameWant, Scope: sc[:], IDs: make([]byte, 33)}}, reason: ReasonIDs},
		{name: "bounds equal", frames: []*frame{reconcileFrame(sc, floor0, wireRange{Upper: wireBound{Time: 5}}, wireRange{Upper: wireBound{Time: 5, Prefix: []byte{0, 0}}}, wireRange{Upper: inf})}, reason: ReasonOrder},
		{name: "bound at the floor", frames: []*frame{reconcileFrame(sc, wireBound{Time: 5}, wireRange{Upper: wireBound{Time: 5}}, wireRange{Upper: inf})}, reason: ReasonOrder},
		{name: "bound below the floor", frames: []*frame{reconcileFrame(sc, wireBound{Time: 5}, wireRange{Upper: wireBound{Time: 4}}, wireRange{Upper: inf})}, reason: ReasonOrder},
		{name: "range after infinity", frames: []*frame{reconcileFrame(sc, floor0, wireRange{Upper: inf}), reconcileFrame(sc, floor0, wireRange{Upper: inf})}, reason: ReasonOrder},
		{name: "floor changed", frames: []*frame{reconcileFrame(sc, floor0, wireRange{Upper: wireBound{Time: 9}}), reconcileFrame(sc, wireBound{Time: 1}, wireRange{Upper: inf})}, reason: ReasonOrder},
		{name: "not up to infinity", frames: []*frame{reconcileFrame(sc, floor0, wireRange{Upper: wireBound{Time: 9}, Mode: ModeFingerprint, FP: fp})}, reason: ReasonOpen},
		{name: "id listed twice", frames: []*frame{reconcileFrame(sc, floor0, wireRange{Upper: wireBound{Time: 9}, Mode: ModeIDList, IDs: append(id(2), append(id(1), id(1)...)...)}, wireRange{Upper: inf})}, reason: ReasonDuplicate},
		{name: "17 ranges in a first message", frames: []*frame{reconcileFrame(sc, floor0, seventeen(fp)...)}, reason: ReasonTooMany},
		{name: "33 ids in a first message", frames: []*frame{reconcileFrame(sc, floor0, wireRange{Upper: wireBound{Time: 9}, Mode: ModeIDList, IDs: distinctIDs(32, 10)}, wireRange{Upper: inf, Mode: ModeIDList, IDs: id(1)})}, reason: ReasonTooMany},
		{name: "want in a first turn", frames: []*frame{{Type: frameWant, Scope: sc[:], IDs: id(1)}}, reason: ReasonTooMany},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		seen[tc.reason] = true
		t.Run(tc.name, func(t *testing.T) {
			before := n.s.Counters()
			p := newRawPeer(t).open(n)
			var err error
			if tc.raw != nil {
				err = p.writeRaw(tc.raw)
			} else {
				err = p.send(append(tc.frames, endFrame)...)
			}
			if err == nil {
				err = p.drain()
			}
			assertDropped(t, n, before, figures{err: err}, tc.reason)
			after := n.s.Counters()
			delete(after.Malformed, tc.reason)
			delete(before.Malformed, tc.reason)
			if !maps.Equal(after.Malformed, before.Malformed) {
				t.Errorf("counted as %v, want only %s", after.Malformed, tc.reason)
			}
		})
	}
	for _, r := range []string{ReasonFrameSize, ReasonDecode, ReasonFrameType, ReasonFrameKeys, ReasonScope, ReasonBound, ReasonRange, ReasonIDs, ReasonOrder, ReasonOpen, ReasonDuplicate, ReasonTooMany} {
		if !seen[r] {
			t.Errorf("no case for %s", r)
		}
	}
}

func distinctIDs(n int, from byte) []byte {
	var out []byte
	for i := range n {
		x := make([]byte, 32)
		x[0], x[1] = from, byte(i)
		out = append(out, x...)
	}
	return out
}

func seventeen(fp []byte) []wireRange {
	var rs []wireRange
	for i := range 17 {
		rs = append(rs, wireRange{Upper: wireBound{Time: uint64(i + 1)}, Mode: ModeFingerprint, FP: fp})
	}
	rs[16].Upper = inf
	return rs
}
