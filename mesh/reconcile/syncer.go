package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
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
	// skipping those it does not have there.
	Envelopes(scope event.Scope, ids []event.ID) ([][]byte, error)
	// Accept validates envelopes received for scope and stores the valid
	// ones, with the same checks gossip applies. It returns how many were
	// invalid (duplicates are not).
	Accept(scope event.Scope, raws [][]byte) (rejected int, err error)
	// Synced records that peer held every event of scope that this node
	// had stored up to arrival when the sync began.
	Synced(scope event.Scope, p peer.ID, arrival uint64)
	// Arrival returns the newest position of the local arrival log.
	Arrival() uint64
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
	// one round trip and a few dozen bytes per scope.
	Interval time.Duration
	// Concurrency bounds simultaneous syncs (both directions); 0 means 4.
	Concurrency int
	// StreamTimeout bounds a sync's idle time; 0 means 30 s.
	StreamTimeout time.Duration
}

// Syncer runs the sync protocol: it answers peers' syncs and starts its own
// on every new connection and periodically.
type Syncer struct {
	h    host.Host
	opts Options
	log  *slog.Logger
	sem  chan struct{}

	mu       sync.Mutex
	running  map[peer.ID]bool
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
}

// MinInterval is the least time between two syncs with one peer started by
// Trigger. Requests in between are merged into one sync at its end: a busy
// group asks for many (after each send, on each apparent gap), and one sync
// answers them all.
const MinInterval = 3 * time.Second

// LazyInterval is the least time between two syncs with one peer that
// TriggerLazy started: confirming that peers hold what was sent can wait
// while a busy chat runs, and each sync reads the scope's whole index.
const LazyInterval = 15 * time.Second

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
	return &Syncer{
		h: h, opts: opts, log: opts.Logger,
		sem:       make(chan struct{}, opts.Concurrency),
		running:   map[peer.ID]bool{},
		progress:  map[event.Scope]*Progress{},
		trigger:   make(chan peer.ID, 64),
		lazy:      make(chan peer.ID, 64),
		wanted:    map[peer.ID]bool{},
		lastStart: map[peer.ID]time.Time{},
		lastLazy:  map[peer.ID]time.Time{},
		failures:  map[peer.ID]int{},
	}
}

// Serve answers syncs and starts them until ctx is done.
func (s *Syncer) Serve(ctx context.Context) error {
	s.h.SetStreamHandler(ProtocolID, func(st network.Stream) { s.handle(ctx, st) })
	defer s.h.RemoveStreamHandler(ProtocolID)
	var wg sync.WaitGroup
	defer wg.Wait()
	start := func(p peer.ID) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.SyncPeer(ctx, p)
			switch {
			case err == nil:
				s.clearFailures(p)
			case errors.Is(err, ErrBusy) || ctx.Err() != nil:
			default:
				s.log.Debug("sync failed", "peer", p, "err", err)
				// A busy peer turns syncs away; try again soon, a few times.
				if s.retry(p) {
					time.AfterFunc(s.jitter(retryDelay), func() { s.Trigger(p) })
				}
			}
		}()
	}
	timer := time.NewTimer(s.jitter(s.opts.Interval))
	defer timer.Stop()
	merge := time.NewTicker(MinInterval / 3)
	defer merge.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case p := <-s.trigger:
			s.mu.Lock()
			s.wanted[p] = true
			s.mu.Unlock()
			for _, p := range s.due() {
				start(p)
			}
		case p := <-s.lazy:
			s.mu.Lock()
			s.wanted[p] = s.wanted[p] // an urgent request stays urgent
			s.mu.Unlock()
			for _, p := range s.due() {
				start(p)
			}
		case <-merge.C:
			for _, p := range s.due() {
				start(p)
			}
		case <-timer.C:
			for _, p := range s.h.Network().Peers() {
				start(p)
			}
			timer.Reset(s.jitter(s.opts.Interval))
		}
	}
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

// clearFailures forgets p's failed syncs after a success.
func (s *Syncer) clearFailures(p peer.ID) {
	s.mu.Lock()
	delete(s.failures, p)
	s.mu.Unlock()
}

