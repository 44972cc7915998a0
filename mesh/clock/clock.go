// Package clock compares this node's clock with its peers'. Every Banyan
// event carries its author's time, and a receiver refuses one from more
// than a few minutes in its own future: a node whose clock is wrong has
// its messages refused by everyone (ahead), or refuses everyone's (behind),
// and nobody is told. So a node asks every peer it connects to for the
// time (/banyan/clock/1), keeps each peer's offset while it is connected,
// and says when most of its peers disagree with it.
package clock

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// ProtocolID is the clock protocol: the side that opens the stream writes
// nothing; the other writes its time, Unix milliseconds as a big-endian
// signed 64-bit integer (8 bytes), and closes the stream.
const ProtocolID protocol.ID = "/banyan/clock/1"

// Timing of the probes.
const (
	// ReprobeEvery is how often a connected peer is asked again.
	ReprobeEvery = 10 * time.Minute
	probeTimeout = 10 * time.Second
	// maxRTT is the slowest answer taken: a slower one says too little
	// about when the peer read its clock.
	maxRTT = 5 * time.Second
	// WarnAt is the disagreement worth telling the user about.
	WarnAt = time.Minute
)

// Options configures New.
type Options struct {
	// Now is this node's clock; nil means time.Now.
	Now func() time.Time
	// Tolerance is how far ahead of a receiver's clock an event may be
	// and still be taken (the engine's MaxClockSkew).
	Tolerance time.Duration
	// Allow reports whether a peer may ask for the time once more now;
	// nil allows every request.
	Allow  func(peer.ID) bool
	Logger *slog.Logger
}

// Clock probes peers' clocks and keeps their offsets.
type Clock struct {
	h    host.Host
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	offsets map[peer.ID]time.Duration // peer's clock minus this node's
	warning string                    // the last warning logged
}

// New returns a Clock for h. Nothing runs until Serve.
func New(h host.Host, opts Options) *Clock {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Clock{h: h, opts: opts, log: opts.Logger, offsets: map[peer.ID]time.Duration{}}
}

// Serve answers peers' requests for the time and asks every connected
// peer, on connection and every ReprobeEvery, until ctx is done.
func (c *Clock) Serve(ctx context.Context) error {
	c.h.SetStreamHandler(ProtocolID, c.answer)
	defer c.h.RemoveStreamHandler(ProtocolID)
	sub, err := c.h.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged))
	if err != nil {
		return fmt.Errorf("clock: %w", err)
	}
	defer sub.Close()
	// One prober at a time: a clock needs no hurry, and the work stays
	// bounded however many peers connect.
	queue := make(chan peer.ID, 256)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case p := <-queue:
				c.probe(ctx, p)
			}
		}
	})
	enqueue := func(p peer.ID) {
		select {
		case queue <- p:
		default: // the next round asks it
		}
	}
	for _, p := range c.h.Network().Peers() {
		enqueue(p)
	}
	t := time.NewTicker(ReprobeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			for _, p := range c.h.Network().Peers() {
				enqueue(p)
			}
		case ev := <-sub.Out():
			e := ev.(event.EvtPeerConnectednessChanged)
			if e.Connectedness == network.Connected {
				enqueue(e.Peer)
			} else {
				c.mu.Lock()
				delete(c.offsets, e.Peer)
				c.mu.Unlock()
				c.report()
			}
		}
	}
}

// answer writes this node's time to a peer that asks.
func (c *Clock) answer(s network.Stream) {
	defer s.Close()
	if c.opts.Allow != nil && !c.opts.Allow(s.Conn().RemotePeer()) {
		s.Reset()
		return
	}
	s.SetDeadline(time.Now().Add(probeTimeout))
	if _, err := s.Write(binary.BigEndian.AppendUint64(nil, uint64(c.opts.Now().UnixMilli()))); err != nil {
		s.Reset()
	}
}

// probe asks p for the time and keeps its offset.
func (c *Clock) probe(ctx context.Context, p peer.ID) {
	off, err := Ask(ctx, c.h, p, c.opts.Now)
	if err != nil {
		c.log.Debug("clock probe", "peer", p, "err", err)
		return
	}
	if c.h.Network().Connectedness(p) != network.Connected {
		return
	}
	c.mu.Lock()
	c.offsets[p] = off
	c.mu.Unlock()
	c.report()
}

