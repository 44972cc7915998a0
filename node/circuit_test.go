package node_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/node/nodetest"
)

// segments is a connection gater that, once split, refuses every direct
// connection to or from other, as a router between two access points
// does; circuits through a relay still pass.
type segments struct {
	other atomic.Value // peer.ID
	split atomic.Bool
}

func isCircuit(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

func (s *segments) allowed(p peer.ID, a ma.Multiaddr) bool {
	return !s.split.Load() || s.other.Load() != p || isCircuit(a)
}

func (s *segments) InterceptPeerDial(peer.ID) bool                   { return true }
func (s *segments) InterceptAddrDial(p peer.ID, a ma.Multiaddr) bool { return s.allowed(p, a) }
func (s *segments) InterceptAccept(network.ConnMultiaddrs) bool      { return true }
func (s *segments) InterceptSecured(_ network.Direction, p peer.ID, c network.ConnMultiaddrs) bool {
	return s.allowed(p, c.RemoteMultiaddr())
}
func (s *segments) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

// A and C, in one group, end up on segments that cannot reach each other;
// both know relay R. A's messages, written while apart, reach C by a
// catch-up sync over a circuit through R, though R keeps nothing of the
// group (nobody registered it) and gossip ignores the circuit.
func TestSyncThroughACircuit(t *testing.T) {
	r := nodetest.StartWith(t, "", func(o *node.Options) { o.Relay = true })
	var gates []*segments
	var nodes []*nodetest.Node
	for range 2 {
		hm := home.Home(t.TempDir())
		id, err := hm.Init(nil)
		if err != nil {
			t.Fatal(err)
		}
		g := &segments{}
		h, err := mesh.NewHost(mesh.HostOptions{Identity: id, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}, Gater: g, Circuits: true})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, nodetest.StartWith(t, hm, func(o *node.Options) { o.Host = h }, r.Info()))
		gates = append(gates, g)
	}
	a, c := nodes[0], nodes[1]
	gates[0].other.Store(c.ID())
	gates[1].other.Store(a.ID())
	// Each reached the other once, so each remembers the other.
	for _, p := range [][2]*nodetest.Node{{a, c}, {c, a}} {
		if err := p[0].Host().Connect(context.Background(), p[1].Info()); err != nil {
			t.Fatal(err)
		}
	}
	g := nodetest.JoinAll(t, []*nodetest.Node{a, c})

	for _, s := range gates {
		s.split.Store(true)
	}
	a.Host().Network().ClosePeer(c.ID())
	sent := nodetest.SendN(t, a, g, 50, "across the segments %d")
	nodetest.Eventually(t, 60*time.Second, "c to get a's messages through the relay", func() (bool, string) {
		return nodetest.HasAll(t, c, g, sent)
	})
	if a.Host().Network().Connectedness(c.ID()) != network.Limited {
		t.Fatalf("a is %v to c, want limited (a circuit)", a.Host().Network().Connectedness(c.ID()))
	}
	for _, conn := range a.Host().Network().ConnsToPeer(c.ID()) {
		if !conn.Stat().Limited {
			t.Fatalf("a reached c by a direct connection %s", conn.RemoteMultiaddr())
		}
	}
	if r.Engine().Keeps(g.Scope()) {
		t.Fatal("the relay keeps the group, so the messages could have come from it")
	}
}
