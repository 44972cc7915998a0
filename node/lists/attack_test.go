package lists_test

import (
	"context"
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

// Hostile list operations from a raw peer that knows the group's key (a
// member gone bad) are rejected by reason and never reach the lists; a
// good one from the same peer is merged.
func TestHostileListOperations(t *testing.T) {
	a := nodetest.Start(t, "")
	g, err := a.Groups().Create("village")
	if err != nil {
		t.Fatal(err)
	}
	scope, _ := lists.Scope(a.Groups(), g.Scope())
	wrongKey, _ := crypto.NewKey()
	// sealed signs an operation's plaintext pt as id's first event,
	// sealed with key.
	sealed := func(id *crypto.Identity, key [crypto.KeySize]byte, pt []byte, edit func(*event.Body)) []byte {
		b := event.Body{Scope: scope[:], Seq: 1, Time: time.Now().UnixMilli(), Kind: lists.Kind}
		if b.Payload, err = crypto.Seal(key, pt, lists.AD(scope, id.PublicKey(), 1)); err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(&b)
		}
		e, err := event.Sign(id, b)
		if err != nil {
			t.Fatal(err)
		}
		return e.Raw
	}
	plain := func(v any) []byte {
		b, err := crypto.CanonicalCBOR.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	title := "market"
	valid, err := lists.EncodeOp(crdt.Op{Stamp: crdt.Stamp{Clock: 1}, Target: crdt.ID{9}, Text: &title, Kind: ptr(crdt.Shopping)})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		reason string
		raw    func(id *crypto.Identity) []byte
	}{
		{engine.ReasonDecrypt, func(id *crypto.Identity) []byte { return sealed(id, wrongKey, valid, nil) }},
		{engine.ReasonBody, func(id *crypto.Identity) []byte { return sealed(id, g.Key, []byte("not cbor"), nil) }},
		{engine.ReasonBody, func(id *crypto.Identity) []byte {
			return sealed(id, g.Key, plain(map[int]any{1: 1, 2: make([]byte, 3), 4: "x"}), nil)
		}},
		{engine.ReasonBody, func(id *crypto.Identity) []byte {
			return sealed(id, g.Key, plain(map[int]any{1: 1, 2: make([]byte, 16), 4: "a\x1b[2Jb"}), nil)
		}},
		{engine.ReasonBody, func(id *crypto.Identity) []byte {
			return sealed(id, g.Key, plain(map[int]any{1: 1, 2: make([]byte, 16), 3: make([]byte, 16), 7: "0"}), nil)
		}},
		// Moved from another position of the chain, it no longer opens.
		{engine.ReasonDecrypt, func(id *crypto.Identity) []byte {
			return sealed(id, g.Key, valid, func(b *event.Body) { b.Seq, b.Prev = 2, make([]byte, 32) })
		}},
		// A clock beyond the event's time, which would leave nobody a
		// clock to win with.
		{engine.ReasonBody, func(id *crypto.Identity) []byte {
			huge, err := lists.EncodeOp(crdt.Op{Stamp: crdt.Stamp{Clock: 1 << 62}, Target: crdt.ID{9}, Text: &title})
			if err != nil {
				t.Fatal(err)
			}
			return sealed(id, g.Key, huge, nil)
		}},
		{engine.ReasonKind, func(id *crypto.Identity) []byte {
			return sealed(id, g.Key, valid, func(b *event.Body) { b.Kind = event.KindGroupMessage })
		}},
	}
	want := map[string]uint64{}
	for _, tc := range cases {
		// A peer of its own for each: invalid input soon gets a peer
		// ignored altogether.
		id, tp := nodetest.RawPeer(t, a, lists.TopicName(scope))
		want[tc.reason]++
		if err := tp.Publish(context.Background(), tc.raw(id)); err != nil {
			t.Fatal(err)
		}
	}
	nodetest.Eventually(t, 20*time.Second, "every hostile operation counted", func() (bool, string) {
		got := a.Stats().Rejected()
		for r, n := range want {
			if got[r] != n {
				return false, fmt.Sprintf("rejected %v, want %v", got, want)
			}
		}
		return true, ""
	})
	if ls, err := a.Lists().Lists(hexID(g)); err != nil || len(ls) != 0 {
		t.Fatalf("hostile operations reached the lists: %v, %v", ls, err)
	}
	id, tp := nodetest.RawPeer(t, a, lists.TopicName(scope))
	if err := tp.Publish(context.Background(), sealed(id, g.Key, valid, nil)); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, "a member's valid operation merged", func() (bool, string) {
		ls, err := a.Lists().Lists(hexID(g))
		return err == nil && len(ls) == 1 && ls[0].Title == "market", fmt.Sprint(ls, err)
	})
}
