package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// ProtocolID is the sync stream protocol.
const ProtocolID protocol.ID = "/banyan/sync/1"

// Store is what the syncer needs from the node.
type Store interface {
	// Scopes lists the scopes this node replicates and the floor below
	// which it keeps nothing (its retention horizon).
	Scopes() []Scope
	// Items returns a scope's items in [lo, hi), in order.
	Items(scope event.Scope, lo, hi Bound) ([]Item, error)
	// Envelopes returns the stored envelopes of the given IDs in scope,
	// to send to peer to, skipping those it does not have there (and may
	// skip those it knows the peer would refuse now).
	Envelopes(scope event.Scope, to peer.ID, ids []event.ID) ([][]byte, error)
	// Accept validates envelopes received for scope from peer and stores
	// the valid ones, with the same checks gossip applies. It returns how
	// many were invalid (duplicates are not).
	Accept(scope event.Scope, from peer.ID, raws [][]byte) (rejected int, err error)
	// Synced records that peer held every event of scope that this node
	// had stored up to arrival when the sync began.
	Synced(scope event.Scope, p peer.ID, arrival uint64)
	// Arrival returns the newest position of the local arrival log.
	Arrival() uint64
}

// QuietStore is a Store that hears of the scopes a peer said nothing of
// in a sync this node started and that completed: the peer holds the
// same events of the scope, or does not replicate it (section 12.6 of
// PROTOCOL.md: a peer whose fingerprints match has nothing to answer).
type QuietStore interface {
	Quiet(scope event.Scope, p peer.ID)
}

// Scope is a replicated set and its floor.
type Scope struct {
	ID    event.Scope
	Floor Bound
}

// Options configures a Syncer.
type Options struct {
	Store  Store
	Logger *slog.Logger
	// Interval is the mean time between periodic syncs with each peer; 0
	// means 20 s. Each wait is jittered by ±25%. An in-sync round costs
	// three turns and a few dozen bytes per scope.
	Interval time.Duration
	// Concurrency bounds simultaneous syncs in each direction: at most
	// this many that this node started and this many that peers started,
	// one per peer in each; 0 means 4.
	Concurrency int
	// StreamTimeout bounds a sync's idle time; 0 means 30 s.
	StreamTimeout time.Duration
	// Now is the scheduler's clock; nil means time.Now. Every decision of
	// when to sync reads it, so a test can drive the scheduler with a
	// clock of its own.
	Now func() time.Time
	// Prefer, if set, names peers whose syncs start before the others'
	// when several are due: relays, which hold the most.
	Prefer func(peer.ID) bool
}

// Syncer schedules syncs: it answers peers' syncs and starts its own on
// every new connection, on request and periodically, merging requests so
// that a busy group does not sync once per message. Each sync is a session.
type Syncer struct {
	h    host.Host
	opts Options
	log  *slog.Logger
	now  func() time.Time
	// out bounds the syncs this node runs as the initiator.
	out chan struct{}

	mu sync.Mutex
	// inbound holds the sync each peer runs with this node (at most
	// opts.Concurrency peers at a time).
	inbound  map[peer.ID]*inSlot
	counters counters
	// testHookCancelled is called when a sync is cancelled before it ends.
	testHookCancelled func()
	// running holds a channel per peer with a sync under way, closed when
	// it ends.
	running  map[peer.ID]chan struct{}
	progress map[event.Scope]*Progress
	trigger  chan peer.ID
	lazy     chan peer.ID
	// wanted holds peers asked for while a sync with them ran or had run
	// too recently (true: urgently, false: lazily); lastStart is when
	// each peer's last sync began.
	wanted    map[peer.ID]bool
	lastStart map[peer.ID]time.Time
	lastLazy  map[peer.ID]time.Time
	failures  map[peer.ID]int
	// later holds requests that may not run before a given time: a retry
	// after a failure, the second sync after meeting a peer.
	later []delayed
	// nextRound is when every connected peer is next synced.
	nextRound time.Time
	// handlers counts the answering syncs under way; once stopping is
	// set, no new one starts.
	handlers sync.WaitGroup
	stopping bool
	// started is closed once Serve answers syncs.
	started chan struct{}
	// claims keeps two syncs off one scope at once (claims.go).
	claims *claims
}

