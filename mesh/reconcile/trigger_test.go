package reconcile

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestDueMergesRequests(t *testing.T) {
	s := New(nil, Options{})
	p, q := peer.ID("p"), peer.ID("q")
	now := time.Now()

	s.wanted[p] = true
	if got := s.due(); len(got) != 1 || got[0] != p {
		t.Fatalf("a first urgent request: due = %v", got)
	}
	// p's sync has just started: another request waits for MinInterval.
	s.lastStart[p] = now
	s.wanted[p] = true
	if got := s.due(); len(got) != 0 {
		t.Fatalf("a request right after a sync: due = %v", got)
	}
	s.lastStart[p] = now.Add(-MinInterval)
	if got := s.due(); len(got) != 1 {
		t.Fatalf("after MinInterval: due = %v", got)
	}
	// A running sync absorbs requests.
	s.running[q] = make(chan struct{})
	s.wanted[q] = true
	if got := s.due(); len(got) != 0 {
		t.Fatalf("while running: due = %v", got)
	}

	// Lazy requests: after MinInterval, but one per LazyInterval.
	r := peer.ID("r")
	s.lastStart[r] = now.Add(-MinInterval)
	s.wanted[r] = false
	if got := s.due(); len(got) != 1 || got[0] != r {
		t.Fatalf("a first lazy request: due = %v", got)
	}
	s.lastStart[r] = now.Add(-2 * MinInterval)
	s.wanted[r] = false
	if got := s.due(); len(got) != 0 {
		t.Fatalf("a second lazy request within LazyInterval: due = %v", got)
	}
	// An urgent request is not held back by the lazy interval.
	s.wanted[r] = true
	if got := s.due(); len(got) != 1 {
		t.Fatalf("an urgent request after a lazy one: due = %v", got)
	}
}

func TestTriggerNowIgnoresInterval(t *testing.T) {
	s := New(nil, Options{})
	p := peer.ID("p")
	s.lastStart[p] = time.Now()
	s.TriggerNow(p)
	if got := <-s.trigger; got != p {
		t.Fatalf("triggered %v", got)
	}
	s.wanted[p] = true
	if got := s.due(); len(got) != 1 {
		t.Fatalf("a sync asked for now waits for the interval: due = %v", got)
	}
}

// clock is a scheduler clock that moves only when told.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClocked() (*Syncer, *clock) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	return New(nil, Options{Now: c.now}), c
}

func TestMetSyncsAgainAfterSettling(t *testing.T) {
	s, c := newClocked()
	p := peer.ID("p")
	s.Met(p)
	s.wanted[<-s.trigger] = true
	if got := s.due(); len(got) != 1 || got[0] != p {
		t.Fatalf("meeting a peer: due = %v", got)
	}
	s.lastStart[p] = c.now()
	c.add(MeshSettle - time.Millisecond)
	if got := s.due(); len(got) != 0 {
		t.Fatalf("before the mesh settled: due = %v", got)
	}
	c.add(time.Millisecond)
	if got := s.due(); len(got) != 1 || got[0] != p {
		t.Fatalf("once the mesh settled: due = %v", got)
	}
}

func TestRetryWaits(t *testing.T) {
	s, c := newClocked()
	p := peer.ID("p")
	s.after(p, retryDelay, true)
	if got := s.due(); len(got) != 0 {
		t.Fatalf("a retry ran at once: due = %v", got)
	}
	c.add(retryDelay)
	if got := s.due(); len(got) != 1 {
		t.Fatalf("a retry after its delay: due = %v", got)
	}
	for range maxRetries {
		if !s.retry(p) {
			t.Fatal("gave up too early")
		}
	}
	if s.retry(p) {
		t.Fatalf("more than %d retries in a row", maxRetries)
	}
}

type noScopes struct{ Store }

func (noScopes) Scopes() []Scope { return nil }

