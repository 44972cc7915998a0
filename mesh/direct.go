package mesh

import (
	"bufio"
	"context"
	"encoding/binary"
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

// DirectProtocol hands one envelope straight to a connected peer: the
// sender writes uvarint(length) || envelope, the receiver answers one byte,
// 0 for accepted (or already held) and 1 for refused, and both close.
const DirectProtocol protocol.ID = "/banyan/direct/1"

// ForwardProtocol is DirectProtocol for an envelope the receiver is asked
// to publish on its topic for the sender: the first hop of sealed mail,
// so that the author is not the first to gossip it.
const ForwardProtocol protocol.ID = "/banyan/forward/1"

const directTimeout = 10 * time.Second

// ErrRefused reports an envelope the peer would not take.
var ErrRefused = errors.New("peer refused the envelope")

// HandleDirect registers accept as the receiver of envelopes on proto
// (DirectProtocol or ForwardProtocol). The answer is written as soon as
// accept returns; then, if accept returned a function, it runs: work that
// must not delay the answer.
func HandleDirect(h host.Host, proto protocol.ID, accept func(from peer.ID, raw []byte) (after func(), err error)) {
	h.SetStreamHandler(proto, func(s network.Stream) {
		defer s.Close()
		s.SetDeadline(time.Now().Add(directTimeout))
		r := bufio.NewReader(s)
		n, err := binary.ReadUvarint(r)
		if err != nil || n == 0 || n > event.MaxEnvelopeSize {
			s.Reset()
			return
		}
		raw := make([]byte, n)
		if _, err := io.ReadFull(r, raw); err != nil {
			s.Reset()
			return
		}
		status := byte(0)
		after, err := accept(s.Conn().RemotePeer(), raw)
		if err != nil && !errors.Is(err, ErrIgnore) {
			status = 1
		}
		s.Write([]byte{status})
		s.Close()
		if after != nil {
			after()
		}
	})
}

// SendDirect hands raw to p on proto over an existing connection, a
// circuit through a relay too; it never dials.
func SendDirect(ctx context.Context, h host.Host, proto protocol.ID, p peer.ID, raw []byte) error {
	if h.Network().Connectedness(p) == network.NotConnected {
		return fmt.Errorf("send direct: %s is not connected", p)
	}
	ctx = network.WithAllowLimitedConn(network.WithNoDial(ctx, "direct delivery"), "direct delivery")
	ctx, cancel := context.WithTimeout(ctx, directTimeout)
	defer cancel()
	s, err := h.NewStream(ctx, p, proto)
	if err != nil {
		return fmt.Errorf("send direct: %w", err)
	}
	defer s.Close()
	s.SetDeadline(time.Now().Add(directTimeout))
	if _, err := s.Write(append(binary.AppendUvarint(nil, uint64(len(raw))), raw...)); err != nil {
		s.Reset()
		return fmt.Errorf("send direct: %w", err)
	}
	var status [1]byte
	if _, err := io.ReadFull(s, status[:]); err != nil {
		s.Reset()
		return fmt.Errorf("send direct: %w", err)
	}
	if status[0] != 0 {
		return ErrRefused
	}
	return nil
}