// delayed is a request for a sync with a peer from a given time on.
type delayed struct {
	p      peer.ID
	at     time.Time
	urgent bool
}

// maxLater bounds the delayed requests kept.
const maxLater = 4096

// MinInterval is the least time between two syncs with one peer started by
// Trigger. Requests in between are merged into one sync at its end: a busy
// group asks for many (after each send, on each apparent gap), and one sync
// answers them all.
const MinInterval = 3 * time.Second

// LazyInterval is the least time between two syncs with one peer that
// TriggerLazy started: confirming that peers hold what was sent can wait
// while a busy chat runs, and each sync reads the scope's whole index.
const LazyInterval = 15 * time.Second

// MeshSettle is how long after meeting a peer a second, lazy sync runs:
// what is gossiped before two peers' gossipsub meshes include each other
// is not forwarded between them, and this sync brings it.
const MeshSettle = 5 * time.Second

// tick is how often the scheduler looks for syncs that have become due.
const tick = MinInterval / 3

// Progress is the state of catching up on one scope.
type Progress struct {
	Scope    event.Scope
	Received uint64 // events received in the current syncs
	Expected uint64 // events peers have announced they are sending
}

// Stats describes one completed sync.
type Stats struct {
	Peer         peer.ID
	Rounds       int
	BytesSent    int64
	BytesGot     int64
	EventsSent   int
	EventsGot    int
	EventBytes   int64 // bytes of envelopes received
	Rejected     int
	Duration     time.Duration
	ScopesSynced int
}

// New returns a syncer for h.
func New(h host.Host, opts Options) *Syncer {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Interval <= 0 {
		opts.Interval = 20 * time.Second
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.StreamTimeout <= 0 {
		opts.StreamTimeout = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Syncer{
		h: h, opts: opts, log: opts.Logger, now: opts.Now,
		out:       make(chan struct{}, opts.Concurrency),
		inbound:   map[peer.ID]*inSlot{},
		running:   map[peer.ID]chan struct{}{},
		progress:  map[event.Scope]*Progress{},
		trigger:   make(chan peer.ID, 64),
		lazy:      make(chan peer.ID, 64),
		wanted:    map[peer.ID]bool{},
		lastStart: map[peer.ID]time.Time{},
		lastLazy:  map[peer.ID]time.Time{},
		failures:  map[peer.ID]int{},
		started:   make(chan struct{}),
	}
	s.claims = newClaims(s.scopeFreed)
	return s
}

// Started is closed once Serve answers syncs.
func (s *Syncer) Started() <-chan struct{} { return s.started }

// Serve answers syncs and starts them until ctx is done.
func (s *Syncer) Serve(ctx context.Context) error {
	s.h.SetStreamHandler(ProtocolID, func(st network.Stream) {
		s.mu.Lock()
		if s.stopping {
			s.mu.Unlock()
			st.Reset()
			return
		}
		s.handlers.Add(1)
		s.mu.Unlock()
		defer s.handlers.Done()
		s.handle(ctx, st)
	})
	defer func() {
		s.h.RemoveStreamHandler(ProtocolID)
		s.mu.Lock()
		s.stopping = true
		s.mu.Unlock()
		// ctx is done: the answering syncs reset their streams and end.
		s.handlers.Wait()
	}()
	// What the syncer keeps per peer goes when the peer does (a circuit
	// through a relay is the peer still here).
	nb := &network.NotifyBundle{DisconnectedF: func(n network.Network, c network.Conn) {
		if p := c.RemotePeer(); n.Connectedness(p) == network.NotConnected {
			s.forget(p)
		}
	}}
	s.h.Network().Notify(nb)
	defer s.h.Network().StopNotify(nb)
	close(s.started)
	var wg sync.WaitGroup
	defer wg.Wait()
	start := func(p peer.ID) {
		wg.Go(func() {
			_, err := s.syncIfIdle(ctx, p, false)
			switch {
			case err == nil:
				s.clearFailures(p)
			case errors.Is(err, ErrBusy) || ctx.Err() != nil:
			default:
				s.log.Debug("sync failed", "peer", p, "err", err)
				// A busy peer turns syncs away; try again soon, a few times,
				// while it is here.
				if s.h.Network().Connectedness(p) != network.NotConnected && s.retry(p) {
					s.after(p, s.jitter(retryDelay), true)
				}
			}
		})
	}
	s.mu.Lock()
	s.nextRound = s.now().Add(s.jitter(s.opts.Interval))
	s.mu.Unlock()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case p := <-s.trigger:
			s.mu.Lock()
			s.wanted[p] = true
			s.mu.Unlock()
		case p := <-s.lazy:
			s.mu.Lock()
			s.wanted[p] = s.wanted[p] // an urgent request stays urgent
			s.mu.Unlock()
		case <-t.C:
			if s.roundDue() {
				for _, p := range s.preferred(s.h.Network().Peers()) {
					start(p)
				}
			}
		}
		for _, p := range s.due() {
			start(p)
		}
	}
}

