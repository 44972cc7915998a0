package mesh

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"golang.org/x/time/rate"
)

// Guard pushes back on peers that send too much: every kind of input
// (gossip on a topic, an envelope on the direct stream, a contact-code
// request...) has a rate per peer; what goes beyond it is dropped and
// counted as a strike; a peer that collects too many strikes in a short
// time is disconnected and refused for a while. Gossipsub's peer score
// sees the strikes too (AppScore). Every per-peer entry is freed when the
// peer disconnects, and the tables are bounded.
type Guard struct {
	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex
	buckets map[bucketKey]*rate.Limiter
	strikes map[peer.ID]*strikeCount
	banned  map[peer.ID]time.Time
	h       network.Network
}

type bucketKey struct {
	p     peer.ID
	class string
}

type strikeCount struct {
	n     int
	since time.Time
}

// Rate is how often a peer may send one kind of input: Per per second,
// with bursts of Burst. Strikes is how many strikes one refused input
// counts (0 or 1: one); an input that costs the receiver a stream of its
// own, and that honest peers pace well below the rate, counts more, so
// that a flood of them is cut off after a few refusals rather than
// after hundreds of streams.
type Rate struct {
	Per     float64
	Burst   int
	Strikes int
}

// Limits of the guard.
const (
	// strikesToBan strikes within strikeWindow disconnect a peer.
	strikesToBan = 200
	strikeWindow = 10 * time.Second
	// banFor is how long a disconnected peer is refused.
	banFor = 10 * time.Minute
	// maxGuarded bounds the peers and buckets the guard keeps.
	maxGuarded = 4096
)

// NewGuard returns a guard; Watch connects it to a host.
func NewGuard(log *slog.Logger) *Guard {
	if log == nil {
		log = slog.Default()
	}
	return &Guard{
		log: log, now: time.Now,
		buckets: map[bucketKey]*rate.Limiter{},
		strikes: map[peer.ID]*strikeCount{},
		banned:  map[peer.ID]time.Time{},
	}
}

// Allow reports whether p may send one more input of class at r. Refused
// input is a strike.
func (g *Guard) Allow(p peer.ID, class string, r Rate) bool {
	g.mu.Lock()
	k := bucketKey{p, class}
	b := g.buckets[k]
	if b == nil {
		if len(g.buckets) >= maxGuarded {
			// Full of peers that are still connected: start afresh rather
			// than grow; a flood gets its buckets back within a burst.
			clear(g.buckets)
		}
		b = rate.NewLimiter(rate.Limit(r.Per), r.Burst)
		g.buckets[k] = b
	}
	ok := b.AllowN(g.now(), 1)
	g.mu.Unlock()
	if !ok {
		g.strike(p, max(1, r.Strikes))
	}
	return ok
}

// Strike counts misbehaviour of p; enough of it disconnects and bans p.
func (g *Guard) Strike(p peer.ID) { g.strike(p, 1) }

// strike counts n strikes against p.
func (g *Guard) strike(p peer.ID, n int) {
	g.mu.Lock()
	now := g.now()
	s := g.strikes[p]
	if s == nil || now.Sub(s.since) > strikeWindow {
		if s == nil && len(g.strikes) >= maxGuarded {
			clear(g.strikes)
		}
		s = &strikeCount{since: now}
		g.strikes[p] = s
	}
	s.n += n
	ban := s.n >= strikesToBan
	g.mu.Unlock()
	if ban {
		g.ban(p, "disconnected a peer that sent too much")
	}
}

// Graylisted bans p, which gossipsub's score now ignores: everything p
// sends by gossip would still be read and thrown away, and a peer gets
// there only by sending invalid messages.
func (g *Guard) Graylisted(p peer.ID) {
	g.mu.Lock()
	h := g.h
	g.mu.Unlock()
	// Gossipsub remembers the scores of peers that have left; only those
	// still here need sending away.
	if h != nil && h.Connectedness(p) == network.Connected && !g.Banned(p) {
		g.ban(p, "disconnected a peer that sent invalid messages")
	}
}

// ban disconnects p and refuses it for banFor.
func (g *Guard) ban(p peer.ID, msg string) {
	g.mu.Lock()
	now := g.now()
	delete(g.strikes, p)
	if len(g.banned) >= maxGuarded {
		g.expireBans(now)
	}
	g.banned[p] = now.Add(banFor)
	h := g.h
	g.mu.Unlock()
	g.log.Info(msg, "peer", p, "for", banFor)
	if h != nil {
		h.ClosePeer(p)
	}
}