// due takes the wanted peers whose last sync is far enough behind and that
// have none running.
func (s *Syncer) due() []peer.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []peer.ID
	now := time.Now()
	for p, urgent := range s.wanted {
		if s.running[p] || now.Sub(s.lastStart[p]) < MinInterval {
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
	return out
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

func (s *Syncer) clearProgress(scopes map[event.Scope]*session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sc := range scopes {
		delete(s.progress, sc)
	}
}

// ErrBusy reports a sync not started because one with the peer is running.
var ErrBusy = errors.New("a sync with this peer is already running")

// SyncPeer runs one sync with p as the initiator.
func (s *Syncer) SyncPeer(ctx context.Context, p peer.ID) (*Stats, error) {
	s.mu.Lock()
	if s.running[p] {
		s.mu.Unlock()
		return nil, ErrBusy
	}
	s.running[p] = true
	s.lastStart[p] = time.Now()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.running, p)
		s.mu.Unlock()
	}()
	if len(s.opts.Store.Scopes()) == 0 {
		return &Stats{Peer: p}, nil
	}
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	st, err := s.h.NewStream(network.WithAllowLimitedConn(ctx, "sync"), p, ProtocolID)
	if err != nil {
		return nil, fmt.Errorf("open sync stream: %w", err)
	}
	defer st.Close()
	stats, err := s.run(ctx, st, true)
	if err != nil {
		st.Reset()
		return stats, err
	}
	s.log.Debug("synced", "peer", p, "rounds", stats.Rounds, "got", stats.EventsGot, "sent", stats.EventsSent, "took", stats.Duration)
	return stats, nil
}

func (s *Syncer) handle(ctx context.Context, st network.Stream) {
	defer st.Close()
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	default:
		// Too many syncs already: the peer will try again later.
		st.Reset()
		return
	}
	if _, err := s.run(ctx, st, false); err != nil {
		s.log.Debug("answering sync failed", "peer", st.Conn().RemotePeer(), "err", err)
		st.Reset()
	}
}

// session is one scope's state within a sync.
type session struct {
	floor Bound
	// request are IDs this side lacks and has not asked for yet;
	// outstanding are those asked for and not yet received.
	request     []event.ID
	outstanding map[event.ID]struct{}
	// push are events the peer lacks or asked for, to send next turn.
	push []event.ID
	// reply is the next reconciliation message; nil when there is none.
	reply []Range
	// incoming collects the peer's reconciliation message for this scope
	// over the frames of a turn; incomingFloor is where it starts.
	incoming      []Range
	incomingFloor Bound
	gotReconcile  bool
	// engaged is set once the peer said anything about this scope: a peer
	// that does not replicate it stays silent.
	engaged bool
	// announced is set once this turn's incoming events were counted
	// towards progress.
	announced bool
}

func newSession(floor Bound) *session {
	return &session{floor: floor, outstanding: map[event.ID]struct{}{}}
}

// run drives a sync on st; the initiator speaks first. Both sides then
// alternate turns: each turn carries the events the other side lacks, the
// IDs this side wants, and the next reconciliation messages. An empty turn
// ends the sync.
func (s *Syncer) run(ctx context.Context, st network.Stream, initiator bool) (*Stats, error) {
	began := time.Now()
	peerID := st.Conn().RemotePeer()
	stats := &Stats{Peer: peerID}
	c := newConn(st)
	arrival := s.opts.Store.Arrival()
	mine := map[event.Scope]Bound{}
	for _, sc := range s.opts.Store.Scopes() {
		mine[sc.ID] = sc.Floor
	}
	sessions := map[event.Scope]*session{}
	defer s.clearProgress(sessions)

	if initiator {
		for id, floor := range mine {
			msg, err := s.start(id, floor)
			if err != nil {
				return stats, err
			}
			ss := newSession(floor)
			ss.reply = msg
			sessions[id] = ss
		}
		if _, err := s.sendTurn(c, sessions, stats); err != nil {
			return stats, err
		}
	}
	for turn := 0; ; turn++ {
		if turn > maxTurns {
			return stats, fmt.Errorf("sync did not finish in %d turns", maxTurns)
		}
		st.SetDeadline(time.Now().Add(s.opts.StreamTimeout))
		empty, err := s.readTurn(ctx, c, mine, sessions, stats)
		if err != nil {
			return stats, err
		}
		stats.Rounds++
		if empty {
			break
		}
		sent, err := s.sendTurn(c, sessions, stats)
		if err != nil {
			return stats, err
		}
		if !sent {
			break
		}
	}
	stats.BytesSent, stats.BytesGot = c.sent, c.got
	stats.Duration = time.Since(began)
	for id, ss := range sessions {
		// The peer holds everything this node had when the sync began, but
		// only if it took part and reconciled from this node's own floor.
		if ss.engaged && len(ss.outstanding) == 0 && len(ss.request) == 0 && ss.floor.Compare(mine[id]) == 0 {
			s.opts.Store.Synced(id, peerID, arrival)
			stats.ScopesSynced++
		}
	}
	return stats, nil
}

