package mesh

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/proto"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	ma "github.com/multiformats/go-multiaddr"
)

// A relay also serves circuit relay v2 (/libp2p/circuit/relay/0.2.0/hop),
// so that nodes on segments that cannot reach each other (two access
// points with a router between them) still meet through it. Circuits are
// "limited" connections: gossipsub ignores them, so they carry catch-up
// sync and direct delivery only, and the relay's own store-and-forward
// stays the main path.

// CircuitLimits bounds the circuit relay service of a relay. A zero field
// is DefaultCircuitLimits' value.
type CircuitLimits struct {
	// Reservations is the most peers that hold a slot at once (one each).
	Reservations int
	// ReservationsPerIP is the most slots peers from one address may hold:
	// a segment behind a NAT router shows up as one address, but one
	// address must not take every slot.
	ReservationsPerIP int
	// PerPeer is the most circuits open at once to or from one peer.
	PerPeer int
	// Duration and Data bound one circuit: it is reset after Duration, or
	// once Data bytes went through it in either direction.
	Duration time.Duration
	Data     int64
}

// DefaultCircuitLimits are sized for a village: a slot for every node of
// a large one (a relay's connection manager keeps 64 to 256 peers); half
// of them behind one router; a handful of contacts and groups syncing with
// one peer at once; and a circuit long and large enough for a catch-up
// sync of a week of a busy group, or collecting a mailbox (thousands of
// envelopes of a few hundred bytes), where libp2p's default of 2 minutes
// and 128 KiB cuts a sync short. A cut circuit is dialled again and sync
// goes on where it stopped, so the limits bound the relay's bandwidth, not
// what can be caught up.
func DefaultCircuitLimits() CircuitLimits {
	return CircuitLimits{
		Reservations:      128,
		ReservationsPerIP: 64,
		PerPeer:           16,
		Duration:          10 * time.Minute,
		Data:              16 << 20,
	}
}

// withDefaults fills zero fields from DefaultCircuitLimits.
func (l CircuitLimits) withDefaults() CircuitLimits {
	d := DefaultCircuitLimits()
	if l.Reservations <= 0 {
		l.Reservations = d.Reservations
	}
	if l.ReservationsPerIP <= 0 {
		l.ReservationsPerIP = min(d.ReservationsPerIP, l.Reservations)
	}
	if l.PerPeer <= 0 {
		l.PerPeer = d.PerPeer
	}
	if l.Duration <= 0 {
		l.Duration = d.Duration
	}
	if l.Data <= 0 {
		l.Data = d.Data
	}
	return l
}

// CircuitRelay is the circuit relay v2 service a relay runs.
type CircuitRelay struct{ r *relayv2.Relay }

// NewCircuitRelay starts serving circuits on h within the limits. libp2p's
// own relay service (libp2p.EnableRelayService) starts only once AutoNAT
// says the host is public, which never happens on an offline LAN, so the
// service is built here.
func NewCircuitRelay(h host.Host, l CircuitLimits) (*CircuitRelay, error) {
	l = l.withDefaults()
	rc := relayv2.DefaultResources()
	rc.Limit = &relayv2.RelayLimit{Duration: l.Duration, Data: l.Data}
	rc.MaxReservations = l.Reservations
	rc.MaxReservationsPerIP = l.ReservationsPerIP
	// ASNs are for the internet; a LAN's IPv6 addresses have none.
	rc.MaxReservationsPerASN = l.Reservations
	rc.MaxCircuits = l.PerPeer
	r, err := relayv2.New(h, relayv2.WithResources(rc))
	if err != nil {
		return nil, fmt.Errorf("circuit relay: %w", err)
	}
	return &CircuitRelay{r: r}, nil
}

// Close stops serving circuits; those open are reset.
func (c *CircuitRelay) Close() error { return c.r.Close() }

// IsCircuitRelay reports whether identify said that p is a Banyan relay
// that serves circuits.
func IsCircuitRelay(h host.Host, p peer.ID) bool {
	ps, err := h.Peerstore().SupportsProtocols(p, proto.ProtoIDv2Hop)
	return err == nil && len(ps) > 0 && IsRelay(h, p)
}

// CircuitAddr is the address of any peer with a slot on relay r:
// /p2p/R/p2p-circuit, to which the peer's /p2p/ID is appended.
func CircuitAddr(r peer.ID) ma.Multiaddr {
	return ma.StringCast("/p2p/" + r.String() + "/p2p-circuit")
}

// Reserve takes, or renews, a slot on relay r, to which this node is
// directly connected, and returns when it expires.
func Reserve(ctx context.Context, h host.Host, r peer.ID) (time.Time, error) {
	ctx, cancel := context.WithTimeout(network.WithNoDial(ctx, "circuit reservation"), directTimeout)
	defer cancel()
	rsv, err := client.Reserve(ctx, h, peer.AddrInfo{ID: r})
	if err != nil {
		return time.Time{}, fmt.Errorf("reserve a slot on %s: %w", r, err)
	}
	return rsv.Expiration, nil
}
