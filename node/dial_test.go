package node_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/nodetest"
)

// A peer that calls in is not remembered, so nothing it claims about
// where it listens makes this node dial there; a peer this node reached
// is remembered, with addresses on the IP it was reached at only.
func TestOnlyPeersReachedAreRemembered(t *testing.T) {
	victim := nodetest.Start(t, "")
	// A third party the junk peer would like the victim to flood.
	third, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	claimed := ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", third.Addr().(*net.TCPAddr).Port))
	id, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	junk, err := libp2p.New(libp2p.Identity(id.Libp2pKey()), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.AddrsFactory(func([]ma.Multiaddr) []ma.Multiaddr {
			return []ma.Multiaddr{claimed, ma.StringCast("/ip4/10.9.9.9/tcp/7341")}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer junk.Close()
	if err := junk.Connect(context.Background(), victim.Info()); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 10*time.Second, "the victim to learn where the junk peer claims to listen", func() (bool, string) {
		return len(victim.Host().Peerstore().Addrs(junk.ID())) > 0, "identify not done"
	})
	// A peer the victim reaches itself, whose identify claims another
	// machine's address besides its own.
	other := nodetest.StartWith(t, "", func(o *node.Options) { o.Listen = []string{"/ip4/127.0.0.2/tcp/0"} })
	if err := victim.Host().Connect(context.Background(), other.Info()); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 10*time.Second, "the victim to remember the peer it reached", func() (bool, string) {
		known, err := victim.KnownPeers()
		for _, k := range known {
			if k.ID == other.ID() {
				return true, ""
			}
		}
		return false, fmt.Sprint(known, err)
	})
	known, err := victim.KnownPeers()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range known {
		if k.ID == junk.ID() {
			t.Fatalf("the peer that called in is remembered: %v", k.Addrs)
		}
		if k.ID == other.ID() {
			for _, a := range k.Addrs {
				if ip, _ := ma.StringCast(a).ValueForProtocol(ma.P_IP4); ip != "127.0.0.2" {
					t.Fatalf("remembered an address on another IP than the one reached: %s", a)
				}
			}
		}
	}
}

// Sockets that never finish their handshake, from one address, do not
// lock out a newcomer from another.
func TestUnfinishedHandshakesLeaveRoomForNewcomers(t *testing.T) {
	victim := nodetest.Start(t, "")
	var tcp string
	for _, a := range victim.Host().Addrs() {
		if port, err := a.ValueForProtocol(ma.P_TCP); err == nil {
			tcp = "127.0.0.1:" + port
		}
	}
	// The handshakes come from 127.0.0.2; the newcomer dials from
	// 127.0.0.1, where the system puts a dial to loopback.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	for range 100 {
		c, err := d.Dial("tcp", tcp)
		if err != nil {
			continue // refused: the address has used its share
		}
		defer c.Close()
	}
	newcomer := nodetest.Start(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := newcomer.Host().Connect(ctx, victim.Info()); err != nil {
		t.Fatalf("a newcomer could not connect while one address held unfinished handshakes: %v", err)
	}
	if victim.Host().Network().Connectedness(newcomer.ID()) != network.Connected {
		t.Fatal("the victim does not see the newcomer")
	}
}
