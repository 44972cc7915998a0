package mesh

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// RelayProtocol is the protocol a relay answers (group registrations,
// PROTOCOL.md section 21). Identify lists it among the relay's protocols,
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

// RelayOp is a request of RelayProtocol.
type RelayOp byte

// The requests of RelayProtocol.
const (
	RelayAdd    RelayOp = 1 // keep the scope's history for me
	RelayRemove RelayOp = 2 // I no longer ask you to keep it
	RelayList   RelayOp = 3 // which scopes did I ask you to keep?
)

// Answers of RelayProtocol.
const (
	relayOK      byte = 0
	relayRefused byte = 1
)

// MaxRelayScopes is the most scopes one peer may register with a relay
// (16 groups with their lists and events),
// and so the most a list answer holds.
const MaxRelayScopes = 48

// ErrRelayRefused reports a registration the relay would not take: it is
// full, or the peer registered MaxRelayScopes already.
var ErrRelayRefused = errors.New("the relay refused: it keeps as many groups as it can, or as many as it takes from one peer")

const relayRequestSize = 1 + event.ScopeSize

// HandleRelay answers RelayProtocol with fn, which is given the peer, the
// request and its scope (zero for RelayList) and returns whether it was
// taken and, for RelayList, the peer's scopes.
func HandleRelay(h host.Host, fn func(from peer.ID, op RelayOp, scope event.Scope) (ok bool, scopes []event.Scope)) {
	h.SetStreamHandler(RelayProtocol, func(s network.Stream) {
		defer s.Close()
		s.SetDeadline(time.Now().Add(directTimeout))
		var req [relayRequestSize]byte
		if _, err := io.ReadFull(s, req[:]); err != nil {
			s.Reset()
			return
		}
		op, scope := RelayOp(req[0]), event.Scope(req[1:])
		if op < RelayAdd || op > RelayList || (op == RelayList && scope != event.Scope{}) {
			s.Reset()
			return
		}
		ok, scopes := fn(s.Conn().RemotePeer(), op, scope)
		out := []byte{relayOK}
		if !ok {
			out[0] = relayRefused
		}
		if op == RelayList {
			scopes = scopes[:min(len(scopes), MaxRelayScopes)]
			out = append(out, byte(len(scopes)))
			for _, sc := range scopes {
				out = append(out, sc[:]...)
			}
		}
		s.Write(out)
	})
}

// AskRelay sends one request of RelayProtocol to p, dialling it if needed,
// and returns the answer: for RelayList, the scopes this node registered.
func AskRelay(ctx context.Context, h host.Host, p peer.ID, op RelayOp, scope event.Scope) ([]event.Scope, error) {
	ctx, cancel := context.WithTimeout(ctx, directTimeout)
	defer cancel()
	s, err := h.NewStream(ctx, p, RelayProtocol)
	if err != nil {
		return nil, fmt.Errorf("ask relay %s: %w", p, err)
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		s.SetDeadline(dl)
	}
	req := append([]byte{byte(op)}, scope[:]...)
	if _, err := s.Write(req); err != nil {
		s.Reset()
		return nil, fmt.Errorf("ask relay %s: %w", p, err)
	}
	r := bufio.NewReader(io.LimitReader(s, 2+MaxRelayScopes*event.ScopeSize))
	status, err := r.ReadByte()
	if err != nil {
		s.Reset()
		return nil, fmt.Errorf("ask relay %s: %w", p, err)
	}
	if status != relayOK {
		return nil, ErrRelayRefused
	}
	if op != RelayList {
		return nil, nil
	}
	n, err := r.ReadByte()
	if err != nil || n > MaxRelayScopes {
		s.Reset()
		return nil, fmt.Errorf("ask relay %s: bad answer", p)
	}
	out := make([]event.Scope, n)
	for i := range out {
		if _, err := io.ReadFull(r, out[i][:]); err != nil {
			s.Reset()
			return nil, fmt.Errorf("ask relay %s: bad answer", p)
		}
	}
	return out, nil
}
