package mesh

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	circuitproto "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/proto"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/banyan-mesh/banyan/crypto"
)

func newListeningHost(t *testing.T, addrs ...string) host.Host {
	t.Helper()
	id, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	var listen []ma.Multiaddr
	for _, a := range addrs {
		listen = append(listen, ma.StringCast(a))
	}
	h, err := NewHost(HostOptions{Identity: id, ListenAddrs: listen})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// onlyQUIC returns h's QUIC addresses.
func onlyQUIC(h host.Host) []ma.Multiaddr {
	var out []ma.Multiaddr
	for _, a := range h.Addrs() {
		if _, err := a.ValueForProtocol(ma.P_QUIC_V1); err == nil {
			out = append(out, a)
		}
	}
	return out
}

func TestHostOverQUIC(t *testing.T) {
	a := newListeningHost(t, "/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1")
	b := newListeningHost(t, "/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1")
	qa := onlyQUIC(b)
	if len(qa) == 0 {
		t.Fatalf("b listens on %v: no QUIC address", b.Addrs())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: qa}); err != nil {
		t.Fatal(err)
	}
	conns := a.Network().ConnsToPeer(b.ID())
	if len(conns) != 1 {
		t.Fatalf("%d connections to b", len(conns))
	}
	if _, err := conns[0].RemoteMultiaddr().ValueForProtocol(ma.P_QUIC_V1); err != nil {
		t.Fatalf("connected over %s, not QUIC", conns[0].RemoteMultiaddr())
	}
	if r := <-ping.Ping(ctx, a, b.ID()); r.Error != nil {
		t.Fatalf("ping over QUIC: %v", r.Error)
	}

	// Identify ran both ways: b knows a's agent, and that a listens on TCP
	// too.
	deadline := time.Now().Add(10 * time.Second)
	for {
		agent, _ := b.Peerstore().Get(a.ID(), "AgentVersion")
		if agent == "banyan" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b sees a's agent as %v, want banyan", agent)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The inbound QUIC connection is counted by b's resource manager: its
	// limits hold for QUIC as for TCP.
	var inbound int
	b.Network().ResourceManager().ViewSystem(func(s network.ResourceScope) error {
		inbound = s.Stat().NumConnsInbound
		return nil
	})
	if inbound != 1 {
		t.Fatalf("b's resource manager counts %d inbound connections, want 1", inbound)
	}
}

func TestHostClosesOnceAndFreesItsPorts(t *testing.T) {
	id, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHost(HostOptions{Identity: id, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/udp/0/quic-v1")}})
	if err != nil {
		t.Fatal(err)
	}
	addrs := onlyQUIC(h)
	if len(addrs) != 1 {
		t.Fatalf("listening on %v", h.Addrs())
	}
	_, hostport, err := manet.DialArgs(addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	c, err := net.ListenPacket("udp4", hostport)
	if err != nil {
		t.Fatalf("the QUIC port is still held after close: %v", err)
	}
	c.Close()
}

func TestHostRefusesAnAddressItCannotListenOn(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	id, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	taken := ma.StringCast("/ip4/127.0.0.1/tcp/" + strings.TrimPrefix(l.Addr().String(), "127.0.0.1:"))
	if h, err := NewHost(HostOptions{Identity: id, ListenAddrs: []ma.Multiaddr{taken}}); err == nil {
		h.Close()
		t.Fatalf("listened on %s, which another socket holds", taken)
	}
}

// The node's binary carries only the transports it uses: go-libp2p's
// constructor would bring WebRTC, WebTransport and WebSocket, a third of
// the binary and 5 MB of every node's memory.
func TestHostLeavesOutUnusedTransports(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH to list the binary's packages")
	}
	out, err := exec.Command(gobin, "list", "-deps", "github.com/banyan-mesh/banyan/cmd/banyan").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, unwanted := range []string{
			"github.com/pion/",
			"github.com/libp2p/go-libp2p/p2p/transport/webrtc",
			"github.com/libp2p/go-libp2p/p2p/transport/webtransport",
			"github.com/libp2p/go-libp2p/p2p/transport/websocket",
			"go.uber.org/fx",
		} {
			if strings.HasPrefix(pkg, unwanted) {
				t.Errorf("banyan imports %s", pkg)
			}
		}
	}
}

// The host gives the services it runs the limits libp2p.New would.
func TestServiceLimitsAreLibp2pDefaults(t *testing.T) {
	ours, theirs := rcmgr.DefaultLimits, rcmgr.DefaultLimits
	addServiceLimits(&ours)
	libp2p.SetDefaultServiceLimits(&theirs)
	o := ours.AutoScale().ToPartialLimitConfig()
	th := theirs.AutoScale().ToPartialLimitConfig()
	for _, s := range []string{identify.ServiceName, ping.ServiceName, relayv2.ServiceName} {
		if o.Service[s] != th.Service[s] || o.ServicePeer[s] != th.ServicePeer[s] {
			t.Errorf("service %s: ours %+v / %+v, libp2p's %+v / %+v", s, o.Service[s], o.ServicePeer[s], th.Service[s], th.ServicePeer[s])
		}
	}
	for _, p := range []protocol.ID{identify.ID, identify.IDPush, ping.ID, circuitproto.ProtoIDv2Hop, circuitproto.ProtoIDv2Stop} {
		if o.Protocol[p] != th.Protocol[p] || o.ProtocolPeer[p] != th.ProtocolPeer[p] {
			t.Errorf("protocol %s: ours %+v / %+v, libp2p's %+v / %+v", p, o.Protocol[p], o.ProtocolPeer[p], th.Protocol[p], th.ProtocolPeer[p])
		}
	}
	if len(o.Service) == 0 || len(o.Protocol) == 0 {
		t.Fatal("no service or protocol limits set")
	}
}
