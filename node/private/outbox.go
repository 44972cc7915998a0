package private

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/crypto/ratchet"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/store"
)

// How sealed mail leaves its author, so that a node connected to both ends
// learns as little as it can of who writes to whom:
//
//   - If the recipient is connected, the envelope goes to the recipient
//     alone (the direct stream). Nobody gossips it; carriers get it by sync.
//   - Otherwise it is handed to one neighbour, a relay if one is connected
//     (it is always on), else one chosen at random, which publishes it on
//     the mailbox topic for the author (the forward stream): the first
//     node to gossip it is not its author. A relay taking it learns who
//     wrote it, as any first hop does (docs/RELAY.md).
//   - With no neighbour, it waits on disk; sync carries it on the next
//     contact.
//   - Beyond pace (a burst faster than a peer takes on these streams),
//     it is left to a sync with the recipient, or the next one with
//     anyone: a peer refuses, and counts against the sender, what comes
//     faster than its limit (PROTOCOL.md section 11.1).
//
// Receipts are not sent at once: they wait a random time, and those for
// one contact go together.
const (
	forwardTries   = 3
	receiptMinWait = time.Second
	receiptMaxWait = 10 * time.Second
)

// dispatch hands a stored envelope for recipient to the network.
func (s *Service) dispatch(ctx context.Context, recipient peer.ID, e *event.Event) {
	// A circuit through a relay carries it as well as a direct connection.
	if s.host.Network().Connectedness(recipient) != network.NotConnected {
		if !s.pace.allow(recipient) {
			s.syncer.Trigger(recipient)
			return
		}
		if err := mesh.SendDirect(ctx, s.host, mesh.DirectProtocol, recipient, e.Raw); err == nil {
			return
		}
	}
	peers := s.host.Network().Peers()
	rand.Shuffle(len(peers), func(i, j int) { peers[i], peers[j] = peers[j], peers[i] })
	// A relay is always there to carry it on.
	peers = mesh.RelaysFirst(s.host, peers)
	tries := 0
	for _, p := range peers {
		if p == recipient {
			continue
		}
		if !s.pace.allow(p) {
			continue
		}
		if tries++; tries > forwardTries {
			break
		}
		if err := mesh.SendDirect(ctx, s.host, mesh.ForwardProtocol, p, e.Raw); err == nil {
			return
		}
	}
	s.log.Debug("no neighbour took the mail; it waits for a sync", "envelope", e.ID)
}

// sendRate is how fast this node hands envelopes to one peer on the direct
// and forward streams: half of what a peer takes (20/s, bursts of 100), so
// that an honest sender is never refused.
var sendRate = mesh.Rate{Per: 10, Burst: 50}

// pacer keeps the sending side of sendRate, per peer.
type pacer struct {
	mu    sync.Mutex
	peers map[peer.ID]*rate.Limiter
}

// maxPaced bounds the peers paced; beyond it the pacer starts afresh,
// which the receivers' limits tolerate: they are twice the pace.
const maxPaced = 1024

func (p *pacer) allow(id peer.ID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.peers[id]
	if l == nil {
		if p.peers == nil || len(p.peers) >= maxPaced {
			p.peers = map[peer.ID]*rate.Limiter{}
		}
		l = rate.NewLimiter(rate.Limit(sendRate.Per), sendRate.Burst)
		p.peers[id] = l
	}
	return l.Allow()
}

// receipts collects the receipts waiting to be sent, per contact.
type receipts struct {
	mu      sync.Mutex
	pending map[peer.ID]*pendingReceipts
	wake    chan struct{}
	// minWait and maxWait bound the random wait.
	minWait, maxWait time.Duration
}

type pendingReceipts struct {
	due       time.Time
	delivered [][]byte
	read      [][]byte
}

// maxPendingReceipts bounds the references waiting for one contact; more
// go out at once.
const maxPendingReceipts = maxReceiptRefs

// add queues a receipt of type t for message ref to p.
func (r *receipts) add(now time.Time, p peer.ID, t dmType, refs ...[]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pr := r.pending[p]
	if pr == nil {
		wait := r.minWait + rand.N(r.maxWait-r.minWait+1)
		pr = &pendingReceipts{due: now.Add(wait)}
		r.pending[p] = pr
	}
	if t == dmRead {
		pr.read = append(pr.read, refs...)
	} else {
		pr.delivered = append(pr.delivered, refs...)
	}
	if len(pr.read)+len(pr.delivered) >= maxPendingReceipts {
		pr.due = now
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// due takes the receipts whose time has come: all of them for a zero now.
func (r *receipts) due(now time.Time) map[peer.ID]*pendingReceipts {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[peer.ID]*pendingReceipts{}
	for p, pr := range r.pending {
		if now.IsZero() || !now.Before(pr.due) {
			out[p] = pr
			delete(r.pending, p)
		}
	}
	return out
}

// flushTime bounds sending what still waits when the node stops.
const flushTime = 3 * time.Second

// sendReceipts sends the receipts that are due at now (all for zero).
func (s *Service) sendReceipts(ctx context.Context, now time.Time) {
	for p, pr := range s.receipts.due(now) {
		s.receipt(ctx, p, dmDelivered, pr.delivered)
		s.receipt(ctx, p, dmRead, pr.read)
	}
}

// The delivery cursor is how far in the arrival log this node has looked
// for its own mail:
//
//	delivery  "cursor"  -> arrival (8)
var cursorKey = []byte("cursor")

// deliverPending opens the mail of this node's own bucket that arrived
// since the cursor, and moves the cursor. Reading from the store rather
// than from arrivals in memory means a crash or a burst loses nothing.
func (s *Service) deliverPending(ctx context.Context) error {
	var since uint64
	if b, err := s.rec.delivery.Get(cursorKey); err == nil && len(b) == 8 {
		since = binary.BigEndian.Uint64(b)
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	own := MailboxScope(s.mail.own)
	for ctx.Err() == nil {
		// The bucket's mail only: what else arrives (a group's history
		// coming back after a week away) is passed unread.
		evs, last, err := s.rec.st.ScopeArrivalsSince(own, since, 4096)
		if err != nil || last == since {
			return err
		}
		for i, u := range s.unsealAll(evs) {
			if u != nil {
				s.deliver(evs[i], u)
			}
		}
		since = last
		if err := s.rec.delivery.Put(cursorKey, binary.BigEndian.AppendUint64(nil, since)); err != nil {
			return err
		}
	}
	return nil
}

// unsealAll opens the sealed layer of each envelope, on every core: a
// Diffie-Hellman and a signature check each, most of the work of taking
// mail (1,000 waiting messages took 0.4 s on one core). The sessions then
// read them one by one, in order. An envelope that does not open (not for
// this node, or malformed) is nil.
func (s *Service) unsealAll(evs []*event.Event) []*ratchet.Unsealed {
	out := make([]*ratchet.Unsealed, len(evs))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, e := range evs {
		g.Go(func() error {
			out[i], _ = ratchet.Unseal(s.keys, e.Payload)
			return nil
		})
	}
	g.Wait()
	return out
}
