package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/store"
)

func TestMain(m *testing.M) { nodetest.VerifyNoLeaks(m) }

// recorder is a feature that accepts payloads starting with "ok" and
// records what was stored.
type recorder struct {
	mu     sync.Mutex
	stored []*event.Event
	local  int
}

func (r *recorder) Check(e *event.Event) error {
	if !bytes.HasPrefix(e.Payload, []byte("ok")) {
		return engine.Reject(engine.ReasonBody, errors.New("not ok"))
	}
	return nil
}

func (r *recorder) Stored(evs []*event.Event, origin engine.Origin) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stored = append(r.stored, evs...)
	if origin == engine.Local {
		r.local += len(evs)
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.stored)
}

const testKind event.Kind = 900

func randomScope(t testing.TB) event.Scope {
	t.Helper()
	key, err := crypto.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return event.Scope(key)
}

func sign(t *testing.T, id *crypto.Identity, b event.Body) *event.Event {
	t.Helper()
	e, err := event.Sign(id, b)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Every envelope of a batch goes through the same checks as gossip, and
// each outcome is counted under its reason; only what passes is stored
// and handed to the feature.
func TestAcceptChecksEveryEnvelope(t *testing.T) {
	n := nodetest.Start(t, "")
	rec := &recorder{}
	scope, other := randomScope(t), randomScope(t)
	floor := store.Cursor{Time: time.Now().Add(-time.Hour).UnixMilli()}
	r, err := n.Engine().Keep(engine.Spec{Scope: scope, Topic: groupchat.TopicName(scope), Kinds: []event.Kind{testKind}, Feature: rec, Floor: func() store.Cursor { return floor }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := n.Engine().Keep(engine.Spec{Scope: scope}); err == nil {
		t.Fatal("a scope was kept twice")
	}
	author, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	body := func(edit func(*event.Body)) []byte {
		b := event.Body{Scope: scope[:], Seq: 1, Time: now, Kind: testKind, Payload: []byte("ok")}
		edit(&b)
		return sign(t, author, b).Raw
	}
	good := body(func(b *event.Body) {})
	badSig := bytes.Clone(body(func(b *event.Body) { b.Payload = []byte("ok, signed") }))
	badSig[10] ^= 1
	batch := [][]byte{
		good,
		good, // a duplicate in the same batch is ignored
		body(func(b *event.Body) { b.Scope = other[:] }),
		body(func(b *event.Body) { b.Kind = event.KindGroupMessage }),
		body(func(b *event.Body) { b.Time = now + int64(engine.MaxClockSkew/time.Millisecond) + 60_000 }),
		body(func(b *event.Body) { b.Time = engine.MinTime - 1 }),
		body(func(b *event.Body) { b.Time = floor.Time - 1 }), // below the floor: ignored
		body(func(b *event.Body) { b.Payload = []byte("not ok") }),
		badSig,
		[]byte("garbage"),
		body(func(b *event.Body) { b.Seq = 2; b.Prev = make([]byte, 32); b.Payload = []byte("ok 2") }),
	}
	stored, rejected, err := r.Accept(batch)
	if err != nil {
		t.Fatal(err)
	}
	// An event from the future is counted but not held against the peer
	// (this node's clock may be the wrong one).
	if stored != 2 || rejected != 6 {
		t.Fatalf("stored %d, rejected %d; want 2 and 6", stored, rejected)
	}
	if rec.count() != 2 {
		t.Fatalf("the feature heard of %d events, want 2", rec.count())
	}
	want := map[string]uint64{
		engine.ReasonScope: 1, engine.ReasonKind: 1, engine.ReasonFuture: 1, engine.ReasonTime: 1,
		engine.ReasonBody: 1, engine.ReasonSignature: 1, engine.ReasonMalformed: 1,
		engine.ReasonDuplicate: 1, engine.ReasonPruned: 1,
	}
	got := n.Stats().Rejected()
	for reason, c := range want {
		if got[reason] != c {
			t.Errorf("%s counted %d times, want %d (all: %v)", reason, got[reason], c, got)
		}
	}
	// Sent again, everything stored is a duplicate and costs nothing.
	if stored, rejected, err := r.Accept(batch[:1]); err != nil || stored != 0 || rejected != 0 {
		t.Fatalf("second accept: %d stored, %d rejected, %v", stored, rejected, err)
	}
	// Signatures are checked in chunks: one bad signature spoils no other
	// event of its chunk or of the batch.
	var long [][]byte
	for i := range 40 {
		long = append(long, body(func(b *event.Body) { b.Payload = fmt.Appendf(nil, "ok %d", i) }))
	}
	long[33] = bytes.Clone(long[33])
	long[33][12] ^= 1
	if stored, rejected, err := r.Accept(long); err != nil || stored != 39 || rejected != 1 {
		t.Fatalf("a long batch with one bad signature: %d stored, %d rejected, %v", stored, rejected, err)
	}
}

// Write appends to this node's chain: sequence numbers follow each other,
// each event names the one before, times only go up, and a body built for
// another position is refused.
func TestWriteKeepsTheChain(t *testing.T) {
	n := nodetest.Start(t, "")
	rec := &recorder{}
	scope := randomScope(t)
	r, err := n.Engine().Keep(engine.Spec{Scope: scope, Topic: groupchat.TopicName(scope), Kinds: []event.Kind{testKind}, Feature: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	var prev *event.Event
	for i := range 5 {
		e, err := r.Write(ctx, func(p engine.Position) (event.Body, error) {
			return p.Body(testKind, fmt.Appendf(nil, "ok %d", i)), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
		if prev != nil && (e.PrevID() != prev.ID || e.Time <= prev.Time) {
			t.Fatalf("event %d does not follow the one before (prev %s, time %d after %d)", i, e.PrevID(), e.Time, prev.Time)
		}
		if has, err := n.Store().HasEvent(e.ID); err != nil || !has {
			t.Fatalf("written event not stored: %v", err)
		}
		prev = e
	}
	if rec.local != 5 {
		t.Fatalf("the feature heard of %d local writes, want 5", rec.local)
	}
	_, err = r.Write(ctx, func(p engine.Position) (event.Body, error) {
		p.Seq++ // as a writer that missed an event of its own would
		return p.Body(testKind, []byte("ok")), nil
	})
	if !errors.Is(err, engine.ErrPosition) {
		t.Fatalf("a body for the wrong position: %v", err)
	}
	boom := errors.New("refused")
	if _, err := r.Write(ctx, func(engine.Position) (event.Body, error) { return event.Body{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("build's error: %v", err)
	}
}

// A node can keep a group it cannot read: it checks signatures, scope and
// size, stores the members' messages and serves them, and holds no key and
// no text.
func TestKeepWithoutOpening(t *testing.T) {
	a := nodetest.Start(t, "")
	relay := nodetest.Start(t, "", a.Info())
	g, err := a.Groups().Create("school")
	if err != nil {
		t.Fatal(err)
	}
	scope := g.Scope()
	r, err := relay.Engine().Keep(engine.Spec{Scope: scope, Topic: groupchat.TopicName(scope), Kinds: []event.Kind{event.KindGroupMessage}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sent := nodetest.SendN(t, a, g, 5, "homework for day %d")
	nodetest.Eventually(t, 20*time.Second, "the relay to keep the group's messages", func() (bool, string) {
		n, err := relay.Store().CountAfter(scope, store.Cursor{})
		return n == len(sent), fmt.Sprint(n, err)
	})
	invite := a.Groups().Invite(g).String()
	a.Stop()

	// A new member who meets only the relay gets the whole history.
	b := nodetest.Start(t, "", relay.Info())
	in, err := groupchat.ParseInvite(invite)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Groups().Join(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 30*time.Second, "b to get the history from the relay", func() (bool, string) {
		return nodetest.HasAll(t, b, g, sent)
	})
	if found := nodetest.ScanFor(t, relay, map[string][]byte{"the group key": g.Key[:], "a text": []byte("homework")}); len(found) > 0 {
		t.Fatalf("the relay's store holds %v", found)
	}
}

// A peer that sends more than its share is throttled, then disconnected
// and refused for a while; others are not affected.
func TestFloodingPeerIsThrottledThenDisconnected(t *testing.T) {
	victim := nodetest.Start(t, "")
	honest := nodetest.Start(t, "", victim.Info())
	h, _ := nodetest.RawHost(t, victim)
	ctx := context.Background()
	// Junk on the direct stream, as fast as it goes.
	sent := 0
	for ; sent < 1000; sent++ {
		if err := mesh.SendDirect(ctx, h, mesh.DirectProtocol, victim.ID(), []byte("junk")); err != nil && !errors.Is(err, mesh.ErrRefused) {
			break // disconnected
		}
	}
	if sent == 1000 {
		t.Fatal("a peer sent 1000 junk envelopes in a row and was not disconnected")
	}
	if got := victim.Stats().Rejected()[engine.ReasonThrottled]; got == 0 {
		t.Fatal("nothing was counted as throttled")
	}
	// Trying again, the flooder may see its handshake through, but the
	// victim drops the connection.
	_ = h.Connect(ctx, victim.Info())
	nodetest.Eventually(t, 10*time.Second, "the victim to refuse the flooder", func() (bool, string) {
		return h.Network().Connectedness(victim.ID()) != network.Connected && len(victim.Host().Network().ConnsToPeer(h.ID())) == 0, "still connected"
	})
	// The honest peer is still connected.
	if victim.Host().Network().Connectedness(honest.ID()) != network.Connected {
		t.Fatal("the honest peer lost its connection")
	}
	t.Logf("disconnected after %d envelopes", sent)
}

// On the direct stream, as by gossip, an event stored by a sync a moment
// ago is dropped as a duplicate, and one evicted here is not stored again
// nor handed to the feature: the path before forwarding asks only what is
// in memory, and the store refuses ghosts itself.
func TestCopiesOnTheDirectStreamAreDropped(t *testing.T) {
	n := nodetest.Start(t, "")
	rec := &recorder{}
	scope := randomScope(t)
	r, err := n.Engine().Keep(engine.Spec{Scope: scope, Topic: groupchat.TopicName(scope), Kinds: []event.Kind{testKind}, Feature: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	author, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	kept := sign(t, author, event.Body{Scope: scope[:], Seq: 1, Time: now, Kind: testKind, Payload: []byte("ok kept")})
	evicted := sign(t, author, event.Body{Scope: scope[:], Seq: 2, Prev: kept.ID[:], Time: now + 1, Kind: testKind, Payload: []byte("ok evicted")})
	if stored, _, err := r.Accept([][]byte{kept.Raw, evicted.Raw}); err != nil || stored != 2 {
		t.Fatalf("accept: %d stored, %v", stored, err)
	}
	if err := n.Store().Forget(scope, []store.Cursor{store.CursorOf(evicted)}); err != nil {
		t.Fatal(err)
	}
	h, _ := nodetest.RawHost(t, n)
	ctx := t.Context()
	dups := n.Stats().Rejected()[engine.ReasonDuplicate]
	for _, e := range []*event.Event{kept, evicted} {
		if err := mesh.SendDirect(ctx, h, mesh.DirectProtocol, n.ID(), e.Raw); err != nil {
			t.Errorf("seq %d: %v", e.Seq, err)
		}
	}
	if got := n.Stats().Rejected()[engine.ReasonDuplicate] - dups; got != 2 {
		t.Errorf("%d copies counted as duplicates, want 2", got)
	}
	if has, _ := n.Store().HasEvent(evicted.ID); has {
		t.Error("the evicted event is stored again")
	}
	if rec.count() != 2 {
		t.Errorf("the feature heard of %d events, want the 2 first accepted", rec.count())
	}
}

// An event from gossip whose predecessor this node holds is no gap; one
// whose predecessor it lacks is watched, so that the node syncs with the
// peer that forwarded it if the predecessor is still missing a little
// later.
func TestAGapIsWatched(t *testing.T) {
	n := nodetest.Start(t, home.Home(t.TempDir()))
	scope := randomScope(t)
	r, err := n.Engine().Keep(engine.Spec{Scope: scope, Topic: groupchat.TopicName(scope), Kinds: []event.Kind{testKind}, Feature: &recorder{}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	first, err := r.Write(context.Background(), func(p engine.Position) (event.Body, error) { return p.Body(testKind, []byte("ok")), nil })
	if err != nil {
		t.Fatal(err)
	}
	author, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	from := peer.ID("forwarder")
	after := func(prev event.ID) *event.Event {
		return sign(t, author, engine.Position{Scope: scope, Seq: 2, Prev: prev, Time: first.Time + 1}.Body(testKind, []byte("ok")))
	}
	engine.WatchGap(n.Engine(), from, after(first.ID))
	if g := engine.Gaps(n.Engine()); g != 0 {
		t.Fatalf("%d gaps after an event whose predecessor is stored, want 0", g)
	}
	var lost event.ID
	lost[0] = 1
	engine.WatchGap(n.Engine(), from, after(lost))
	if g := engine.Gaps(n.Engine()); g != 1 {
		t.Fatalf("%d gaps after an event whose predecessor is missing, want 1", g)
	}
}
