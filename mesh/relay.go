package mesh

import (
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// RelayProtocol is the protocol a relay answers (group registrations,
// PROTOCOL.md section 17). Identify lists it among the relay's protocols,
// which is how peers learn that a peer is a relay.
const RelayProtocol protocol.ID = "/banyan/relay/1"

// MDNSRelayService is the second mDNS service name a relay advertises
// itself under, beside MDNSService, so that a relay can be found on the
// LAN without connecting to every node.
const MDNSRelayService = "_banyan-relay._udp"

// IsRelay reports whether identify said that p is a relay.
func IsRelay(h host.Host, p peer.ID) bool {
	ps, err := h.Peerstore().SupportsProtocols(p, RelayProtocol)
	return err == nil && len(ps) > 0
}

// RelaysFirst orders peers with relays first, keeping the order otherwise.
func RelaysFirst(h host.Host, peers []peer.ID) []peer.ID {
	out := make([]peer.ID, 0, len(peers))
	var rest []peer.ID
	for _, p := range peers {
		if IsRelay(h, p) {
			out = append(out, p)
		} else {
			rest = append(rest, p)
		}
	}
	return append(out, rest...)
}
