package events_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/events"
	"github.com/banyan-mesh/banyan/node/nodetest"
)

// Hostile posts and answers from raw peers that know the group's key are
// rejected by reason and never reach the schedule; a valid answer to an
// event nobody posted is kept aside and shows nothing.
func TestHostileEvents(t *testing.T) {
	ctx := context.Background()
	a := nodetest.Start(t, "")
	g, err := a.Groups().Create("village")
	if err != nil {
		t.Fatal(err)
	}
	scope, _ := events.Scope(a.Groups(), g.Scope())
	wrongKey, _ := crypto.NewKey()
	sealed := func(id *crypto.Identity, key [crypto.KeySize]byte, kind event.Kind, v any) []byte {
		pt, err := crypto.CanonicalCBOR.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		b := event.Body{Scope: scope[:], Seq: 1, Time: time.Now().UnixMilli(), Kind: kind}
		if b.Payload, err = crypto.Seal(key, pt, events.AD(scope, id.PublicKey(), 1)); err != nil {
			t.Fatal(err)
		}
		e, err := event.Sign(id, b)
		if err != nil {
			t.Fatal(err)
		}
		return e.Raw
	}
	start := time.Now().Add(time.Hour).UnixMilli()
	post := events.Post{Title: "feast", Start: start}
	cases := []struct {
		reason string
		kind   event.Kind
		key    [crypto.KeySize]byte
		body   any
	}{
		{engine.ReasonDecrypt, events.KindPost, wrongKey, post},
		{engine.ReasonBody, events.KindPost, g.Key, map[int]any{1: "x\x1b]0;owned\x07", 2: start}},
		{engine.ReasonBody, events.KindPost, g.Key, map[int]any{1: "x", 2: int64(1) << 62}},
		{engine.ReasonBody, events.KindRSVP, g.Key, post},
		{engine.ReasonBody, events.KindRSVP, g.Key, map[int]any{1: make([]byte, 32), 2: 7}},
		{engine.ReasonKind, event.KindGroupMessage, g.Key, post},
	}
	want := map[string]uint64{}
	for _, tc := range cases {
		id, tp := nodetest.RawPeer(t, a, events.TopicName(scope))
		want[tc.reason]++
		if err := tp.Publish(ctx, sealed(id, tc.key, tc.kind, tc.body)); err != nil {
			t.Fatal(err)
		}
	}
	nodetest.Eventually(t, 20*time.Second, "every hostile event counted", func() (bool, string) {
		got := a.Stats().Rejected()
		for r, n := range want {
			if got[r] != n {
				return false, fmt.Sprintf("rejected %v, want %v", got, want)
			}
		}
		return true, ""
	})
	id, tp := nodetest.RawPeer(t, a, events.TopicName(scope))
	orphan := sealed(id, g.Key, events.KindRSVP, events.RSVP{Event: make([]byte, 32), Answer: events.Going})
	if err := tp.Publish(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, "the answer to nothing stored", func() (bool, string) {
		return a.Stats().Accepted() >= 1, fmt.Sprint(a.Stats().Accepted())
	})
	if es := a.Events().Schedule(); len(es) != 0 {
		t.Fatalf("hostile input reached the schedule: %+v", es)
	}
	id, tp = nodetest.RawPeer(t, a, events.TopicName(scope))
	if err := tp.Publish(ctx, sealed(id, g.Key, events.KindPost, post)); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, "a member's valid post in the schedule", func() (bool, string) {
		es := a.Events().Schedule()
		return len(es) == 1 && es[0].Title == "feast" && len(es[0].Answers) == 0, fmt.Sprint(es)
	})
	// Another member's cancellation is stored but calls nothing off.
	postID := a.Events().Schedule()[0].ID
	accepted := a.Stats().Accepted()
	other, tp := nodetest.RawPeer(t, a, events.TopicName(scope))
	if err := tp.Publish(ctx, sealed(other, g.Key, events.KindCancel, events.Cancel{Event: postID[:]})); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, "the stranger's cancellation stored", func() (bool, string) {
		return a.Stats().Accepted() > accepted, fmt.Sprint(a.Stats().Accepted())
	})
	if es := a.Events().Schedule(); len(es) != 1 || es[0].Cancelled {
		t.Fatalf("a member cancelled another's event: %+v", es)
	}
}