// roundDue reports whether the periodic sync with every peer is due, and
// if so schedules the next one.
func (s *Syncer) roundDue() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if now.Before(s.nextRound) {
		return false
	}
	s.nextRound = now.Add(s.jitter(s.opts.Interval))
	return true
}

func (s *Syncer) jitter(d time.Duration) time.Duration {
	return d*3/4 + rand.N(d/2+1)
}

// retryDelay is the mean wait before a failed sync is tried again; at most
// maxRetries tries follow one another before the periodic sync takes over.
const (
	retryDelay = 2 * time.Second
	maxRetries = 5
)

// retry counts a failed sync with p and reports whether to try again.
func (s *Syncer) retry(p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[p]++
	return s.failures[p] <= maxRetries
}

// forget drops what the syncer keeps about p, which has disconnected.
func (s *Syncer) forget(p peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.wanted, p)
	delete(s.lastStart, p)
	delete(s.lastLazy, p)
	delete(s.failures, p)
}

// clearFailures forgets p's failed syncs after a success.
func (s *Syncer) clearFailures(p peer.ID) {
	s.mu.Lock()
	delete(s.failures, p)
	s.mu.Unlock()
}

// after asks for a sync with p once d has passed.
func (s *Syncer) after(p peer.ID, d time.Duration, urgent bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.later) < maxLater {
		s.later = append(s.later, delayed{p: p, at: s.now().Add(d), urgent: urgent})
	}
}

// due takes the wanted peers whose last sync is far enough behind and that
// have none running.
func (s *Syncer) due() []peer.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	kept := s.later[:0]
	for _, d := range s.later {
		if now.Before(d.at) {
			kept = append(kept, d)
			continue
		}
		s.wanted[d.p] = s.wanted[d.p] || d.urgent
	}
	s.later = kept
	var out []peer.ID
	for p, urgent := range s.wanted {
		if s.running[p] != nil || now.Sub(s.lastStart[p]) < MinInterval {
			continue
		}
		if !urgent {
			if now.Sub(s.lastLazy[p]) < LazyInterval {
				continue
			}
			s.lastLazy[p] = now
		}
		delete(s.wanted, p)
		out = append(out, p)
	}
	return s.preferred(out)
}

// preferred orders peers with the preferred ones first; the syncs started
// first take the outbound slots first.
func (s *Syncer) preferred(ps []peer.ID) []peer.ID {
	if s.opts.Prefer != nil {
		slices.SortStableFunc(ps, func(a, b peer.ID) int {
			pa, pb := s.opts.Prefer(a), s.opts.Prefer(b)
			switch {
			case pa && !pb:
				return -1
			case pb && !pa:
				return 1
			}
			return 0
		})
	}
	return ps
}

