package relay_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/node/relay"
)

// writer signs a chain of events of about 1 KiB in a scope.
type writer struct {
	id    *crypto.Identity
	scope event.Scope
	seq   uint64
	prev  event.ID
	evs   []*event.Event
}

func newWriter(t *testing.T, scope event.Scope) *writer {
	t.Helper()
	id, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return &writer{id: id, scope: scope}
}

func (w *writer) write(t *testing.T, n int, at time.Time) [][]byte {
	t.Helper()
	var raws [][]byte
	for i := range n {
		w.seq++
		payload := make([]byte, 1000)
		rand.Read(payload)
		b := event.Body{Scope: w.scope[:], Seq: w.seq, Time: at.Add(time.Duration(i) * time.Millisecond).UnixMilli(),
			Kind: event.KindGroupMessage, Payload: payload}
		if w.seq > 1 {
			prev := w.prev
			b.Prev = prev[:]
		}
		e, err := event.Sign(w.id, b)
		if err != nil {
			t.Fatal(err)
		}
		w.prev = e.ID
		w.evs = append(w.evs, e)
		raws = append(raws, e.Raw)
	}
	return raws
}

// kept counts the writer's events the relay still holds.
func (w *writer) kept(t *testing.T, r *nodetest.Node) int {
	n := 0
	for _, e := range w.evs {
		if has, _ := r.Store().HasEvent(e.ID); has {
			n++
		}
	}
	return n
}

func (w *writer) bytes(t *testing.T, r *nodetest.Node) int64 {
	var n int64
	for _, e := range w.evs {
		if has, _ := r.Store().HasEvent(e.ID); has {
			n += int64(len(e.Raw))
		}
	}
	return n
}