// SyncPeer called while a sync with the peer runs waits for it and then
// runs its own, instead of failing.
func TestSyncPeerWaitsForRunningSync(t *testing.T) {
	s := New(nil, Options{Store: noScopes{}})
	p := peer.ID("p")
	running := make(chan struct{})
	s.running[p] = running
	done := make(chan error, 1)
	go func() {
		_, err := s.SyncPeer(context.Background(), p)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("SyncPeer returned while another sync ran: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	s.mu.Lock()
	delete(s.running, p)
	s.mu.Unlock()
	close(running)
	if err := <-done; err != nil {
		t.Fatalf("SyncPeer after the running sync ended: %v", err)
	}
}

// What the syncer keeps per peer goes when the peer disconnects: a stream
// of peers that come and go leaves nothing behind.
func TestPeerStateFreedOnDisconnect(t *testing.T) {
	a := startNode(t, newTestStore())
	b := startNode(t, newTestStore())
	connect(t, a.h, b.h)
	a.s.Trigger(b.h.ID())
	a.s.TriggerLazy(b.h.ID())
	waitFor(t, "a's sync with b to have run", func() bool { return a.s.peerState() > 0 })
	if err := a.h.Network().ClosePeer(b.h.ID()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a to forget b", func() bool { return a.s.peerState() == 0 })
}

// A sync being answered when the syncer stops ends before Serve returns.
func TestServeWaitsForAnsweringSyncs(t *testing.T) {
	st := newTestStore()
	st.addScope(scopeOf(1), 10, 64, 1)
	h := newTestHost(t)
	s := New(h, Options{Store: st, Logger: quietLogger(), Interval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.Serve(ctx)
		close(done)
	}()
	waitFor(t, "the sync handler", func() bool { return slices.Contains(h.Mux().Protocols(), ProtocolID) })
	// A peer that opens a sync and then says nothing keeps it waiting.
	p := newRawPeer(t).open(&node{h: h, s: s, st: st})
	if err := p.writeRaw(nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the answering sync to start", func() bool { return s.answering() == 1 })
	cancel()
	<-done
	if n := s.answering(); n != 0 {
		t.Fatalf("%d answering syncs outlived Serve", n)
	}
}

// A node syncing one scope with two peers at once takes each event once:
// the second sync leaves the scope out while the first holds it, and the
// node syncs with that peer again once it is free.
func TestOneSyncPerScope(t *testing.T) {
	sc := scopeOf(1)
	stA, stC, stB := newTestStore(), newTestStore(), newTestStore()
	stA.addScope(sc, 3000, 200, 1)
	stC.addScope(sc, 3000, 200, 1)
	stB.addScope(sc, 0, 200, 2)
	release := make(chan struct{})
	var entered atomic.Bool
	stB.acceptGate = func() {
		entered.Store(true)
		<-release
	}
	a, c, b := startNode(t, stA), startNode(t, stC), startNode(t, stB)
	// Cleanups run last first: the gate opens before the nodes stop.
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	t.Cleanup(open)
	connect(t, b.h, a.h)
	connect(t, b.h, c.h)
	b.s.Trigger(a.h.ID())
	b.s.Trigger(c.h.ID())
	running := func() int {
		b.s.mu.Lock()
		defer b.s.mu.Unlock()
		return len(b.s.running)
	}
	waitFor(t, "one sync to bring events", entered.Load)
	// The other sync ends without the scope, rather than bring it too.
	waitFor(t, "the second sync to leave the scope out", func() bool { return running() == 1 })
	open()
	waitFor(t, "B to hold everything", func() bool { return stB.count(sc) == 3000 })
	waitFor(t, "B to be synced with both", func() bool {
		return stB.syncedWith(sc, a.h.ID()) && stB.syncedWith(sc, c.h.ID())
	})
	if d := stB.dups.Load(); d != 0 {
		t.Errorf("B was sent %d events it already had", d)
	}
}

// Relays, which hold the most, are synced first when several peers are
// due.
func TestDuePrefersRelays(t *testing.T) {
	relay := peer.ID("relay")
	s := New(nil, Options{Prefer: func(p peer.ID) bool { return p == relay }})
	for i := range 20 {
		s.wanted[peer.ID(fmt.Sprint("p", i))] = true
	}
	s.wanted[relay] = true
	got := s.due()
	if len(got) != 21 || got[0] != relay {
		t.Fatalf("due = %v, want the relay first of 21", got)
	}
}