// Met asks for a sync with a peer just met, and for a second one once
// gossip between the two has settled (MeshSettle).
func (s *Syncer) Met(p peer.ID) {
	s.Trigger(p)
	s.after(p, MeshSettle, false)
}

// TriggerNow asks for a sync with p as soon as none is running, however
// recently the last one ran: for news that must spread at once (a fraud
// proof).
func (s *Syncer) TriggerNow(p peer.ID) {
	s.mu.Lock()
	delete(s.lastStart, p)
	s.mu.Unlock()
	s.Trigger(p)
}

// TriggerLazy asks for a sync with p within about LazyInterval, merged
// with any other request for p.
func (s *Syncer) TriggerLazy(p peer.ID) {
	select {
	case s.lazy <- p:
	default:
	}
}

// Trigger asks for a sync with p soon (a new connection, a gap); requests
// are merged so that a peer is synced at most once every MinInterval this
// way.
func (s *Syncer) Trigger(p peer.ID) {
	select {
	case s.trigger <- p:
	default:
	}
}

// Progress reports catch-up progress for scopes with syncs under way.
func (s *Syncer) Progress() []Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Progress, 0, len(s.progress))
	for _, p := range s.progress {
		out = append(out, *p)
	}
	return out
}

func (s *Syncer) addProgress(scope event.Scope, got, expected uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.progress[scope]
	if p == nil {
		p = &Progress{Scope: scope}
		s.progress[scope] = p
	}
	p.Received += got
	p.Expected += expected
}

func (s *Syncer) clearProgress(scopes map[event.Scope]*scopeState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sc := range scopes {
		delete(s.progress, sc)
	}
}

// ErrBusy reports a sync not started because one with the peer is running.
var ErrBusy = errors.New("a sync with this peer is already running")