// The quotas hold as events arrive: an author over the per-author quota
// loses their own oldest events, a group over its quota loses the oldest
// of its heaviest authors, and a relay over its total takes from its
// heaviest group; a quiet author keeps everything, and what was evicted
// is not taken back.
func TestQuotasEvictFairly(t *testing.T) {
	const kib = 1 << 10
	q := relay.Quotas{Total: 250 * kib, Group: 200 * kib, Author: 80 * kib}
	r := startRelay(t, nil, q)
	h, _ := rawPeer(t, r)
	ctx := context.Background()
	one, two := randomScope(t), randomScope(t)
	for _, sc := range []event.Scope{one, two} {
		if _, err := mesh.AskRelay(ctx, h, r.ID(), mesh.RelayAdd, sc); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().Add(-time.Hour)
	quiet, flood := newWriter(t, one), newWriter(t, one)
	x, y, z := newWriter(t, two), newWriter(t, two), newWriter(t, two)
	accept := func(sc event.Scope, raws [][]byte) {
		t.Helper()
		if stored, rejected, err := r.Engine().Accept(sc, raws); err != nil || rejected != 0 || stored != len(raws) {
			t.Fatalf("accept: %d stored, %d rejected, %v", stored, rejected, err)
		}
	}
	accept(one, quiet.write(t, 20, now))
	accept(one, flood.write(t, 200, now))
	for _, w := range []*writer{x, y, z} {
		accept(two, w.write(t, 70, now))
	}
	var st *relay.Status
	nodetest.Eventually(t, 20*time.Second, "the quotas to hold", func() (bool, string) {
		var err error
		if st, err = r.Relay().Status(); err != nil {
			return false, err.Error()
		}
		for _, g := range st.Groups {
			if g.Bytes > q.Group {
				return false, fmt.Sprintf("a group holds %d", g.Bytes)
			}
		}
		return st.Bytes <= q.Total && flood.bytes(t, r) <= q.Author, fmt.Sprintf("%d in all, the flood %d", st.Bytes, flood.bytes(t, r))
	})
	if k := quiet.kept(t, r); k != 20 {
		t.Fatalf("the quiet author kept %d of 20", k)
	}
	if k := flood.kept(t, r); k == 0 || k > 80 {
		t.Fatalf("the flood kept %d of 200", k)
	}
	if has, _ := r.Store().HasEvent(flood.evs[199].ID); !has {
		t.Fatal("the flood's newest event went before its oldest")
	}
	// The heaviest group paid for the total, its authors alike.
	kx, ky, kz := x.kept(t, r), y.kept(t, r), z.kept(t, r)
	if kx+ky+kz >= 210 || max(kx, ky, kz)-min(kx, ky, kz) > 2 {
		t.Fatalf("the second group's authors kept %d, %d, %d of 70 each", kx, ky, kz)
	}
	var heaviest relay.GroupStatus
	for _, g := range st.Groups {
		if g.Bytes > heaviest.Bytes {
			heaviest = g
		}
	}
	if heaviest.Scope != two.String() || heaviest.Authors != 3 {
		t.Fatalf("status: the heaviest group is %+v", heaviest)
	}
	// What was evicted is not taken back.
	stored, _, err := r.Engine().Accept(one, [][]byte{flood.evs[0].Raw})
	if err != nil || stored != 0 {
		t.Fatalf("an evicted event offered again: stored %d, %v", stored, err)
	}
	// The export holds exactly what is kept, as it was signed.
	var exported [][]byte
	if err := r.Relay().Export(one, func(raw []byte) error { exported = append(exported, bytes.Clone(raw)); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := quiet.kept(t, r) + flood.kept(t, r); len(exported) != want {
		t.Fatalf("exported %d envelopes, the relay keeps %d", len(exported), want)
	}
	for _, raw := range exported {
		if _, err := event.Decode(raw); err != nil {
			t.Fatalf("an exported envelope does not verify: %v", err)
		}
	}
}

// Events older than the retention are not taken.
func TestRetentionRefusesOldEvents(t *testing.T) {
	r := startRelay(t, nil, relay.Quotas{Retention: time.Hour})
	h, _ := rawPeer(t, r)
	scope := randomScope(t)
	if _, err := mesh.AskRelay(context.Background(), h, r.ID(), mesh.RelayAdd, scope); err != nil {
		t.Fatal(err)
	}
	old, fresh := newWriter(t, scope), newWriter(t, scope)
	if stored, _, _ := r.Engine().Accept(scope, old.write(t, 3, time.Now().Add(-2*time.Hour))); stored != 0 {
		t.Fatalf("%d events older than the retention were kept", stored)
	}
	if stored, _, _ := r.Engine().Accept(scope, fresh.write(t, 3, time.Now().Add(-30*time.Minute))); stored != 3 {
		t.Fatalf("%d of 3 events within the retention were kept", stored)
	}
}

// A relay started again with a lower quota counts what it holds once it
// serves, and evicts down to the new quota by itself.
func TestLowerQuotaAtRestart(t *testing.T) {
	r := startRelay(t, nil, relay.Quotas{})
	h, _ := rawPeer(t, r)
	scope := randomScope(t)
	if _, err := mesh.AskRelay(context.Background(), h, r.ID(), mesh.RelayAdd, scope); err != nil {
		t.Fatal(err)
	}
	w := newWriter(t, scope)
	if stored, _, err := r.Engine().Accept(scope, w.write(t, 200, time.Now().Add(-time.Hour))); err != nil || stored != 200 {
		t.Fatalf("stored %d of 200 (%v)", stored, err)
	}
	r.Stop()
	const quota = 50 << 10
	r = nodetest.StartWith(t, r.Home, func(o *node.Options) {
		o.Relay, o.RelayQuotas = true, relay.Quotas{Group: quota}
	})
	nodetest.Eventually(t, 20*time.Second, "the relay to evict down to its new quota", func() (bool, string) {
		_, held, _ := r.Relay().Usage()
		return held > 0 && held <= quota, fmt.Sprint(held, " held")
	})
	if has, _ := r.Store().HasEvent(w.evs[199].ID); !has {
		t.Fatal("the newest event went")
	}
}

// A relay stopped cleanly keeps its counts for the next start, which
// then reads no group's history: the status right after a restart is
// what the store holds.
func TestCountsSurviveARestart(t *testing.T) {
	r := startRelay(t, nil, relay.Quotas{})
	h, _ := rawPeer(t, r)
	scope := randomScope(t)
	if _, err := mesh.AskRelay(context.Background(), h, r.ID(), mesh.RelayAdd, scope); err != nil {
		t.Fatal(err)
	}
	a, b := newWriter(t, scope), newWriter(t, scope)
	now := time.Now().Add(-time.Hour)
	for _, raws := range [][][]byte{a.write(t, 20, now), b.write(t, 10, now.Add(time.Minute))} {
		if _, _, err := r.Engine().Accept(scope, raws); err != nil {
			t.Fatal(err)
		}
	}
	want, err := r.Store().ScopeAuthors(scope)
	if err != nil || len(want) != 2 {
		t.Fatalf("the store holds %d authors (%v)", len(want), err)
	}
	check := func(when string) {
		t.Helper()
		st, err := r.Relay().Status()
		if err != nil || len(st.Groups) != 1 || st.Counting {
			t.Fatalf("%s: status %+v, %v", when, st, err)
		}
		g := st.Groups[0]
		if g.Events != 30 || g.Authors != 2 || g.Bytes != want[0].Bytes+want[1].Bytes || g.HeaviestBytes != want[0].Bytes ||
			!g.Oldest.Equal(time.UnixMilli(min(want[0].Oldest, want[1].Oldest)).UTC()) || !g.Newest.Equal(time.UnixMilli(max(want[0].Newest, want[1].Newest)).UTC()) {
			t.Fatalf("%s: the status shows %+v; the store holds %+v", when, g, want)
		}
	}
	nodetest.Eventually(t, 20*time.Second, "the relay to have counted", func() (bool, string) {
		st, err := r.Relay().Status()
		return err == nil && !st.Counting, fmt.Sprint(err)
	})
	check("running")
	r.Stop()
	r = nodetest.StartWith(t, r.Home, func(o *node.Options) { o.Relay = true })
	check("right after a restart")
}
