package events_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/events"
	"github.com/banyan-mesh/banyan/node/nodetest"
)

// A member who floods a group's events with long posts from a raw peer
// holds at most the author quota in bytes: the posts beyond it are refused
// and counted as over_quota, and never reach the schedule.
func TestEventQuotaPerAuthor(t *testing.T) {
	const sent = 6
	about := strings.Repeat("bring a dish, ", events.MaxAbout/14)
	// Room for three such posts, not four.
	events.SetAuthorQuota(t, engine.Quota{Bytes: 3*int64(len(about)) + 1500})
	ctx := context.Background()
	a := nodetest.Start(t, "")
	g, err := a.Groups().Create("village")
	if err != nil {
		t.Fatal(err)
	}
	scope, _ := events.Scope(a.Groups(), g.Scope())
	id, tp := nodetest.RawPeer(t, a, events.TopicName(scope))
	var prev []byte
	for i := range sent {
		pt, err := crypto.CanonicalCBOR.Marshal(events.Post{Title: fmt.Sprint("feast ", i), Start: time.Now().Add(time.Hour).UnixMilli(), About: about})
		if err != nil {
			t.Fatal(err)
		}
		seq := uint64(i + 1)
		b := event.Body{Scope: scope[:], Seq: seq, Prev: prev, Time: time.Now().UnixMilli() + int64(i), Kind: events.KindPost}
		if b.Payload, err = crypto.Seal(g.Key, pt, events.AD(scope, id.PublicKey(), seq)); err != nil {
			t.Fatal(err)
		}
		e, err := event.Sign(id, b)
		if err != nil {
			t.Fatal(err)
		}
		prev = e.ID[:]
		if err := tp.Publish(ctx, e.Raw); err != nil {
			t.Fatal(err)
		}
	}
	nodetest.Eventually(t, 20*time.Second, "the posts beyond the quota refused", func() (bool, string) {
		got := a.Stats().Rejected()[engine.ReasonQuota]
		return got == sent-3 && a.Stats().Accepted() == 3, fmt.Sprint(a.Stats().Rejected(), a.Stats().Accepted())
	})
	if es := a.Events().Schedule(); len(es) != 3 {
		t.Fatalf("the schedule shows %d events, want 3", len(es))
	}
}
