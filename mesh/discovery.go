package mesh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	ma "github.com/multiformats/go-multiaddr"
	"golang.org/x/time/rate"
)

// MDNSService is the mDNS service name Banyan nodes advertise and browse.
// It differs from libp2p's default so that Banyan nodes find only each other.
const MDNSService = "_banyan-mesh._udp"

// PeerBook remembers peers this node has been connected to, so that it can
// redial them after they drop or after a restart.
type PeerBook interface {
	PutPeer(KnownPeer) error
	Peers() ([]KnownPeer, error)
}

// KnownPeer is an entry of the peer book: a peer this node has been
// connected to, and where it was reachable.
type KnownPeer struct {
	ID       peer.ID   `json:"id"`
	Addrs    []string  `json:"addrs"`
	LastSeen time.Time `json:"last_seen"`
}

// AddrInfo returns the peer's ID and parseable addresses.
func (p KnownPeer) AddrInfo() peer.AddrInfo {
	ai := peer.AddrInfo{ID: p.ID}
	for _, a := range p.Addrs {
		if m, err := ma.NewMultiaddr(a); err == nil {
			ai.Addrs = append(ai.Addrs, m)
		}
	}
	return ai
}

// DiscoveryOptions configures NewDiscovery.
type DiscoveryOptions struct {
	// MDNS enables multicast DNS discovery on the LAN.
	MDNS bool
	// Relay also advertises this node over mDNS as a relay
	// (MDNSRelayService).
	Relay bool
	// Circuits reserves a slot on the relays this node is connected to
	// (unless it is a relay itself), so that peers on other segments reach
	// it through them, and dials a peer it cannot reach directly through
	// them. It needs a host with circuits (HostOptions.Circuits).
	Circuits bool
	// Static peers are kept connected whatever happens.
	Static []peer.AddrInfo
	Book   PeerBook
	Logger *slog.Logger
	// OnConnect, if set, is called when this node connects to a peer it
	// was not connected to. Only one side of a meeting is told (the one
	// with the lower peer ID), whichever dialled, so that two peers that
	// meet do not both start the same work. It is called from the
	// network's notifications and must not block.
	OnConnect func(peer.ID)
}

// Discovery finds peers and keeps this node connected to them: it dials
// what mDNS reports, redials remembered peers after they drop, and keeps
// static peers connected with backoff.
type Discovery struct {
	h    host.Host
	opts DiscoveryOptions
	log  *slog.Logger

	mu      sync.Mutex
	backoff map[peer.ID]*retry
	dialing map[peer.ID]bool
	// found holds peers mDNS reported: it reports a peer only once per
	// TTL, so one failed dial must not be the last.
	found map[peer.ID]peer.AddrInfo
	kick  chan struct{}
	// ctx is Serve's context while it runs; nil before and after. Every
	// goroutine discovery starts is counted in wg, which Serve waits for.
	ctx context.Context
	wg  sync.WaitGroup
	// dials bounds the dials discovery starts on its own, whatever it is
	// told of.
	dials *rate.Limiter
	// slots are this node's reservations on relays, at most maxSlots; one
	// goes when the relay's direct connection does, as the relay's does.
	slots map[peer.ID]*slot
}

// slot is a reservation on a relay: taken or asked for, and when to ask
// again.
type slot struct {
	renew  time.Time
	asking bool
	held   bool
}

type retry struct {
	next  time.Time
	delay time.Duration
	// failing is set once a failed redial was logged, so that the next
	// connection says the peer is back.
	failing bool
}

// Backoff bounds for redials.
const (
	minRedial = time.Second
	// A LAN dial costs little, and a partition should heal within
	// seconds of the link coming back.
	maxRedial    = 30 * time.Second
	maxStatic    = 15 * time.Second
	dialTimeout  = 15 * time.Second
	maxDialsOnce = 8
	// maxFound bounds the peers mDNS can make this node redial.
	maxFound = 1024
	// dialBudget and dialBurst bound the dials discovery starts itself,
	// per second.
	dialBudget = 2
	dialBurst  = 16
	// maxSlots bounds the relays this node holds a slot on, and tries to
	// reach a peer through: a village has one or two.
	maxSlots = 4
	// A slot is renewed this long before it expires (relays give an hour),
	// or asked for again this long after a refusal.
	renewBefore = 10 * time.Minute
	slotRetry   = time.Minute
)

