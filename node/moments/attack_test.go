package moments_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/crypto/ratchet"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/moments"
	"github.com/banyan-mesh/banyan/node/nodetest"
)

// rawPeer is a libp2p host that speaks no Banyan but the direct stream.
func rawPeer(t *testing.T, target *nodetest.Node) host.Host {
	t.Helper()
	h, _ := nodetest.RawHost(t, target)
	return h
}

func cborOf(t *testing.T, v any) []byte {
	t.Helper()
	b, err := crypto.CanonicalCBOR.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Moments events that break the rules, sent through the wire by a raw
// peer, are refused under the right reason and leave nothing behind.
func TestHostileMomentsRefused(t *testing.T) {
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	nodetest.Befriend(t, a, b)
	p := post(t, a, "a moment to attack", nil)
	waitFor(t, b, "b to read a's moment", has, p.ID)
	aid, err := a.Home.Identity(nil)
	if err != nil {
		t.Fatal(err)
	}
	forger, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	scope := moments.ScopeOf(aid.PublicKey())
	now := time.Now().UnixMilli()
	seq := uint64(1000)
	sign := func(id *crypto.Identity, in event.Scope, kind event.Kind, payload []byte) []byte {
		seq++
		e, err := event.Sign(id, event.Body{Scope: in[:], Seq: seq, Prev: make([]byte, event.IDSize), Time: now + int64(seq), Kind: kind, Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		return e.Raw
	}
	sealed := cborOf(t, map[int]any{1: p.Epoch, 2: make([]byte, 80)})
	key := cborOf(t, map[int]any{1: uint64(9), 2: [][]byte{make([]byte, 80)}})
	del := cborOf(t, map[int]any{1: p.ID[:], 2: p.Time})
	cases := []struct {
		name, reason string
		raw          []byte
	}{
		{"a post by someone else", engine.ReasonBody, sign(forger, scope, moments.KindPost, sealed)},
		{"an audience key by someone else", engine.ReasonBody, sign(forger, scope, moments.KindKey, key)},
		{"a deletion by someone else", engine.ReasonBody, sign(forger, scope, moments.KindDelete, del)},
		{"a reaction that does not open", engine.ReasonDecrypt, sign(forger, scope, moments.KindReaction, sealed)},
		{"a post that does not open", engine.ReasonDecrypt, sign(aid, scope, moments.KindPost, sealed)},
		{"a post that is not CBOR", engine.ReasonBody, sign(aid, scope, moments.KindPost, []byte("hello"))},
		{"a post without epoch", engine.ReasonBody, sign(aid, scope, moments.KindPost, cborOf(t, map[int]any{2: make([]byte, 80)}))},
		{"a key sealed short", engine.ReasonBody, sign(aid, scope, moments.KindKey, cborOf(t, map[int]any{1: uint64(9), 2: [][]byte{make([]byte, 79)}}))},
		{"a key sealed to nobody", engine.ReasonBody, sign(aid, scope, moments.KindKey, cborOf(t, map[int]any{1: uint64(9), 2: [][]byte{}}))},
		{"a deletion at the wrong time", engine.ReasonBody, sign(aid, scope, moments.KindDelete, cborOf(t, map[int]any{1: p.ID[:], 2: p.Time + 1}))},
		{"a deletion of a short ID", engine.ReasonBody, sign(aid, scope, moments.KindDelete, cborOf(t, map[int]any{1: p.ID[:8], 2: p.Time}))},
		{"a kind moments do not have", engine.ReasonKind, sign(aid, scope, event.KindGroupMessage, sealed)},
		{"moments of a stranger", engine.ReasonScope, sign(forger, moments.ScopeOf(forger.PublicKey()), moments.KindPost, sealed)},
	}
	raw := rawPeer(t, b)
	want := map[string]uint64{}
	for _, tc := range cases {
		want[tc.reason]++
		if err := mesh.SendDirect(context.Background(), raw, mesh.DirectProtocol, b.ID(), tc.raw); !errors.Is(err, mesh.ErrRefused) {
			t.Errorf("%s: %v, want refused", tc.name, err)
		}
	}
	got := b.Stats().Rejected()
	for r, n := range want {
		if got[r] != n {
			t.Errorf("b counted %d %s, want %d (%v)", got[r], r, n, got)
		}
	}
	// A reaction under a key b does not have is not the sender's fault:
	// it is dropped, not stored, and sync may bring it once the key is
	// known.
	unknown := sign(forger, scope, moments.KindReaction, cborOf(t, map[int]any{1: uint64(77), 2: make([]byte, 80)}))
	if err := mesh.SendDirect(context.Background(), raw, mesh.DirectProtocol, b.ID(), unknown); err != nil {
		t.Errorf("reaction under an unknown key: %v, want dropped quietly", err)
	}
	e, _ := event.Decode(unknown)
	if ok, _ := b.Store().HasEvent(e.ID); ok {
		t.Error("b stored a reaction it cannot open")
	}
	if m := info(t, b, p.ID); m == nil || m.Likes != 0 || len(m.Comments) != 0 {
		t.Errorf("the attack changed a's moment on b: %+v", m)
	}
}

// A moment that arrives before the audience key it is sealed with is kept
// sealed, and opens as soon as the key arrives.
func TestMomentBeforeItsKeyOpensLater(t *testing.T) {
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	nodetest.Befriend(t, a, b)
	aid, err := a.Home.Identity(nil)
	if err != nil {
		t.Fatal(err)
	}
	bid, err := b.Home.Identity(nil)
	if err != nil {
		t.Fatal(err)
	}
	scope := moments.ScopeOf(aid.PublicKey())
	nodetest.WaitKeeps(t, b, scope)
	key, err := crypto.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	const epoch = 50
	sign := func(seq uint64, kind event.Kind, payload []byte) *event.Event {
		e, err := event.Sign(aid, event.Body{Scope: scope[:], Seq: seq, Prev: make([]byte, event.IDSize), Time: now + int64(seq), Kind: kind, Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	dh := ratchet.NewKeys(bid).Bundle().DHKey
	kp, err := moments.KeyPayload(scope, epoch, key, [][]byte{dh[:]})
	if err != nil {
		t.Fatal(err)
	}
	pp, err := moments.PostPayload(key, scope, aid.PublicKey(), 901, epoch, "sent before its key")
	if err != nil {
		t.Fatal(err)
	}
	keyEv, postEv := sign(900, moments.KindKey, kp), sign(901, moments.KindPost, pp)
	raw := rawPeer(t, b)
	if err := mesh.SendDirect(context.Background(), raw, mesh.DirectProtocol, b.ID(), postEv.Raw); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.Store().HasEvent(postEv.ID); !ok {
		t.Fatal("b did not keep the sealed moment")
	}
	if m := info(t, b, postEv.ID); m != nil {
		t.Fatalf("b shows a moment it has no key for: %+v", m)
	}
	if err := mesh.SendDirect(context.Background(), raw, mesh.DirectProtocol, b.ID(), keyEv.Raw); err != nil {
		t.Fatal(err)
	}
	if m := info(t, b, postEv.ID); m == nil || m.Text != "sent before its key" {
		t.Fatalf("after the key b shows %+v", m)
	}
}
