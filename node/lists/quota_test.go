package lists_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/lists"
	"github.com/banyan-mesh/banyan/node/lists/crdt"
	"github.com/banyan-mesh/banyan/node/nodetest"
)

// A member who floods a group's lists from a raw peer holds at most the
// author quota: every valid operation beyond it is refused and counted as
// over_quota, and the node's own user, over the quota too, is told so.
func TestListQuotaPerAuthor(t *testing.T) {
	const quota, sent = 5, 9
	lists.SetAuthorQuota(t, engine.Quota{Events: quota})
	ctx := context.Background()
	a := nodetest.Start(t, "")
	g, err := a.Groups().Create("village")
	if err != nil {
		t.Fatal(err)
	}
	scope, _ := lists.Scope(a.Groups(), g.Scope())
	id, tp := nodetest.RawPeer(t, a, lists.TopicName(scope))
	var prev []byte
	for i := range sent {
		title := fmt.Sprint("list ", i)
		pt, err := lists.EncodeOp(crdt.Op{Stamp: crdt.Stamp{Clock: uint64(i + 1)}, Target: crdt.ID{byte(i + 1)}, Text: &title, Kind: ptr(crdt.Todo)})
		if err != nil {
			t.Fatal(err)
		}
		seq := uint64(i + 1)
		b := event.Body{Scope: scope[:], Seq: seq, Prev: prev, Time: time.Now().UnixMilli() + int64(i), Kind: lists.Kind}
		if b.Payload, err = crypto.Seal(g.Key, pt, lists.AD(scope, id.PublicKey(), seq)); err != nil {
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
	nodetest.Eventually(t, 20*time.Second, "the operations beyond the quota refused", func() (bool, string) {
		got := a.Stats().Rejected()[engine.ReasonQuota]
		return got == sent-quota && a.Stats().Accepted() == quota, fmt.Sprint(a.Stats().Rejected(), a.Stats().Accepted())
	})
	if ls, err := a.Lists().Lists(hexID(g)); err != nil || len(ls) != quota {
		t.Fatalf("%d lists (%v), want %d", len(ls), err, quota)
	}

	cl := lists.NewClient(a.Client(t))
	for i := range quota {
		if _, err := cl.Create(ctx, g.Name, fmt.Sprint("mine ", i), "todo"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cl.Create(ctx, g.Name, "one too many", "todo"); err == nil {
		t.Fatal("the node's own user wrote beyond the quota")
	}
	if err := a.Lists().Write(ctx, hexID(g), crdt.Op{Target: crdt.ID{0xee}, Text: ptr("again"), Kind: ptr(crdt.Todo)}); !errors.Is(err, engine.ErrQuota) {
		t.Fatalf("writing beyond the quota: %v", err)
	}
}