// NewDiscovery creates a discovery service for h.
func NewDiscovery(h host.Host, opts DiscoveryOptions) *Discovery {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Discovery{
		h: h, opts: opts, log: opts.Logger,
		backoff: map[peer.ID]*retry{},
		dialing: map[peer.ID]bool{},
		found:   map[peer.ID]peer.AddrInfo{},
		slots:   map[peer.ID]*slot{},
		kick:    make(chan struct{}, 1),
		dials:   rate.NewLimiter(dialBudget, dialBurst),
	}
}

// Serve runs discovery until ctx is done.
func (d *Discovery) Serve(ctx context.Context) error {
	for _, s := range d.opts.Static {
		d.h.Peerstore().AddAddrs(s.ID, s.Addrs, peerstore.PermanentAddrTTL)
		d.h.ConnManager().Protect(s.ID, "static")
	}
	d.mu.Lock()
	d.ctx = ctx
	d.mu.Unlock()
	// Refuse new goroutines before waiting for the running ones.
	defer d.wg.Wait()
	defer func() {
		d.mu.Lock()
		d.ctx = nil
		d.mu.Unlock()
	}()
	notifee := &network.NotifyBundle{
		ConnectedF: func(_ network.Network, c network.Conn) {
			d.connected(c)
			if len(d.h.Network().ConnsToPeer(c.RemotePeer())) > 1 {
				d.spawn(func(ctx context.Context) { d.checkDuplicate(ctx, c.RemotePeer(), c) })
			}
		},
		DisconnectedF: func(n network.Network, c network.Conn) {
			if n.Connectedness(c.RemotePeer()) != network.Connected {
				d.mu.Lock()
				delete(d.slots, c.RemotePeer())
				d.mu.Unlock()
			}
			if n.Connectedness(c.RemotePeer()) == network.NotConnected {
				d.log.Info("peer disconnected", "peer", c.RemotePeer())
				d.poke()
			}
		},
	}
	d.h.Network().Notify(notifee)
	defer d.h.Network().StopNotify(notifee)
	idSub, err := d.h.EventBus().Subscribe(new(event.EvtPeerIdentificationCompleted))
	if err != nil {
		return err
	}
	defer idSub.Close()
	d.spawn(func(ctx context.Context) {
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-idSub.Out():
				if !ok {
					return
				}
				d.identified(e.(event.EvtPeerIdentificationCompleted))
			}
		}
	})

	if d.opts.MDNS {
		d.spawn(d.runMDNS)
	}
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		d.redial(ctx)
		d.reserve()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-d.kick:
		}
	}
}

// spawn runs fn in a goroutine that Serve waits for, with Serve's context;
// it does nothing when Serve is not running.
func (d *Discovery) spawn(fn func(ctx context.Context)) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx == nil {
		return false
	}
	ctx := d.ctx
	d.wg.Go(func() { fn(ctx) })
	return true
}

func (d *Discovery) poke() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// connected remembers a newly connected peer and where it was reached.
func (d *Discovery) connected(c network.Conn) {
	p := c.RemotePeer()
	d.mu.Lock()
	back := d.backoff[p] != nil && d.backoff[p].failing
	delete(d.backoff, p)
	d.mu.Unlock()
	if first := len(d.h.Network().ConnsToPeer(p)) == 1; first {
		msg := "peer connected"
		if back {
			msg = "reached peer again"
		}
		d.log.Info(msg, "peer", p, "addr", c.RemoteMultiaddr(), "dir", c.Stat().Direction.String())
	}
	// Only peers this node reached itself are remembered (and redialled):
	// a peer that called in may claim any address, and redialling what it
	// claims would make this node a tool against third parties. A circuit
	// is not remembered either: it would replace where the peer really
	// is, and Connect finds the circuit again through the relay.
	if c.Stat().Direction == network.DirOutbound && !c.Stat().Limited {
		d.remember(p, c.RemoteMultiaddr())
	}
	if d.opts.OnConnect != nil && d.h.ID() < p && len(d.h.Network().ConnsToPeer(p)) == 1 {
		d.opts.OnConnect(p)
	}
}

