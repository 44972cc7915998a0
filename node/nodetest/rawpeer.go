package nodetest

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/mesh"
)

// RawPeer is a gossipsub peer with no Banyan validation, connected to
// target and in topic, that publishes whatever it is told to: for tests
// that send hostile input through the wire. It returns its identity, to
// sign events with, and the topic.
func RawPeer(t *testing.T, target *Node, topic string) (*crypto.Identity, *pubsub.Topic) {
	t.Helper()
	_, id, tp := RawPeerHost(t, target, topic)
	return id, tp
}

// RawPeerHost is RawPeer, with the peer's host too (to see it scored,
// disconnected, or to dial again). The peer sends messages of up to 1 MiB,
// beyond what Banyan takes.
func RawPeerHost(t *testing.T, target *Node, topic string) (host.Host, *crypto.Identity, *pubsub.Topic) {
	t.Helper()
	h, id := bareHost(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ps, err := pubsub.NewGossipSub(ctx, h,
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(func(m *pb.Message) string { s := sha256.Sum256(m.Data); return string(s[:]) }),
		pubsub.WithMaxMessageSize(1<<20),
		pubsub.WithFloodPublish(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := ps.Join(topic)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tp.Subscribe(); err != nil {
		t.Fatal(err)
	}
	if err := h.Connect(ctx, target.Info()); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 20*time.Second, "the raw peer to see the target in the topic", func() (bool, string) {
		return len(tp.ListPeers()) > 0, "no topic peers"
	})
	return h, id, tp
}

// RawHost is a bare libp2p host, with no Banyan node behind it, connected
// to target: hostile input on Banyan's streams comes from one.
func RawHost(t testing.TB, target *Node) (host.Host, *crypto.Identity) {
	t.Helper()
	h, id := bareHost(t)
	if err := h.Connect(context.Background(), target.Info()); err != nil {
		t.Fatal(err)
	}
	return h, id
}

// bareHost is a libp2p host on loopback with an identity of its own,
// closed when the test ends.
func bareHost(t testing.TB) (host.Host, *crypto.Identity) {
	t.Helper()
	id, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	h, err := mesh.NewHost(mesh.HostOptions{Identity: id, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, id
}
