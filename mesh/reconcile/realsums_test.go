package reconcile_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/node/private"
	"github.com/banyan-mesh/banyan/store"
)

// sealedMail signs n sealed messages of mailbox bucket 0, each by a new
// identity, dated from ago ms before now.
func sealedMail(t *testing.T, n int, ago int64) []*event.Event {
	t.Helper()
	sc := private.MailboxScope(0)
	now := time.Now().UnixMilli()
	var evs []*event.Event
	for i := range n {
		id, err := crypto.NewIdentity()
		if err != nil {
			t.Fatal(err)
		}
		payload := make([]byte, 64)
		rand.Read(payload)
		e, err := event.Sign(id, event.Body{Scope: sc[:], Seq: 1, Time: now - ago - int64(i), Kind: event.KindSealed, Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	return evs
}

// Two real nodes that hold the same 10,000 events of a scope answer from
// their stores' sums: every in-sync round has the bytes of the first, and
// events stored on one side after the sums were built reach the other.
func TestSumsOnRealNodes(t *testing.T) {
	evs := sealedMail(t, 10000, 1000)
	a, b := nodetest.Start(t, ""), nodetest.Start(t, "")
	for _, n := range []*nodetest.Node{a, b} {
		if _, err := n.Store().PutEvents(evs, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.Host().Connect(ctx, b.Info()); err != nil {
		t.Fatal(err)
	}
	first, err := a.Syncer().SyncPeer(ctx, b.ID())
	if err != nil {
		t.Fatal(err)
	}
	if first.EventsSent+first.EventsGot != 0 || first.Rounds != 1 {
		t.Fatalf("nodes in sync took %d rounds and moved %d events", first.Rounds, first.EventsSent+first.EventsGot)
	}
	again, err := a.Syncer().SyncPeer(ctx, b.ID())
	if err != nil {
		t.Fatal(err)
	}
	if again.Rounds != first.Rounds || again.BytesSent != first.BytesSent || again.BytesGot != first.BytesGot || again.EventsSent+again.EventsGot != 0 {
		t.Fatalf("second in-sync round %+v differs from the first %+v", again, first)
	}
	extra := sealedMail(t, 3, 0)
	if _, err := a.Store().PutEvents(extra, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Syncer().SyncPeer(ctx, b.ID()); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 30*time.Second, "the new events reach the other node", func() (bool, string) {
		for _, e := range extra {
			if ok, err := b.Store().HasEvent(e.ID); err != nil || !ok {
				return false, e.ID.String()
			}
		}
		return true, ""
	})
	last, err := a.Syncer().SyncPeer(ctx, b.ID())
	if err != nil {
		t.Fatal(err)
	}
	if last.EventsSent+last.EventsGot != 0 || last.Rounds != first.Rounds {
		t.Fatalf("in-sync round after the new events: %+v", last)
	}
}