// remember records a peer this node reached at addr, with the addresses
// it listens on (from identify) on the same IP: a node restarted on
// another port is found again, and nothing it says sends this node to
// another machine.
func (d *Discovery) remember(p peer.ID, reached ma.Multiaddr) {
	if d.opts.Book == nil {
		return
	}
	ip := addrIP(reached)
	addrs := []string{reached.String()}
	for _, a := range d.h.Peerstore().Addrs(p) {
		if s := a.String(); addrIP(a) == ip && ip != "" && s != addrs[0] && !slices.Contains(addrs, s) {
			addrs = append(addrs, s)
		}
	}
	if err := d.opts.Book.PutPeer(KnownPeer{ID: p, Addrs: addrs, LastSeen: time.Now()}); err != nil {
		d.log.Warn("remember peer", "peer", p, "err", err)
	}
}

// addrIP returns the IP address of a multiaddr, or "".
func addrIP(a ma.Multiaddr) string {
	if ip, err := a.ValueForProtocol(ma.P_IP4); err == nil {
		return ip
	}
	if ip, err := a.ValueForProtocol(ma.P_IP6); err == nil {
		return ip
	}
	return ""
}

// identified refreshes a remembered peer's addresses once identify says
// where it listens. A remembered peer that calls in (it restarted on
// another port, say) updates where it listens on the IP it calls from;
// its connection's own port is a passing one, not where it listens.
func (d *Discovery) identified(ev event.EvtPeerIdentificationCompleted) {
	conns := d.h.Network().ConnsToPeer(ev.Peer)
	for _, c := range conns {
		if c.Stat().Limited {
			continue
		}
		if c.Stat().Direction == network.DirOutbound {
			d.remember(ev.Peer, c.RemoteMultiaddr())
			return
		}
	}
	if len(conns) == 0 || d.opts.Book == nil || !d.known(ev.Peer) {
		return
	}
	ip := addrIP(conns[0].RemoteMultiaddr())
	from := conns[0].RemoteMultiaddr().String()
	var addrs []string
	for _, a := range d.h.Peerstore().Addrs(ev.Peer) {
		if s := a.String(); ip != "" && addrIP(a) == ip && s != from && !slices.Contains(addrs, s) {
			addrs = append(addrs, s)
		}
	}
	if len(addrs) == 0 {
		return
	}
	if err := d.opts.Book.PutPeer(KnownPeer{ID: ev.Peer, Addrs: addrs, LastSeen: time.Now()}); err != nil {
		d.log.Warn("remember peer", "peer", ev.Peer, "err", err)
	}
}

// known reports whether the peer book holds p.
func (d *Discovery) known(p peer.ID) bool {
	known, err := d.opts.Book.Peers()
	if err != nil {
		return false
	}
	return slices.ContainsFunc(known, func(k KnownPeer) bool { return k.ID == p })
}

// ConnectSoon dials a peer in the background (an invite's inviter, a new
// contact) and then calls done, if set, with the outcome. It does nothing
// when discovery is not running.
func (d *Discovery) ConnectSoon(ai peer.AddrInfo, done func(error)) {
	d.spawn(func(ctx context.Context) {
		err := d.Connect(ctx, ai)
		if done != nil {
			done(err)
		}
	})
}

