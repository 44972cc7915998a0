package mesh

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	mss "github.com/multiformats/go-multistream"
)

// probeTimeout bounds the liveness probe of an older connection.
const probeTimeout = 5 * time.Second

// checkDuplicate runs when a peer has more than one connection. That is
// normal after a simultaneous dial, but it is also what a peer that crashed
// and restarted looks like: its old QUIC connection stays up here until an
// idle timeout, since nothing tells this side it died. Gossipsub handles
// that badly: when the stale connection finally dies it forgets the peer's
// subscriptions, which the peer never resends, and the group goes quiet
// between the two. So each older connection is probed, and if one is dead
// every connection to the peer is closed; both sides then reconnect with
// fresh gossipsub state.
func (d *Discovery) checkDuplicate(ctx context.Context, p peer.ID, newest network.Conn) {
	for _, c := range d.h.Network().ConnsToPeer(p) {
		if c == newest || c.IsClosed() {
			continue
		}
		if err := probe(ctx, c); err != nil {
			d.log.Info("stale connection to restarted peer; reconnecting", "peer", p, "err", err)
			d.h.Network().ClosePeer(p)
			d.poke()
			return
		}
	}
}

// probe runs one libp2p ping on connection c itself, not on whatever
// connection the host would choose.
func probe(ctx context.Context, c network.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	s, err := c.NewStream(ctx)
	if err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	defer s.Close()
	s.SetDeadline(time.Now().Add(probeTimeout))
	if err := s.SetProtocol(ping.ID); err != nil {
		return err
	}
	if err := mss.SelectProtoOrFail(ping.ID, s); err != nil {
		return fmt.Errorf("select ping: %w", err)
	}
	out := make([]byte, ping.PingSize)
	rand.Read(out)
	if _, err := s.Write(out); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	in := make([]byte, ping.PingSize)
	if _, err := io.ReadFull(s, in); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if !bytes.Equal(in, out) {
		return fmt.Errorf("ping echo differs")
	}
	return nil
}
