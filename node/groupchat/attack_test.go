package groupchat_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/nodetest"
)

// attacker is a raw gossipsub peer, with no Banyan validation, that knows a
// group's topic and publishes whatever it is told to.
type attacker struct {
	id    *crypto.Identity
	host  host.Host
	topic *pubsub.Topic
}

func newAttacker(t *testing.T, target *nodetest.Node, g *groupchat.Group) *attacker {
	t.Helper()
	h, id, topic := nodetest.RawPeerHost(t, target, groupchat.TopicName(g.Scope()))
	return &attacker{id: id, host: h, topic: topic}
}

func (a *attacker) publish(t *testing.T, data []byte) {
	t.Helper()
	if err := a.topic.Publish(context.Background(), data); err != nil {
		t.Fatal(err)
	}
}

// event signs a group event as the attacker, with its fields adjusted by
// edit, the payload sealed with key.
func (a *attacker) event(t *testing.T, g *groupchat.Group, key [crypto.KeySize]byte, seq uint64, edit func(*event.Body)) *event.Event {
	t.Helper()
	scope := g.Scope()
	pt, err := groupchat.EncodeText(fmt.Sprintf("attack %d", seq))
	if err != nil {
		t.Fatal(err)
	}
	b := event.Body{Scope: scope[:], Seq: 1, Time: time.Now().UnixMilli(), Kind: event.KindGroupMessage}
	b.Payload, err = crypto.Seal(key, pt, crypto.GroupAD(scope[:], a.id.PublicKey(), b.Seq))
	if err != nil {
		t.Fatal(err)
	}
	// A different time per call keeps every event distinct.
	b.Time += int64(seq)
	if edit != nil {
		edit(&b)
	}
	e, err := event.Sign(a.id, b)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestBadMessagesRejectedAndCounted(t *testing.T) {
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	c := nodetest.Start(t, "", b.Info())
	nodes := []*nodetest.Node{a, b, c}
	g := nodetest.JoinAll(t, nodes)
	ctx := context.Background()
	honest, err := a.Groups().Send(ctx, g, "before the attack")
	if err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, "the first message everywhere", func() (bool, string) {
		return len(nodetest.HistoryIDs(t, c, nodetest.GroupOn(t, c, g))) == 1, "c has not got it"
	})

	att := newAttacker(t, a, g)
	wrongKey, _ := crypto.NewKey()
	otherScope := crypto.GroupScope([16]byte{1}, g.Key)

	badSig := att.event(t, g, g.Key, 1, nil).Raw
	badSig = append([]byte(nil), badSig...)
	badSig[5] ^= 0xff

	bigBody := att.event(t, g, g.Key, 2, nil)
	oversize := append(append([]byte(nil), bigBody.Raw...), make([]byte, event.MaxEnvelopeSize)...)
	weakKey := weakKeyEvent(t, g)

	cases := []struct {
		reason string
		data   []byte
	}{
		{engine.ReasonMalformed, []byte("not an envelope at all, just garbage bytes")},
		{engine.ReasonMalformed, append([]byte{event.Version}, make([]byte, 200)...)},
		{engine.ReasonSignature, badSig},
		{engine.ReasonDecrypt, att.event(t, g, wrongKey, 3, nil).Raw},
		{engine.ReasonTooLarge, oversize},
		{engine.ReasonScope, att.event(t, g, g.Key, 4, func(b *event.Body) { b.Scope = otherScope[:] }).Raw},
		{engine.ReasonFuture, att.event(t, g, g.Key, 5, func(b *event.Body) { b.Time += int64(time.Hour / time.Millisecond) }).Raw},
		{engine.ReasonKind, att.event(t, g, g.Key, 6, func(b *event.Body) { b.Kind = 999 }).Raw},
		{engine.ReasonSignature, weakKey},
		{engine.ReasonTime, att.event(t, g, g.Key, 7, func(b *event.Body) { b.Time = math.MinInt64 }).Raw},
		{engine.ReasonTime, att.event(t, g, g.Key, 8, func(b *event.Body) { b.Time = engine.MinTime - 1 }).Raw},
	}
	// Each from a peer of its own: a peer that sends invalid messages is
	// soon ignored altogether (below).
	want := map[string]uint64{}
	for _, tc := range cases {
		want[tc.reason]++
		newAttacker(t, a, g).publish(t, tc.data)
	}
	nodetest.Eventually(t, 20*time.Second, "every bad message to be counted on a", func() (bool, string) {
		got := a.Stats().Rejected()
		for r, n := range want {
			if got[r] != n {
				return false, fmt.Sprintf("rejected %v, want %v", got, want)
			}
		}
		return true, ""
	})

	// A peer that keeps sending invalid messages falls below gossipsub's
	// graylist threshold: whatever else it sends is ignored.
	for i := range 3 {
		att.publish(t, att.event(t, g, wrongKey, uint64(10+i), nil).Raw)
	}
	nodetest.Eventually(t, 20*time.Second, "a to graylist the attacker", func() (bool, string) {
		score, ok := a.Gossip().Scores()[att.host.ID()]
		return ok && score < mesh.GraylistThreshold, fmt.Sprintf("score %v (%v)", score, ok)
	})
	// Graylisted, it would still be read; it is sent away and kept away.
	nodetest.Eventually(t, 20*time.Second, "a to disconnect the graylisted attacker", func() (bool, string) {
		return a.Host().Network().Connectedness(att.host.ID()) != network.Connected, "still connected"
	})
	att.host.Connect(context.Background(), a.Info())
	nodetest.Eventually(t, 20*time.Second, "a to refuse the attacker again", func() (bool, string) {
		return a.Host().Network().Connectedness(att.host.ID()) != network.Connected, "connected again"
	})

	// A replay of a stored event, after the gossip duplicate cache has
	// forgotten it (here: a restart), is dropped as a duplicate.
	a.Stop()
	a = nodetest.Start(t, a.Home, b.Info())
	att = newAttacker(t, a, g)
	att.publish(t, honest.Event.Raw)
	nodetest.Eventually(t, 20*time.Second, "the replay to be counted", func() (bool, string) {
		return a.Stats().Rejected()[engine.ReasonDuplicate] == 1, fmt.Sprint(a.Stats().Rejected())
	})

	// Nothing bad was stored anywhere, and the honest nodes still talk.
	nodetest.Eventually(t, 20*time.Second, "a to rejoin the mesh", func() (bool, string) {
		_, mesh := a.Groups().TopicPeers(nodetest.GroupOn(t, a, g))
		return mesh >= 2, fmt.Sprintf("%d mesh peers", mesh)
	})
	after, err := c.Groups().Send(ctx, nodetest.GroupOn(t, c, g), "after the attack")
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes[1:] {
		if r := n.Stats().Rejected(); r[engine.ReasonSignature]+r[engine.ReasonDecrypt]+r[engine.ReasonMalformed] != 0 {
			t.Errorf("node %d saw bad messages that a should have stopped: %v", i+1, r)
		}
	}
	nodetest.Eventually(t, 20*time.Second, "the honest message everywhere", func() (bool, string) {
		for i, n := range []*nodetest.Node{a, b, c} {
			ids := nodetest.HistoryIDs(t, n, nodetest.GroupOn(t, n, g))
			if len(ids) != 2 || ids[1] != after.Event.ID.String() {
				return false, fmt.Sprintf("node %d history %v", i, ids)
			}
		}
		return true, ""
	})
}