// Connect dials a peer now. Discovery paces its dials itself, so the
// swarm's own backoff (5 s after a failure, growing) is bypassed: a peer
// that restarts is reached on the next round, not seconds later. A peer
// that cannot be reached directly is dialled through the relays this node
// is connected to, unless a circuit to it is open already: then only a
// direct connection is tried, which replaces the circuit when the two
// segments meet again.
func (d *Discovery) Connect(ctx context.Context, ai peer.AddrInfo) error {
	if ai.ID == d.h.ID() {
		return nil
	}
	dctx, cancel := context.WithTimeout(network.WithForceDirectDial(ctx, "banyan discovery"), dialTimeout)
	defer cancel()
	err := d.h.Connect(dctx, ai)
	if err == nil || !d.opts.Circuits || d.h.Network().Connectedness(ai.ID) == network.Limited {
		return err
	}
	for _, r := range d.circuitRelays() {
		if r == ai.ID {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, dialTimeout)
		cerr := d.h.Connect(rctx, peer.AddrInfo{ID: ai.ID, Addrs: []ma.Multiaddr{CircuitAddr(r)}})
		cancel()
		if cerr == nil {
			d.log.Debug("reached peer through a relay", "peer", ai.ID, "relay", r)
			return nil
		}
		err = errors.Join(err, fmt.Errorf("through relay %s: %w", r, cerr))
	}
	return err
}

// circuitRelays lists the relays serving circuits that this node is
// directly connected to, at most maxSlots.
func (d *Discovery) circuitRelays() []peer.ID {
	var out []peer.ID
	for _, p := range d.h.Network().Peers() {
		if len(out) < maxSlots && d.h.Network().Connectedness(p) == network.Connected && IsCircuitRelay(d.h, p) {
			out = append(out, p)
		}
	}
	return out
}

// reserve takes a slot on each relay serving circuits that this node is
// connected to, and renews it before it expires, in the background.
func (d *Discovery) reserve() {
	if !d.opts.Circuits || d.opts.Relay {
		return
	}
	now := time.Now()
	for _, r := range d.circuitRelays() {
		d.mu.Lock()
		s := d.slots[r]
		if s == nil {
			if len(d.slots) >= maxSlots {
				d.mu.Unlock()
				continue
			}
			s = &slot{}
			d.slots[r] = s
		}
		if s.asking || now.Before(s.renew) {
			d.mu.Unlock()
			continue
		}
		s.asking = true
		d.mu.Unlock()
		ok := d.spawn(func(ctx context.Context) {
			expires, err := Reserve(ctx, d.h, r)
			d.mu.Lock()
			defer d.mu.Unlock()
			s.asking = false
			if err != nil {
				s.renew = time.Now().Add(slotRetry)
				d.log.Debug("no slot on relay", "relay", r, "err", err)
				return
			}
			s.renew = expires.Add(-renewBefore)
			if soon := time.Now().Add(slotRetry); s.renew.Before(soon) {
				s.renew = soon
			}
			if !s.held {
				d.log.Info("reachable through relay", "relay", r, "addr", CircuitAddr(r).Encapsulate(ma.StringCast("/p2p/"+d.h.ID().String())))
			}
			s.held = true
		})
		if !ok {
			d.mu.Lock()
			s.asking = false
			d.mu.Unlock()
		}
	}
}

// redial dials, in the background, every static or remembered peer that is
// not connected and whose backoff has expired.
func (d *Discovery) redial(ctx context.Context) {
	candidates := map[peer.ID]peer.AddrInfo{}
	static := map[peer.ID]bool{}
	kind := map[peer.ID]string{}
	if d.opts.Book != nil {
		known, err := d.opts.Book.Peers()
		if err != nil {
			d.log.Warn("read peer book", "err", err)
		}
		for _, k := range known {
			candidates[k.ID] = k.AddrInfo()
			kind[k.ID] = "remembered"
		}
	}
	d.mu.Lock()
	for id, ai := range d.found {
		candidates[id] = ai
		kind[id] = "found on the LAN"
	}
	d.mu.Unlock()
	for _, s := range d.opts.Static {
		candidates[s.ID] = s
		static[s.ID] = true
		kind[s.ID] = "static"
	}
	now := time.Now()
	d.mu.Lock()
	for id := range d.backoff {
		if _, ok := candidates[id]; !ok {
			delete(d.backoff, id)
		}
	}
	d.mu.Unlock()
	started := 0
	for id, ai := range candidates {
		if id == d.h.ID() || d.h.Network().Connectedness(id) == network.Connected || started >= maxDialsOnce {
			continue
		}
		d.mu.Lock()
		r := d.backoff[id]
		if r == nil {
			r = &retry{delay: minRedial}
			d.backoff[id] = r
		}
		if d.dialing[id] || now.Before(r.next) || !d.dials.Allow() {
			d.mu.Unlock()
			continue
		}
		d.dialing[id] = true
		limit := maxRedial
		if static[id] {
			limit = maxStatic
		}
		// Jitter spreads out a village's redials after a repeater returns.
		r.next = now.Add(r.delay + rand.N(r.delay/2+1))
		r.delay = min(r.delay*2, limit)
		d.mu.Unlock()
		started++
		done := func() {
			d.mu.Lock()
			delete(d.dialing, id)
			d.mu.Unlock()
		}
		what := kind[id]
		ok := d.spawn(func(ctx context.Context) {
			err := d.Connect(ctx, ai)
			done()
			if err != nil {
				d.dialFailed(id, what, ai, err)
			}
		})
		if !ok {
			done()
		}
	}
}

