package mesh

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
)

func newTestHost(t *testing.T) host.Host {
	t.Helper()
	return newListeningHost(t, "/ip4/127.0.0.1/tcp/0")
}

func connect(t *testing.T, a, b host.Host) {
	t.Helper()
	if err := a.Connect(context.Background(), peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
}

func TestHostIdentity(t *testing.T) {
	id, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHost(HostOptions{Identity: id, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.ID() != id.PeerID() {
		t.Fatalf("host ID %s, identity's peer ID %s", h.ID(), id.PeerID())
	}
}

func TestDirectDelivery(t *testing.T) {
	a, b := newTestHost(t), newTestHost(t)
	got := make(chan []byte, 1)
	HandleDirect(b, DirectProtocol, func(from peer.ID, raw []byte) (func(), error) {
		if from != a.ID() {
			t.Errorf("from %s, want %s", from, a.ID())
		}
		if string(raw) == "refuse me" {
			return nil, errors.New("no")
		}
		if string(raw) == "known" {
			return nil, ErrIgnore
		}
		return func() { got <- raw }, nil
	})
	ctx := context.Background()
	if err := SendDirect(ctx, a, DirectProtocol, b.ID(), []byte("hello")); err == nil {
		t.Fatal("sent to a peer that is not connected: direct delivery must not dial")
	}
	connect(t, a, b)
	if err := SendDirect(ctx, a, DirectProtocol, b.ID(), []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if raw := <-got; string(raw) != "hello" {
		t.Fatalf("received %q", raw)
	}
	if err := SendDirect(ctx, a, DirectProtocol, b.ID(), []byte("known")); err != nil {
		t.Fatalf("an envelope the peer already holds: %v", err)
	}
	if err := SendDirect(ctx, a, DirectProtocol, b.ID(), []byte("refuse me")); !errors.Is(err, ErrRefused) {
		t.Fatalf("refused envelope: %v", err)
	}
}

func TestProbe(t *testing.T) {
	a, b := newTestHost(t), newTestHost(t)
	connect(t, a, b)
	conns := a.Network().ConnsToPeer(b.ID())
	if len(conns) != 1 {
		t.Fatalf("%d connections", len(conns))
	}
	if err := probe(context.Background(), conns[0]); err != nil {
		t.Fatalf("probe of a live connection: %v", err)
	}
	// A connection whose other end is gone fails the probe within its
	// timeout.
	b.Close()
	start := time.Now()
	if err := probe(context.Background(), conns[0]); err == nil {
		t.Fatal("probe of a dead connection succeeded")
	}
	if d := time.Since(start); d > probeTimeout+2*time.Second {
		t.Fatalf("probe took %s", d)
	}
}

func TestMessageIDCoversTheSignature(t *testing.T) {
	id, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	e, err := event.Sign(id, event.Body{Scope: make([]byte, event.ScopeSize), Seq: 1, Kind: event.KindGroupMessage, Payload: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	forged := append([]byte(nil), e.Raw...)
	forged[10] ^= 1 // the signature, not the body: the event ID is the same
	if id, ok := event.PeekID(forged); !ok || id != e.ID {
		t.Fatal("the forged copy should have the genuine event's ID")
	}
	if messageID(&pb.Message{Data: e.Raw}) == messageID(&pb.Message{Data: forged}) {
		t.Fatal("a copy with a broken signature has the genuine message's gossip ID")
	}
	if a, b := messageID(&pb.Message{Data: e.Raw}), messageID(&pb.Message{Data: bytes.Clone(e.Raw)}); a != b || len(a) != 32 {
		t.Fatal("one envelope has two gossip IDs")
	}
}