func (s *Syncer) start(scope event.Scope, floor Bound) ([]Range, error) {
	items, err := s.opts.Store.Items(scope, floor, Bound{Inf: true})
	if err != nil {
		return nil, err
	}
	return split(items, Bound{Inf: true}), nil
}

// readTurn reads frames up to frameEnd, storing events as they come and
// answering reconciliation messages into each session's next reply.
func (s *Syncer) readTurn(ctx context.Context, c *conn, mine map[event.Scope]Bound, sessions map[event.Scope]*session, stats *Stats) (empty bool, err error) {
	empty = true
	for _, ss := range sessions {
		ss.announced, ss.incoming, ss.gotReconcile = false, nil, false
	}
	for {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		f, err := c.read()
		if err != nil {
			return false, fmt.Errorf("read: %w", err)
		}
		if f.Type == frameEnd {
			return empty, s.answer(sessions, mine)
		}
		empty = false
		var scope event.Scope
		copy(scope[:], f.Scope)
		myFloor, ok := mine[scope]
		if !ok {
			// Not a scope this node replicates: say nothing about it.
			continue
		}
		ss := sessions[scope]
		if ss == nil {
			ss = newSession(myFloor)
			sessions[scope] = ss
		}
		ss.engaged = true
		switch f.Type {
		case frameEvents:
			if !ss.announced {
				// The first events frame of a turn says how many follow.
				s.addProgress(scope, 0, uint64(len(f.Events))+f.Remaining)
				ss.announced = true
			}
			for _, raw := range f.Events {
				stats.EventsGot++
				stats.EventBytes += int64(len(raw))
				if id, ok := event.PeekID(raw); ok {
					delete(ss.outstanding, id)
				}
			}
			rejected, err := s.opts.Store.Accept(scope, f.Events)
			if err != nil {
				return false, err
			}
			stats.Rejected += rejected
			s.addProgress(scope, uint64(len(f.Events)), 0)
			if stats.Rejected > maxRejected {
				return false, fmt.Errorf("peer sent %d invalid events", stats.Rejected)
			}
		case frameWant:
			ids, err := unpackIDs(f.IDs)
			if err != nil {
				return false, err
			}
			if len(ss.push)+len(ids) > maxWantIDs*4 {
				return false, fmt.Errorf("%w: too many wanted ids", errFrame)
			}
			ss.push = append(ss.push, ids...)
		case frameReconcile:
			if f.Floor == nil {
				return false, fmt.Errorf("%w: reconcile without floor", errFrame)
			}
			floor, err := f.Floor.bound()
			if err != nil {
				return false, err
			}
			ranges, err := fromWireRanges(f.Ranges)
			if err != nil {
				return false, err
			}
			if len(ss.incoming)+len(ranges) > maxRanges {
				return false, fmt.Errorf("%w: more than %d ranges in a turn", errFrame, maxRanges)
			}
			ss.incoming = append(ss.incoming, ranges...)
			ss.incomingFloor, ss.gotReconcile = floor, true
		}
	}
}

// answer processes, at the end of the peer's turn, the reconciliation
// message it sent for each scope.
func (s *Syncer) answer(sessions map[event.Scope]*session, mine map[event.Scope]Bound) error {
	for scope, ss := range sessions {
		if !ss.gotReconcile {
			continue
		}
		myFloor := mine[scope]
		if ss.incomingFloor.Compare(myFloor) < 0 {
			// The peer keeps more than this node: start over from this
			// node's floor so that it is not sent what was pruned here.
			reply, err := s.start(scope, myFloor)
			if err != nil {
				return err
			}
			ss.floor, ss.reply = myFloor, reply
			continue
		}
		res, err := Process(storeSet{s.opts.Store, scope}, ss.incomingFloor, ss.incoming)
		if err != nil {
			return err
		}
		ss.floor = ss.incomingFloor
		ss.reply = res.Reply
		if ss.reply == nil && !allSkip(ss.incoming) && !(nothingListed(ss.incoming) && len(res.Have) == 0) {
			// Done here; say so, so the peer knows this scope is shared.
			// (Two empty sides have nothing to confirm.)
			ss.reply = []Range{{Upper: Bound{Inf: true}, Mode: ModeSkip}}
		}
		ss.push = append(ss.push, res.Have...)
		ss.request = append(ss.request, res.Need...)
	}
	return nil
}