// expireBans forgets bans that are over; g.mu is held.
func (g *Guard) expireBans(now time.Time) {
	for p, until := range g.banned {
		if now.After(until) {
			delete(g.banned, p)
		}
	}
}

// Banned reports whether p is refused for now.
func (g *Guard) Banned(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	until, ok := g.banned[p]
	if ok && g.now().After(until) {
		delete(g.banned, p)
		return false
	}
	return ok
}

// BannedCount counts the peers refused for now.
func (g *Guard) BannedCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expireBans(g.now())
	return len(g.banned)
}

// AppScore is the guard's view of p for gossipsub's peer score: negative
// while p collects strikes, far below the graylist threshold once banned.
func (g *Guard) AppScore(p peer.ID) float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.banned[p]; ok {
		return -10000
	}
	if s := g.strikes[p]; s != nil {
		return -10 * float64(s.n)
	}
	return 0
}

// forget frees what the guard holds about p, but a ban.
func (g *Guard) forget(p peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k := range g.buckets {
		if k.p == p {
			delete(g.buckets, k)
		}
	}
	delete(g.strikes, p)
}

// Serve frees a peer's entries when it disconnects, until ctx is done.
func (g *Guard) Serve(ctx context.Context, h network.Network) error {
	g.mu.Lock()
	g.h = h
	g.mu.Unlock()
	// A peer still reached through a circuit keeps its entries.
	nb := &network.NotifyBundle{DisconnectedF: func(n network.Network, c network.Conn) {
		if n.Connectedness(c.RemotePeer()) == network.NotConnected {
			g.forget(c.RemotePeer())
		}
	}}
	h.Notify(nb)
	defer h.StopNotify(nb)
	<-ctx.Done()
	return nil
}

// Gater refuses connections from and to banned peers, and bounds the
// unfinished handshakes from one address.
func (g *Guard) Gater() *GuardGater {
	return &GuardGater{g: g, pending: map[string][]pendingConn{}}
}

// GuardGater is the guard's connection gater. Connections whose handshake
// has not finished hold a slot of the host's few transient ones for up to
// 15 s: an address that opened sockets and never finished them could lock
// every newcomer out. At most maxUnfinished may wait per address.
type GuardGater struct {
	g       *Guard
	mu      sync.Mutex
	pending map[string][]pendingConn
}

type pendingConn struct {
	remote string
	since  time.Time
}

// Bounds of unfinished handshakes.
const (
	maxUnfinished   = 16
	handshakeWindow = 15 * time.Second
)

func (gg *GuardGater) InterceptPeerDial(p peer.ID) bool                 { return !gg.g.Banned(p) }
func (gg *GuardGater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return !gg.g.Banned(p) }

func (gg *GuardGater) InterceptAccept(c network.ConnMultiaddrs) bool {
	ip := addrIP(c.RemoteMultiaddr())
	now := gg.g.now()
	gg.mu.Lock()
	defer gg.mu.Unlock()
	live := gg.pending[ip][:0]
	for _, pc := range gg.pending[ip] {
		if now.Sub(pc.since) < handshakeWindow {
			live = append(live, pc)
		}
	}
	if len(live) >= maxUnfinished {
		gg.pending[ip] = live
		return false
	}
	if len(gg.pending) >= maxGuarded {
		clear(gg.pending)
	}
	gg.pending[ip] = append(live, pendingConn{remote: c.RemoteMultiaddr().String(), since: now})
	return true
}

func (gg *GuardGater) InterceptSecured(dir network.Direction, p peer.ID, c network.ConnMultiaddrs) bool {
	if dir == network.DirInbound {
		gg.done(c.RemoteMultiaddr())
	}
	return !gg.g.Banned(p)
}

// done forgets the unfinished handshake from remote.
func (gg *GuardGater) done(remote ma.Multiaddr) {
	ip, r := addrIP(remote), remote.String()
	gg.mu.Lock()
	defer gg.mu.Unlock()
	ps := gg.pending[ip]
	for i, pc := range ps {
		if pc.remote == r {
			ps = append(ps[:i], ps[i+1:]...)
			break
		}
	}
	if len(ps) == 0 {
		delete(gg.pending, ip)
	} else {
		gg.pending[ip] = ps
	}
}

func (gg *GuardGater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) {
	return true, 0
}