// weakKeyEvent is a group message "signed" by the identity point, a key of
// small order for which R = identity, S = 0 verifies any message under
// plain RFC 8032 rules. It knows the group key, as a member would.
func weakKeyEvent(t *testing.T, g *groupchat.Group) []byte {
	t.Helper()
	author := append([]byte{1}, make([]byte, 31)...)
	scope := g.Scope()
	pt, err := groupchat.EncodeText("signed by nobody")
	if err != nil {
		t.Fatal(err)
	}
	b := event.Body{Author: author, Scope: scope[:], Seq: 1, Time: time.Now().UnixMilli(), Kind: event.KindGroupMessage}
	if b.Payload, err = crypto.Seal(g.Key, pt, crypto.GroupAD(scope[:], author, 1)); err != nil {
		t.Fatal(err)
	}
	body, err := crypto.CanonicalCBOR.Marshal(&b)
	if err != nil {
		t.Fatal(err)
	}
	sig := append(bytes.Clone(author), make([]byte, 32)...)
	return append(append([]byte{event.Version}, sig...), body...)
}

func TestMain(m *testing.M) { nodetest.VerifyNoLeaks(m) }

// A copy of a message with a broken signature, sent first, does not keep
// the genuine message out of gossip: the gossip ID covers the signature.
// The victim's only peers are raw gossipsub peers, which do not sync, so
// the message can reach it only by gossip.
func TestForgedCopyCannotCensor(t *testing.T) {
	victim := nodetest.Start(t, "")
	g, err := victim.Groups().Create("market")
	if err != nil {
		t.Fatal(err)
	}
	forger := newAttacker(t, victim, g)
	author := newAttacker(t, victim, g)

	genuine := author.event(t, g, g.Key, 1, nil)
	forged := append([]byte(nil), genuine.Raw...)
	forged[10] ^= 1
	forger.publish(t, forged)
	nodetest.Eventually(t, 20*time.Second, "the victim to reject the forged copy", func() (bool, string) {
		return victim.Stats().Rejected()[engine.ReasonSignature] == 1, fmt.Sprint(victim.Stats().Rejected())
	})
	author.publish(t, genuine.Raw)
	nodetest.Eventually(t, 20*time.Second, "the genuine message to reach the victim", func() (bool, string) {
		has, err := victim.Store().HasEvent(genuine.ID)
		return has, fmt.Sprint(err)
	})
}