// Ask asks p for its time and returns its clock minus now's, judged at
// the middle of the round trip.
func Ask(ctx context.Context, h host.Host, p peer.ID, now func() time.Time) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(network.WithNoDial(ctx, "clock"), probeTimeout)
	defer cancel()
	s, err := h.NewStream(ctx, p, ProtocolID)
	if err != nil {
		return 0, fmt.Errorf("ask time: %w", err)
	}
	defer s.Close()
	s.SetDeadline(time.Now().Add(probeTimeout))
	sent := now()
	var b [8]byte
	if _, err := io.ReadFull(s, b[:]); err != nil {
		s.Reset()
		return 0, fmt.Errorf("ask time: %w", err)
	}
	got := now()
	rtt := got.Sub(sent)
	if rtt > maxRTT || rtt < 0 {
		return 0, fmt.Errorf("ask time: answer took %v", rtt)
	}
	theirs := time.UnixMilli(int64(binary.BigEndian.Uint64(b[:])))
	return theirs.Sub(sent.Add(rtt / 2)), nil
}

// Offset returns p's clock minus this node's, if p has said.
func (c *Clock) Offset(p peer.ID) (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	off, ok := c.offsets[p]
	return off, ok
}

// Skew is how this node's clock compares with its peers'.
type Skew struct {
	// Ahead is how far this node's clock is ahead of the peers' (negative:
	// behind), by the median of their offsets.
	Ahead time.Duration
	// Peers counts the peers that said their time.
	Peers int
	// Warning tells the user, in a sentence, what is wrong; empty when
	// the clock agrees with most peers.
	Warning string
}

// Skew compares this node's clock with the connected peers'.
func (c *Clock) Skew() Skew {
	c.mu.Lock()
	offs := make([]time.Duration, 0, len(c.offsets))
	for _, o := range c.offsets {
		offs = append(offs, o)
	}
	c.mu.Unlock()
	return skewOf(offs, c.opts.Tolerance)
}

// skewOf judges offsets: the median, and of two middle values the one
// nearer to agreement, so that one wrong peer among two does not make
// this node think its own clock wrong.
func skewOf(offs []time.Duration, tolerance time.Duration) Skew {
	sk := Skew{Peers: len(offs)}
	if len(offs) == 0 {
		return sk
	}
	slices.Sort(offs)
	mid := offs[len(offs)/2]
	if len(offs)%2 == 0 && abs(offs[len(offs)/2-1]) < abs(mid) {
		mid = offs[len(offs)/2-1]
	}
	sk.Ahead = -mid
	if abs(sk.Ahead) < WarnAt {
		return sk
	}
	dir, then := "ahead of", "others cannot accept your messages"
	if sk.Ahead < 0 {
		dir, then = "behind", "you cannot accept others' messages"
	}
	whose := fmt.Sprintf("%d peers' clocks", sk.Peers)
	if sk.Peers == 1 {
		whose = "the clock of the one peer that answered"
	}
	if abs(sk.Ahead) > tolerance {
		sk.Warning = fmt.Sprintf("your clock is %s %s %s; %s until it is fixed", Human(abs(sk.Ahead)), dir, whose, then)
	} else {
		sk.Warning = fmt.Sprintf("your clock is %s %s %s; at %s, %s", Human(abs(sk.Ahead)), dir, whose, Human(tolerance), then)
	}
	return sk
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// report logs a change of the warning.
func (c *Clock) report() {
	sk := c.Skew()
	c.mu.Lock()
	changed := sk.Warning != c.warning
	c.warning = sk.Warning
	c.mu.Unlock()
	switch {
	case !changed:
	case sk.Warning != "":
		c.log.Warn(sk.Warning, "ahead", sk.Ahead.Round(time.Second), "peers", sk.Peers)
	default:
		c.log.Info("the clock agrees with the peers' again", "peers", sk.Peers)
	}
}

// Human says a duration the way people do: "1 day", "3 hours", "7 minutes".
func Human(d time.Duration) string {
	unit := func(n int64, what string) string {
		if n == 1 {
			return "1 " + what
		}
		return fmt.Sprintf("%d %ss", n, what)
	}
	switch {
	case d >= 23*time.Hour+30*time.Minute:
		return unit(int64((d+12*time.Hour)/(24*time.Hour)), "day")
	case d >= 59*time.Minute+30*time.Second:
		return unit(int64((d+30*time.Minute)/time.Hour), "hour")
	case d >= 59*time.Second+500*time.Millisecond:
		return unit(int64((d+30*time.Second)/time.Minute), "minute")
	}
	return unit(int64((d+500*time.Millisecond)/time.Second), "second")
}
