package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/store"
	"github.com/banyan-mesh/banyan/store/safefile"
)

// seqsBy returns the sequence numbers of author's messages in g's history
// on n, with the IDs found at each.
func seqsBy(t *testing.T, n *nodetest.Node, g *groupchat.Group, author []byte) map[uint64][]string {
	t.Helper()
	msgs, _, err := n.Groups().History(nodetest.GroupOn(t, n, g), store.Cursor{}, 100000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint64][]string{}
	for _, m := range msgs {
		if string(m.Event.Author) == string(author) {
			out[m.Event.Seq] = append(out[m.Event.Seq], m.Event.ID.String())
		}
	}
	return out
}

// A store that lost the newest writes of the node's own chain (here: put
// back to a copy taken three messages earlier) does not make the node
// reuse their sequence numbers: the newest comes back from the chain's
// mark, the next message follows it, and the ones in between come back
// from a peer. Nobody ever holds two messages at one (author, seq).
func TestLostStoreTailReusesNoSequence(t *testing.T) {
	aHome := home.Home(t.TempDir())
	bHome := home.Home(t.TempDir())
	a := nodetest.Start(t, aHome)
	b := nodetest.Start(t, bHome, a.Info())
	g := nodetest.JoinAll(t, []*nodetest.Node{a, b})
	me, err := crypto.PublicKeyFromPeerID(a.ID())
	if err != nil {
		t.Fatal(err)
	}
	sent := nodetest.SendN(t, a, g, 3, "before the snapshot %d")
	a.Stop()
	restore := nodetest.SnapshotStore(t, aHome)

	a = nodetest.Start(t, aHome, b.Info())
	sent = append(sent, nodetest.SendN(t, a, g, 3, "lost from the store %d")...)
	nodetest.Eventually(t, 20*time.Second, "b to hold all six", func() (bool, string) { return nodetest.HasAll(t, b, g, sent) })
	a.Stop()
	b.Stop()
	restore()

	// The simulation is real: the store's chain ends three messages early.
	st, err := store.Open(store.Options{Dir: aHome.StoreDir(), Logger: nodetest.QuietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	seq, _, err := st.Head(g.Scope(), me)
	st.Close()
	if err != nil || seq != 3 {
		t.Fatalf("the restored store's head is %d (%v), want 3", seq, err)
	}

	// Alone, a continues after the newest message it had published.
	a = nodetest.Start(t, aHome)
	if have := nodetest.HistoryIDs(t, a, g); !slices.Contains(have, sent[5]) {
		t.Fatalf("the newest message was not restored from the mark: %d messages", len(have))
	}
	next := nodetest.SendN(t, a, g, 1, "after the loss %d")
	if s := seqsBy(t, a, g, me); len(s[7]) != 1 || s[7][0] != next[0] {
		t.Fatalf("the message after the loss is not at seq 7: %v", s)
	}
	sent = append(sent, next...)

	b = nodetest.Start(t, bHome, a.Info())
	for name, n := range map[string]*nodetest.Node{"a": a, "b": b} {
		nodetest.Eventually(t, 20*time.Second, name+" to hold all seven", func() (bool, string) { return nodetest.HasAll(t, n, g, sent) })
		s := seqsBy(t, n, g, me)
		for seq := uint64(1); seq <= 7; seq++ {
			if len(s[seq]) != 1 {
				t.Errorf("%s holds %d messages at seq %d: %v", name, len(s[seq]), seq, s[seq])
			}
		}
		if len(s) != 7 {
			t.Errorf("%s holds a's messages at %d positions, want 7", name, len(s))
		}
	}
}

// A damaged mark refuses writes to its chain, with a clear error, rather
// than guess which sequence numbers were used; other chains are written.
func TestDamagedMarkRefusesWrites(t *testing.T) {
	h := home.Home(t.TempDir())
	n := nodetest.Start(t, h)
	scope, other := randomScope(t), randomScope(t)
	ctx := context.Background()
	write := func(r *engine.Replica) (*event.Event, error) {
		return r.Write(ctx, func(p engine.Position) (event.Body, error) { return p.Body(testKind, []byte("ok")), nil })
	}
	keep := func(s event.Scope) *engine.Replica {
		r, err := n.Engine().Keep(engine.Spec{Scope: s, Topic: groupchat.TopicName(s), Kinds: []event.Kind{testKind}, Feature: &recorder{}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := keep(scope)
	if _, err := write(r); err != nil {
		t.Fatal(err)
	}
	r.Close()
	path := filepath.Join(h.ChainsDir(), scope.String())
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no mark after a write: %v", err)
	}
	damageMark(t, path)
	r = keep(scope)
	defer r.Close()
	if _, err := write(r); !errors.Is(err, engine.ErrChainMark) {
		t.Fatalf("write over a damaged mark: %v", err)
	}
	o := keep(other)
	defer o.Close()
	if e, err := write(o); err != nil || e.Seq != 1 {
		t.Fatalf("another chain: %v, %v", e, err)
	}
}

// BenchmarkOwnWrite measures one write of the node's own chain on disk:
// sign, mark (fsynced), store (fsynced), publish to no one.
func BenchmarkOwnWrite(b *testing.B) {
	n := nodetest.Start(b, "")
	scope := randomScope(b)
	r, err := n.Engine().Keep(engine.Spec{Scope: scope, Topic: groupchat.TopicName(scope), Kinds: []event.Kind{testKind}, Feature: &recorder{}})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	for b.Loop() {
		if _, err := r.Write(ctx, func(p engine.Position) (event.Body, error) { return p.Body(testKind, []byte("ok")), nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteWhileStoring sends a message from a node whose store is
// busy with batches of another scope's history, as while it catches up
// with a peer, and waits for the message to be stored by a second node.
// It reports the send call's time and the time until the other node holds
// the message, medians and 99th percentiles.
func BenchmarkWriteWhileStoring(b *testing.B) {
	a := nodetest.Start(b, "")
	c := nodetest.Start(b, "", a.Info())
	g := nodetest.JoinAll(b, []*nodetest.Node{a, c})
	ga := nodetest.GroupOn(b, a, g)

	// History of another scope, stored in batches of 1,000 meanwhile.
	author, err := crypto.NewIdentity()
	if err != nil {
		b.Fatal(err)
	}
	scope := randomScope(b)
	const batch, batches = 1000, 40
	history := make([]*event.Event, 0, batch*batches)
	var prev event.ID
	for i := range batch * batches {
		p := engine.Position{Scope: scope, Seq: uint64(i + 1), Prev: prev, Time: time.Now().UnixMilli() + int64(i)}
		ev, err := event.Sign(author, p.Body(testKind, bytes.Repeat([]byte("h"), 400)))
		if err != nil {
			b.Fatal(err)
		}
		history, prev = append(history, ev), ev.ID
	}
	ctx, cancel := context.WithCancel(context.Background())
	var background sync.WaitGroup
	background.Go(func() {
		for i := 0; ctx.Err() == nil; i = (i + 1) % batches {
			if _, err := a.Store().PutEvents(history[i*batch:(i+1)*batch], store.PutOptions{Source: c.ID()}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	defer func() {
		cancel()
		background.Wait()
	}()

	// The receiver notes when each event arrives, while the sender may
	// still be in its send call.
	var (
		mu      sync.Mutex
		arrived = map[event.ID]time.Time{}
		news    = make(chan struct{}, 1)
	)
	background.Go(func() {
		var seq uint64
		for ctx.Err() == nil {
			changed := c.Store().Notify()
			as, err := c.Store().ArrivalsSince(seq, 1000)
			if err != nil {
				b.Error(err)
				return
			}
			now := time.Now()
			mu.Lock()
			for _, a := range as {
				if a.Event != nil {
					arrived[a.Event.ID] = now
				}
				seq = a.Seq
			}
			mu.Unlock()
			if len(as) > 0 {
				select {
				case news <- struct{}{}:
				default:
				}
			}
			select {
			case <-changed:
			case <-ctx.Done():
			}
		}
	})
	var calls, arrivals []time.Duration
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		m, err := a.Groups().Send(ctx, ga, fmt.Sprintf("while storing %d", i))
		if err != nil {
			b.Fatal(err)
		}
		calls = append(calls, time.Since(start))
		deadline := time.After(20 * time.Second)
		for {
			mu.Lock()
			at, ok := arrived[m.Event.ID]
			mu.Unlock()
			if ok {
				arrivals = append(arrivals, at.Sub(start))
				break
			}
			select {
			case <-news:
			case <-deadline:
				b.Fatalf("message %d did not arrive", i)
			}
		}
	}
	for _, q := range []struct {
		name string
		d    []time.Duration
	}{{"send", calls}, {"arrival", arrivals}} {
		slices.Sort(q.d)
		b.ReportMetric(float64(q.d[len(q.d)/2].Microseconds())/1000, q.name+"-p50-ms")
		b.ReportMetric(float64(q.d[len(q.d)*99/100].Microseconds())/1000, q.name+"-p99-ms")
	}
}

// A damaged mark over a store that also lost its newest writes is set
// again by 'check --repair-marks' only after a sync with a peer of the
// chain: refused while none is connected, then set at the newest message
// the peer gave back, so that the next message takes a number never used.
func TestRepairMarksAfterSyncWithPeers(t *testing.T) {
	aHome, bHome := home.Home(t.TempDir()), home.Home(t.TempDir())
	a := nodetest.Start(t, aHome)
	b := nodetest.Start(t, bHome, a.Info())
	g := nodetest.JoinAll(t, []*nodetest.Node{a, b})
	me, err := crypto.PublicKeyFromPeerID(a.ID())
	if err != nil {
		t.Fatal(err)
	}
	sent := nodetest.SendN(t, a, g, 3, "kept %d")
	nodetest.Eventually(t, 20*time.Second, "b to hold three", func() (bool, string) { return nodetest.HasAll(t, b, g, sent) })
	a.Stop()
	restore := nodetest.SnapshotStore(t, aHome)
	a = nodetest.Start(t, aHome, b.Info())
	sent = append(sent, nodetest.SendN(t, a, g, 2, "lost from the store %d")...)
	nodetest.Eventually(t, 20*time.Second, "b to hold five", func() (bool, string) { return nodetest.HasAll(t, b, g, sent) })
	a.Stop()
	b.Stop()
	restore()
	mark := filepath.Join(aHome.ChainsDir(), g.Scope().String())
	damageMark(t, mark)

	ctx := context.Background()
	repair := api.CheckRequest{RepairMarks: true}
	a = nodetest.Start(t, aHome)
	if _, err := a.Groups().Send(ctx, nodetest.GroupOn(t, a, g), "refused"); !errors.Is(err, engine.ErrChainMark) {
		t.Fatalf("a write over a damaged mark: %v", err)
	}
	ch, err := a.Client(t).Check(ctx, repair)
	if err != nil || len(ch.Marks) != 1 || !strings.Contains(ch.Marks[0].Error, "no peer") || len(ch.DamagedMarks) != 1 {
		t.Fatalf("repair with no peer: %+v, %v", ch, err)
	}
	if _, err := a.Groups().Send(ctx, nodetest.GroupOn(t, a, g), "refused"); !errors.Is(err, engine.ErrChainMark) {
		t.Fatalf("a write after a refused repair: %v", err)
	}

	b = nodetest.Start(t, bHome, a.Info())
	nodetest.Eventually(t, 20*time.Second, "a to see b in the group", func() (bool, string) {
		peers, _ := a.Groups().TopicPeers(nodetest.GroupOn(t, a, g))
		return peers > 0, "no topic peer"
	})
	ch, err = a.Client(t).Check(ctx, repair)
	if err != nil || len(ch.Marks) != 1 || ch.Marks[0].Error != "" || ch.Marks[0].Seq != 5 || ch.Marks[0].Peers != 1 || len(ch.DamagedMarks) != 0 {
		t.Fatalf("repair with b: %+v, %v", ch, err)
	}
	if _, err := os.Stat(mark + ".damaged"); err != nil {
		t.Fatalf("the damaged mark was not kept aside: %v", err)
	}
	next := nodetest.SendN(t, a, g, 1, "after the repair %d")
	sent = append(sent, next...)
	for name, n := range map[string]*nodetest.Node{"a": a, "b": b} {
		nodetest.Eventually(t, 20*time.Second, name+" to hold all six", func() (bool, string) { return nodetest.HasAll(t, n, g, sent) })
		s := seqsBy(t, n, g, me)
		for seq := uint64(1); seq <= 6; seq++ {
			if len(s[seq]) != 1 {
				t.Errorf("%s holds %d messages at seq %d: %v", name, len(s[seq]), seq, s[seq])
			}
		}
		if s[6][0] != next[0] {
			t.Errorf("%s: the message after the repair is not at seq 6: %v", name, s)
		}
	}
}

// Every event this node published is on disk at every moment: in its
// chain's mark, or in the store, covered by a store sync that completed.
// Writers run concurrently, so that syncs are shared and the mark moves
// while one runs.
func TestPublishedEventsAreAlwaysOnDisk(t *testing.T) {
	h := home.Home(t.TempDir())
	n := nodetest.Start(t, h)
	scope := randomScope(t)
	me, err := crypto.PublicKeyFromPeerID(n.ID())
	if err != nil {
		t.Fatal(err)
	}
	// durable is the head of the chain in the store when the newest
	// completed sync began: what that sync made durable.
	var durable atomic.Uint64
	engine.WrapStoreSync(n.Engine(), func(sync func() error) func() error {
		return func() error {
			head, _, err := n.Store().Head(scope, me)
			if err != nil {
				return err
			}
			if err := sync(); err != nil {
				return err
			}
			for {
				d := durable.Load()
				if head <= d || durable.CompareAndSwap(d, head) {
					return nil
				}
			}
		}
	})
	r, err := n.Engine().Keep(engine.Spec{Scope: scope, Topic: groupchat.TopicName(scope), Kinds: []event.Kind{testKind}, Feature: &recorder{}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 25 {
				ev, err := r.Write(ctx, func(p engine.Position) (event.Body, error) { return p.Body(testKind, []byte("ok")), nil })
				if err != nil {
					t.Error(err)
					return
				}
				// The mark first: durable only grows, so a later reading
				// of it is no smaller than it was when the mark was read.
				raw, _, err := safefile.ReadSlotted(filepath.Join(h.ChainsDir(), scope.String()))
				if err != nil {
					t.Errorf("no mark: %v", err)
					return
				}
				marked, err := engine.MarkSeqs(raw)
				if err != nil {
					t.Errorf("mark: %v", err)
					return
				}
				d := durable.Load()
				newest := marked[len(marked)-1]
				if newest < ev.Seq {
					t.Errorf("the mark ends at %d after event %d was written", newest, ev.Seq)
					return
				}
				for seq := d + 1; seq <= newest; seq++ {
					if !slices.Contains(marked, seq) {
						t.Errorf("event %d is on disk nowhere: the store is synced up to %d, the mark holds %v", seq, d, marked)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// damageMark flips a byte in both copies of a chain's mark file, as a
// damaged disk would.
func damageMark(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for at := 20; at < len(b); at += safefile.SlotSpan {
		b[at] ^= 0x40
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestABurstSharesStoreSyncs writes a burst of events one after another:
// each is durable in the chain's mark at once, so the store's sync runs
// once per few writes, not once per write, and the last few, which fill
// no quarter of a mark, are synced shortly after by the engine's follow-up.
func TestABurstSharesStoreSyncs(t *testing.T) {
	n := nodetest.Start(t, home.Home(t.TempDir()))
	scope := randomScope(t)
	me, err := crypto.PublicKeyFromPeerID(n.ID())
	if err != nil {
		t.Fatal(err)
	}
	var syncs atomic.Int64
	var durable atomic.Uint64 // the chain's head when the newest sync began
	engine.WrapStoreSync(n.Engine(), func(sync func() error) func() error {
		return func() error {
			head, _, err := n.Store().Head(scope, me)
			if err != nil {
				return err
			}
			syncs.Add(1)
			if err := sync(); err != nil {
				return err
			}
			durable.Store(max(durable.Load(), head))
			return nil
		}
	})
	r, err := n.Engine().Keep(engine.Spec{Scope: scope, Topic: groupchat.TopicName(scope), Kinds: []event.Kind{testKind}, Feature: &recorder{}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const writes = 60 // not a multiple of 8: the last four wait for the follow-up
	before := syncs.Load()
	start := time.Now()
	for range writes {
		if _, err := r.Write(context.Background(), func(p engine.Position) (event.Body, error) { return p.Body(testKind, []byte("ok")), nil }); err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(start)
	nodetest.Eventually(t, 10*time.Second, "the burst's last write synced in the store", func() (bool, string) {
		d := durable.Load()
		return d == writes, fmt.Sprintf("synced up to %d of %d", d, writes)
	})
	// One sync per quarter of a mark (8 events), one per follow-up tick
	// during the burst (250 ms), one more while a sync ran, and the last.
	limit := int64(writes/8 + int(took/(250*time.Millisecond)) + 2)
	if s := syncs.Load() - before; s > limit {
		t.Errorf("%d store syncs for %d writes in %v, want at most %d", s, writes, took, limit)
	}
}

// An event the store fails to write after it was published has left the
// node and stays sent: the chain's mark keeps it, and the next write
// stores it from there before its own event, so the author's history has
// no gap, no number is used twice, and the feature hears of both.
func TestAnEventSentButNotStoredIsStoredFromTheMark(t *testing.T) {
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	g := nodetest.JoinAll(t, []*nodetest.Node{a, b})
	failed := errors.New("the disk failed")
	var fail atomic.Bool
	engine.WrapStoreOwn(a.Engine(), func(put func(*event.Event) error) func(*event.Event) error {
		return func(ev *event.Event) error {
			if fail.CompareAndSwap(true, false) {
				return failed
			}
			return put(ev)
		}
	})
	ctx := context.Background()
	ga := nodetest.GroupOn(t, a, g)
	fail.Store(true)
	lost, err := a.Groups().Send(ctx, ga, "sent, not stored")
	if err != nil {
		t.Fatalf("a write published before its store write failed: %v", err)
	}
	if fail.Load() {
		t.Fatal("the write did not reach the store")
	}
	if has, err := a.Store().HasEvent(lost.Event.ID); err != nil || has {
		t.Fatalf("the failed store write holds the event: %v %v", has, err)
	}
	nodetest.Eventually(t, 20*time.Second, "b to receive the event a could not store", func() (bool, string) {
		return nodetest.HasAll(t, b, g, []string{lost.Event.ID.String()})
	})
	next, err := a.Groups().Send(ctx, ga, "the next one")
	if err != nil {
		t.Fatal(err)
	}
	if next.Event.Seq != lost.Event.Seq+1 || next.Event.PrevID() != lost.Event.ID {
		t.Fatalf("the next event is at %d after %s, want %d after %s", next.Event.Seq, next.Event.PrevID(), lost.Event.Seq+1, lost.Event.ID)
	}
	if ok, missing := nodetest.HasAll(t, a, g, []string{lost.Event.ID.String(), next.Event.ID.String()}); !ok {
		t.Fatalf("a's own history: %s", missing)
	}
	me, err := crypto.PublicKeyFromPeerID(a.ID())
	if err != nil {
		t.Fatal(err)
	}
	if seqs := seqsBy(t, a, g, me); len(seqs[lost.Event.Seq]) != 1 || len(seqs[next.Event.Seq]) != 1 {
		t.Fatalf("a's chain in its history: %v", seqs)
	}
}
