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

const directTimeout = 10 * time.Second

// ErrRefused reports an envelope the peer would not take.
var ErrRefused = errors.New("peer refused the envelope")

// HandleDirect registers accept as the receiver of direct envelopes.
func HandleDirect(h host.Host, accept func(from peer.ID, raw []byte) error) {
	h.SetStreamHandler(DirectProtocol, func(s network.Stream) {
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
		if err := accept(s.Conn().RemotePeer(), raw); err != nil && !errors.Is(err, ErrIgnore) {
			status = 1
		}
		s.Write([]byte{status})
	})
}

// SendDirect hands raw to p over an existing connection; it never dials.
func SendDirect(ctx context.Context, h host.Host, p peer.ID, raw []byte) error {
	if h.Network().Connectedness(p) != network.Connected {
		return fmt.Errorf("send direct: %s is not connected", p)
	}
	ctx, cancel := context.WithTimeout(network.WithNoDial(ctx, "direct delivery"), directTimeout)
	defer cancel()
	s, err := h.NewStream(ctx, p, DirectProtocol)
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