// SyncPeer runs one sync with p as the initiator. If a sync with p is
// already running, it waits for it to end first, so that what was stored
// before the call is reconciled.
func (s *Syncer) SyncPeer(ctx context.Context, p peer.ID) (*Stats, error) {
	for {
		stats, err := s.syncIfIdle(ctx, p, true)
		if !errors.Is(err, ErrBusy) {
			return stats, err
		}
		s.mu.Lock()
		done := s.running[p]
		s.mu.Unlock()
		if done == nil {
			continue
		}
		select {
		case <-done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// syncIfIdle runs one sync with p unless one is running (ErrBusy). With
// wait, it waits for the scopes other syncs hold, rather than leave them
// out.
func (s *Syncer) syncIfIdle(ctx context.Context, p peer.ID, wait bool) (*Stats, error) {
	s.mu.Lock()
	if s.running[p] != nil {
		s.mu.Unlock()
		return nil, ErrBusy
	}
	done := make(chan struct{})
	s.running[p] = done
	s.lastStart[p] = s.now()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.running, p)
		s.mu.Unlock()
		close(done)
	}()
	if len(s.opts.Store.Scopes()) == 0 {
		return &Stats{Peer: p}, nil
	}
	select {
	case s.out <- struct{}{}:
		defer func() { <-s.out }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	st, err := s.h.NewStream(network.WithAllowLimitedConn(ctx, "sync"), p, ProtocolID)
	if err != nil {
		return nil, fmt.Errorf("open sync stream: %w", err)
	}
	defer st.Close()
	x := s.session()
	x.wait = wait
	stats, err := x.run(ctx, st, true)
	s.countSession(stats, err)
	if err != nil {
		s.countFailure(err)
		st.Reset()
		return stats, err
	}
	s.log.Debug("synced", "peer", p, "rounds", stats.Rounds, "got", stats.EventsGot, "sent", stats.EventsSent, "took", stats.Duration)
	return stats, nil
}

func (s *Syncer) session() *session {
	return &session{store: s.opts.Store, timeout: s.opts.StreamTimeout, progress: s, cancelled: s.testHookCancelled, claims: s.claims}
}

// scopeFreed asks again for a sync with a peer that a sync left without
// a scope another sync held, now that it is free.
func (s *Syncer) scopeFreed(p peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopping && s.h.Network().Connectedness(p) != network.NotConnected {
		s.wanted[p] = true
	}
}

// inSlot is a sync a peer runs with this node.
type inSlot struct {
	st     network.Stream
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// errReplaced ends a peer's sync when the peer opens a new one.
var errReplaced = errors.New("replaced by a newer sync from the same peer")

// handle answers a peer's sync. A peer runs one sync with this node at a
// time: a new stream from it ends the one before (an honest peer opens a
// new sync only once it is done with the last); a stream from a peer
// beyond the opts.Concurrency peers already syncing is reset.
func (s *Syncer) handle(ctx context.Context, st network.Stream) {
	p := st.Conn().RemotePeer()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	me := &inSlot{st: st, cancel: cancel, done: make(chan struct{})}
	s.mu.Lock()
	prev := s.inbound[p]
	if prev == nil && len(s.inbound) >= s.opts.Concurrency {
		s.counters.refused++
		s.mu.Unlock()
		// Too many syncs already: the peer will try again later.
		st.Reset()
		return
	}
	s.inbound[p] = me
	if prev != nil {
		s.counters.replaced++
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.inbound[p] == me {
			delete(s.inbound, p)
		}
		s.mu.Unlock()
		close(me.done)
	}()
	if prev != nil {
		prev.cancel(errReplaced)
		prev.st.Reset()
		// It stops promptly: its stream is reset and its context is done.
		<-prev.done
		if ctx.Err() != nil {
			// Replaced in turn while waiting.
			st.Reset()
			return
		}
	}
	defer st.Close()
	stats, err := s.session().run(ctx, st, false)
	s.countSession(stats, err)
	if err != nil {
		s.countFailure(err)
		s.log.Debug("answering sync failed", "peer", p, "err", err)
		st.Reset()
	}
}

// Counters are what the syncer did and refused, since it was made.
type Counters struct {
	// Malformed counts syncs ended because the peer's input broke the
	// protocol's rules (PROTOCOL.md section 12.8), by reason (the Reason
	// constants); the peer's stream was reset.
	Malformed map[string]uint64
	// Refused counts syncs from peers turned away because opts.Concurrency
	// other peers were syncing with this node.
	Refused uint64
	// Replaced counts syncs from a peer ended because it opened another.
	Replaced uint64
	// Sessions counts syncs run to their end, Failed those that were not;
	// EventsSent, EventsGot and BytesGot sum what they moved.
	Sessions, Failed      uint64
	EventsSent, EventsGot uint64
	BytesGot              uint64
}

type counters struct {
	malformed         map[string]uint64
	refused, replaced uint64
	sessions, failed  uint64
	sent, got, bytes  uint64
}

// countSession adds a sync's figures to the counters.
func (s *Syncer) countSession(st *Stats, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.counters.failed++
	} else {
		s.counters.sessions++
	}
	if st != nil {
		s.counters.sent += uint64(st.EventsSent)
		s.counters.got += uint64(st.EventsGot)
		s.counters.bytes += uint64(st.EventBytes)
	}
}

// Counters returns a copy of the syncer's counters.
func (s *Syncer) Counters() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counters
	out := Counters{
		Malformed: make(map[string]uint64, len(c.malformed)), Refused: c.refused, Replaced: c.replaced,
		Sessions: c.sessions, Failed: c.failed, EventsSent: c.sent, EventsGot: c.got, BytesGot: c.bytes,
	}
	for r, n := range s.counters.malformed {
		out.Malformed[r] = n
	}
	return out
}

// countFailure counts a failed sync if the peer's input was refused.
func (s *Syncer) countFailure(err error) {
	reason, ok := reasonOf(err)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counters.malformed == nil {
		s.counters.malformed = map[string]uint64{}
	}
	s.counters.malformed[reason]++
}