// nothingListed reports whether a message only lists IDs, and none.
func nothingListed(rs []Range) bool {
	for _, r := range rs {
		if r.Mode == ModeFingerprint || len(r.IDs) > 0 {
			return false
		}
	}
	return true
}

func allSkip(rs []Range) bool {
	for _, r := range rs {
		if r.Mode != ModeSkip {
			return false
		}
	}
	return true
}

// maxRejected ends a sync with a peer that sends this many invalid events.
const maxRejected = 100

// sendTurn sends what each session has for the peer; it reports whether
// anything was sent.
func (s *Syncer) sendTurn(c *conn, sessions map[event.Scope]*session, stats *Stats) (bool, error) {
	sent := false
	for scope, ss := range sessions {
		push := ss.push
		ss.push = nil
		if len(push) > 0 {
			n, err := s.sendEvents(c, scope, push)
			if err != nil {
				return false, err
			}
			stats.EventsSent += n
			sent = sent || n > 0
		}
		if len(ss.request) > 0 {
			for i := 0; i < len(ss.request); i += maxWantIDs {
				chunk := ss.request[i:min(i+maxWantIDs, len(ss.request))]
				if err := c.write(&frame{Type: frameWant, Scope: scope[:], IDs: packIDs(chunk)}); err != nil {
					return false, err
				}
			}
			for _, id := range ss.request {
				ss.outstanding[id] = struct{}{}
			}
			ss.request = nil
			sent = true
		}
		if ss.reply != nil {
			if err := writeRanges(c, scope, ss.floor, ss.reply); err != nil {
				return false, err
			}
			ss.reply = nil
			sent = true
		}
	}
	if err := c.write(&frame{Type: frameEnd}); err != nil {
		return false, err
	}
	return sent, c.flush()
}

// writeRanges sends a reconciliation message in as many frames as it needs
// to stay well under the frame limit; the receiver joins them.
func writeRanges(c *conn, scope event.Scope, floor Bound, rs []Range) error {
	fl := toWireBound(floor)
	for len(rs) > 0 {
		n, size := 0, 0
		for n < len(rs) && n < maxRangesPerFrame && (n == 0 || size+rangeSize(rs[n]) <= maxFrameSize/4) {
			size += rangeSize(rs[n])
			n++
		}
		if err := c.write(&frame{Type: frameReconcile, Scope: scope[:], Floor: &fl, Ranges: toWireRanges(rs[:n])}); err != nil {
			return err
		}
		rs = rs[n:]
	}
	return nil
}

// rangeSize bounds the encoded size of a range.
func rangeSize(r Range) int { return 64 + len(r.IDs)*event.IDSize }

// sendEvents sends the envelopes of ids in frames of bounded size, reading
// them from the store a chunk at a time so that the first frame leaves
// before the last envelope is read.
func (s *Syncer) sendEvents(c *conn, scope event.Scope, ids []event.ID) (int, error) {
	const chunk = 512
	remaining := uint64(len(ids))
	var batch [][]byte
	size, sent := 0, 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		remaining -= min(remaining, uint64(len(batch)))
		err := c.write(&frame{Type: frameEvents, Scope: scope[:], Events: batch, Remaining: remaining})
		batch, size = nil, 0
		return err
	}
	for i := 0; i < len(ids); i += chunk {
		envs, err := s.opts.Store.Envelopes(scope, ids[i:min(i+chunk, len(ids))])
		if err != nil {
			return sent, err
		}
		for _, env := range envs {
			if size+len(env) > eventsPerFrame {
				if err := flush(); err != nil {
					return sent, err
				}
			}
			batch = append(batch, env)
			size += len(env)
			sent++
		}
	}
	return sent, flush()
}

// storeSet adapts one scope of a Store to Set.
type storeSet struct {
	st    Store
	scope event.Scope
}

func (s storeSet) Items(lo, hi Bound) ([]Item, error) { return s.st.Items(s.scope, lo, hi) }

// Compare orders bounds.
func (b Bound) Compare(o Bound) int {
	switch {
	case b.Inf && o.Inf:
		return 0
	case b.Inf:
		return 1
	case o.Inf:
		return -1
	case b.Time != o.Time:
		if b.Time < o.Time {
			return -1
		}
		return 1
	}
	return compareBytesPadded(b.Prefix, o.Prefix)
}

func compareBytesPadded(a, b []byte) int {
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y byte
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