// dialFailed logs a failed redial: at info the first time, so that a
// person sees which peer is away, then at debug until it is back.
func (d *Discovery) dialFailed(id peer.ID, what string, ai peer.AddrInfo, err error) {
	if d.h.Network().Connectedness(id) != network.NotConnected {
		return // it called in meanwhile, or a circuit reaches it
	}
	d.mu.Lock()
	r := d.backoff[id]
	first := r != nil && !r.failing
	if r != nil {
		r.failing = true
	}
	d.mu.Unlock()
	if first {
		d.log.Info("cannot reach peer; will keep trying", "peer", id, "kind", what, "addrs", ai.Addrs, "err", err)
		return
	}
	d.log.Debug("redial failed", "peer", id, "kind", what, "err", err)
}

// runMDNS runs mDNS, restarting it whenever the host's addresses change,
// because mDNS advertises a snapshot of the addresses taken at start.
func (d *Discovery) runMDNS(ctx context.Context) {
	sub, err := d.h.EventBus().Subscribe(new(event.EvtLocalAddressesUpdated))
	if err != nil {
		d.log.Warn("mdns: watch addresses", "err", err)
		return
	}
	defer sub.Close()
	names := []string{MDNSService}
	if d.opts.Relay {
		names = append(names, MDNSRelayService)
	}
	for {
		var svcs []mdns.Service
		for _, name := range names {
			svc := mdns.NewMdnsService(d.h, name, mdnsNotifee{d: d})
			if err := svc.Start(); err != nil {
				d.log.Warn("mdns start", "service", name, "err", err)
			}
			svcs = append(svcs, svc)
		}
		closeAll := func() {
			for _, svc := range svcs {
				svc.Close()
			}
		}
		select {
		case <-ctx.Done():
			closeAll()
			return
		case <-sub.Out():
			closeAll()
			d.log.Debug("mdns: addresses changed, restarting")
		}
	}
}

type mdnsNotifee struct{ d *Discovery }

// HandlePeerFound dials what mDNS reports; mDNS itself never connects.
// Reports include loopback and bridge addresses that fail to dial; the
// dialer tries them all.
func (n mdnsNotifee) HandlePeerFound(ai peer.AddrInfo) {
	d := n.d
	if ai.ID == d.h.ID() {
		return
	}
	d.mu.Lock()
	if len(d.found) < maxFound {
		d.found[ai.ID] = ai
	}
	d.mu.Unlock()
	if d.h.Network().Connectedness(ai.ID) == network.Connected {
		return
	}
	d.mu.Lock()
	if d.dialing[ai.ID] || !d.dials.Allow() {
		d.mu.Unlock()
		return
	}
	d.dialing[ai.ID] = true
	d.mu.Unlock()
	started := d.spawn(func(ctx context.Context) {
		err := d.Connect(ctx, ai)
		d.mu.Lock()
		delete(d.dialing, ai.ID)
		d.mu.Unlock()
		if err != nil {
			d.log.Debug("mdns dial failed", "peer", ai.ID, "err", err)
			return
		}
		d.log.Debug("found peer on LAN", "peer", ai.ID)
	})
	if !started {
		d.mu.Lock()
		delete(d.dialing, ai.ID)
		d.mu.Unlock()
	}
}
