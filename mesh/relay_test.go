package mesh

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/zeroconf/v2"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
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

// A hostile relay's answers: none is taken for what it is not. A refusal
// is ErrRelayRefused, a list longer than MaxRelayScopes, cut short or
// trailed by a flood is an error, and nothing is read beyond the longest
// answer there can be.
func TestAskRelayHostileAnswers(t *testing.T) {
	relay, asker := newTestHost(t), newTestHost(t)
	connect(t, asker, relay)
	var answer []byte
	relay.SetStreamHandler(RelayProtocol, func(s network.Stream) {
		defer s.Close()
		var req [relayRequestSize]byte
		if _, err := io.ReadFull(s, req[:]); err != nil {
			s.Reset()
			return
		}
		s.Write(answer)
	})
	scope := event.Scope{1}
	full := append([]byte{0, MaxRelayScopes}, bytes.Repeat(scope[:], MaxRelayScopes)...)
	for _, c := range []struct {
		name   string
		op     RelayOp
		answer []byte
		ok     bool
		want   error
	}{
		{"refused", RelayAdd, []byte{1}, false, ErrRelayRefused},
		{"unknown status", RelayAdd, []byte{7}, false, ErrRelayRefused},
		{"nothing", RelayAdd, nil, false, nil},
		{"too many scopes", RelayList, append([]byte{0, MaxRelayScopes + 1}, bytes.Repeat(scope[:], MaxRelayScopes+1)...), false, nil},
		{"cut short", RelayList, []byte{0, 2, 1, 2, 3}, false, nil},
		{"a flood after a full list", RelayList, append(full, make([]byte, 1<<20)...), true, nil},
		{"added", RelayAdd, []byte{0}, true, nil},
	} {
		answer = c.answer
		scopes, err := AskRelay(context.Background(), asker, relay.ID(), c.op, event.Scope{})
		switch {
		case c.ok && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case !c.ok && err == nil:
			t.Errorf("%s: taken, %d scopes", c.name, len(scopes))
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if c.ok && c.op == RelayList && len(scopes) != MaxRelayScopes {
			t.Errorf("%s: %d scopes", c.name, len(scopes))
		}
	}
}
