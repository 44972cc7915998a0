package mesh

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/zeroconf/v2"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/banyan-mesh/banyan/crypto"
)

// hasMulticast reports whether this machine has an interface, other than
// loopback, that can carry mDNS.
func hasMulticast() bool {
	ifs, err := net.Interfaces()
	if err != nil {
		return false
	}
	for _, i := range ifs {
		if i.Flags&net.FlagUp != 0 && i.Flags&net.FlagMulticast != 0 && i.Flags&net.FlagLoopback == 0 {
			return true
		}
	}
	return false
}

// A relay advertises itself over mDNS under MDNSRelayService, with its
// addresses in the TXT records as under MDNSService; a plain node does
// not. (The village lab tests mDNS between machines; this browses on one.)
func TestRelayAdvertisedOverMDNS(t *testing.T) {
	if !hasMulticast() {
		t.Skip("no multicast interface here: mDNS cannot be browsed")
	}
	start := func(relay bool) *Discovery {
		id, err := crypto.NewIdentity()
		if err != nil {
			t.Fatal(err)
		}
		h, err := NewHost(HostOptions{Identity: id, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/0.0.0.0/tcp/0")}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		d := NewDiscovery(h, DiscoveryOptions{MDNS: true, Relay: relay})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); d.Serve(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		return d
	}
	relay, plain := start(true), start(false)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	entries := make(chan *zeroconf.ServiceEntry, 16)
	go func() { _ = zeroconf.Browse(ctx, MDNSRelayService, "local", entries) }()
	for {
		select {
		case e, ok := <-entries:
			if !ok {
				t.Fatal("browsing ended without finding the relay")
			}
			txt := strings.Join(e.Text, " ")
			if strings.Contains(txt, plain.h.ID().String()) {
				t.Fatal("a plain node is advertised as a relay")
			}
			if strings.Contains(txt, "dnsaddr=") && strings.Contains(txt, relay.h.ID().String()) {
				return
			}
		case <-ctx.Done():
			t.Fatalf("no %s advertisement of the relay within 15 s", MDNSRelayService)
		}
	}
}
