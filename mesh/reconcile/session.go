package reconcile

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// session is one sync with one peer over one stream, from either side. The
// scheduler (Syncer) decides when syncs run; a session runs one.
type session struct {
	store   Store
	peer    peer.ID // set by run
	timeout time.Duration
	st      network.Stream // set by run
	// deadline is the stream's deadline, which busy moves on.
	deadline time.Time
	progress progressSink
	// claims, if set, keeps other syncs off the scopes this one
	// reconciles; wait makes it wait for them rather than leave them out.
	claims *claims
	wait   bool
	// cancelled, if set, is called when a sync is cancelled before it
	// ends (tests).
	cancelled func()
}

// progressSink collects catch-up progress across sessions.
type progressSink interface {
	addProgress(scope event.Scope, got, expected uint64)
	clearProgress(scopes map[event.Scope]*scopeState)
}

// scopeState is one scope's state within a sync.
type scopeState struct {
	floor Bound
	// request are IDs this side lacks and has not asked for yet;
	// outstanding are those asked for in this side's last turn and not
	// received in the peer's turn since; missing is set once some never
	// came.
	request     []event.ID
	outstanding map[event.ID]struct{}
	missing     bool
	// push are events the peer lacks or asked for, to send next turn; sent
	// are those sent in this sync, each at most once.
	push []event.ID
	sent map[event.ID]struct{}
	// reply is the next reconciliation message; nil when there is none.
	reply []Range
	// sentFP and sentIDs count the fingerprint ranges and the IDs of the
	// message this side sent in its last turn: the peer's next message
	// answers it and cannot need more (PROTOCOL.md section 12.6).
	sentFP, sentIDs int
	// check checks the peer's reconciliation message for this scope as its
	// frames arrive in this turn, and incoming collects it; nil and empty
	// when the peer sent none. wanted are the IDs the peer asked for in
	// this turn.
	check    *msgCheck
	incoming []Range
	wanted   map[event.ID]struct{}
	// engaged is set once the peer said anything about this scope: a peer
	// that does not replicate it stays silent.
	engaged bool
	// announced is set once this turn's incoming events were counted
	// towards progress.
	announced bool
}

func newScopeState(floor Bound) *scopeState {
	return &scopeState{floor: floor, sent: map[event.ID]struct{}{}}
}

// newCheck returns the check of the peer's next message for this scope.
// That message answers this side's last one: each of its fingerprint
// ranges is answered by at most branches ranges, or by one ID list of at
// most idListMax IDs, and skips are merged. A message that starts over
// (the first, or one from a higher floor) describes at most idListMax
// items in at most branches ranges.
func (ss *scopeState) newCheck() *msgCheck {
	f := max(1, ss.sentFP)
	return &msgCheck{
		limited:    true,
		maxNonSkip: branches * f,
		maxRanges:  min(maxRanges, 2*branches*f+1),
		maxIDs:     idListMax * f,
	}
}

// run drives a sync on st; the initiator speaks first. Both sides then
// alternate turns: each turn carries the events the other side lacks, the
// IDs this side wants, and the next reconciliation messages. An empty turn
// ends the sync. The sync stops as soon as ctx is done or the stream fails,
// even in the middle of a turn's work; input that breaks the protocol's
// rules stops it with an error for which reasonOf reports the reason.
func (x *session) run(parent context.Context, st network.Stream, initiator bool) (stats *Stats, err error) {
	x.peer, x.st = st.Conn().RemotePeer(), st
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	// Once the sync is cancelled (the node stops, the peer's input is
	// refused, the stream fails or a newer sync replaces this one), writes
	// blocked on a peer that does not read must return too.
	stopReset := context.AfterFunc(ctx, func() {
		st.Reset()
		if x.cancelled != nil {
			x.cancelled()
		}
	})
	defer stopReset()
	began := time.Now()
	peerID := st.Conn().RemotePeer()
	stats = &Stats{Peer: peerID}
	c := newConn(st)
	rd := startReader(c, st, cancel, !initiator)
	defer func() {
		rd.stop()
		stats.BytesSent, stats.BytesGot = c.sent, c.got.Load()
		stats.Duration = time.Since(began)
	}()
	arrival := x.store.Arrival()
	mine := map[event.Scope]Bound{}
	for _, sc := range x.store.Scopes() {
		mine[sc.ID] = sc.Floor
	}
	// Only syncs this node starts claim scopes: a peer that holds an
	// answering sync open must not keep the node's scopes from others.
	if x.claims != nil && initiator {
		var held []event.Scope
		if x.wait {
			if held, err = x.claims.takeAll(ctx, x, mine); err != nil {
				return stats, err
			}
		} else {
			held = x.claims.take(x, mine)
		}
		defer x.claims.release(x, held)
	}
	sessions := map[event.Scope]*scopeState{}
	defer x.progress.clearProgress(sessions)

	if initiator {
		for id, floor := range mine {
			msg, err := x.start(id, floor)
			if err != nil {
				return stats, err
			}
			ss := newScopeState(floor)
			ss.reply = msg
			sessions[id] = ss
		}
		x.setDeadline(time.Now().Add(x.timeout))
		if _, err := x.sendTurn(ctx, c, rd, sessions, stats); err != nil {
			return stats, err
		}
	}
	// lastSent is how many events this side's last turn carried: the peer
	// checks and stores them before it answers.
	lastSent := stats.EventsSent
	for turn := 0; ; turn++ {
		if turn > maxTurns {
			return stats, bad(ReasonTurns, "sync did not finish in %d turns", maxTurns)
		}
		x.setDeadline(time.Now().Add(x.timeout + checkTime(lastSent)))
		empty, err := x.readTurn(ctx, rd, mine, sessions, stats)
		if err != nil {
			return stats, err
		}
		stats.Rounds++
		if empty {
			break
		}
		before := stats.EventsSent
		sent, err := x.sendTurn(ctx, c, rd, sessions, stats)
		if err != nil {
			return stats, err
		}
		lastSent = stats.EventsSent - before
		if !sent {
			break
		}
	}
	for id, ss := range sessions {
		// The peer holds everything this node had when the sync began, but
		// only if it took part and reconciled from this node's own floor.
		if ss.engaged && !ss.missing && len(ss.outstanding) == 0 && len(ss.request) == 0 && ss.floor.Compare(mine[id]) == 0 {
			x.store.Synced(id, peerID, arrival)
			stats.ScopesSynced++
		} else if q, ok := x.store.(QuietStore); ok && initiator && !ss.engaged {
			q.Quiet(id, peerID)
		}
	}
	return stats, nil
}

func (x *session) start(scope event.Scope, floor Bound) ([]Range, error) {
	return Start(storeSet{x.store, scope}, floor)
}

// readTurn reads frames up to frameEnd, storing events as they come and
// answering reconciliation messages into each session's next reply. What
// it keeps of the turn is bounded by the messages this side sent: the
// peer's reconciliation message by newCheck, the IDs it wants by the IDs
// this side listed.
func (x *session) readTurn(ctx context.Context, rd *frameReader, mine map[event.Scope]Bound, sessions map[event.Scope]*scopeState, stats *Stats) (empty bool, err error) {
	empty = true
	for _, ss := range sessions {
		ss.announced, ss.check, ss.incoming, ss.wanted = false, nil, nil, nil
	}
	take := func(r accepted) error {
		stats.Rejected += r.rejected
		x.progress.addProgress(r.scope, uint64(r.events), 0)
		x.busy(r.events)
		if stats.Rejected > maxRejected {
			return bad(ReasonInvalid, "peer sent %d invalid events", stats.Rejected)
		}
		return nil
	}
	acc := newAcceptor(x.store, x.peer)
	defer func() {
		if werr := acc.wait(take); err == nil && werr != nil {
			empty, err = false, werr
		}
	}()
	for {
		f, err := rd.next(ctx)
		if err != nil {
			return false, err
		}
		if f.Type == frameEnd {
			if empty {
				return true, nil
			}
			// The answer reconciles against the store: everything the
			// peer sent this turn must be in it first.
			if err := acc.wait(take); err != nil {
				return false, err
			}
			return false, x.answer(ctx, sessions, mine)
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
			ss = newScopeState(myFloor)
			sessions[scope] = ss
		}
		ss.engaged = true
		switch f.Type {
		case frameEvents:
			if !ss.announced {
				// The first events frame of a turn says how many follow.
				x.progress.addProgress(scope, 0, satAdd(uint64(len(f.Events)), f.Remaining))
				ss.announced = true
			}
			for _, raw := range f.Events {
				stats.EventsGot++
				stats.EventBytes += int64(len(raw))
				if id, ok := event.PeekID(raw); ok {
					delete(ss.outstanding, id)
				}
			}
			if err := acc.add(scope, f.Events, take); err != nil {
				return false, err
			}
		case frameWant:
			ids, err := unpackIDs(f.IDs)
			if err != nil {
				return false, err
			}
			// The peer wants what this side's last message listed and it
			// lacks: each at most once, and not what it was already sent.
			if len(ss.wanted)+len(ids) > ss.sentIDs {
				return false, bad(ReasonTooMany, "more ids wanted than the %d listed", ss.sentIDs)
			}
			if ss.wanted == nil {
				ss.wanted = make(map[event.ID]struct{}, len(ids))
			}
			for _, id := range ids {
				_, again := ss.wanted[id]
				_, sent := ss.sent[id]
				if again || sent {
					return false, bad(ReasonDuplicate, "id %x wanted twice", id[:4])
				}
				ss.wanted[id] = struct{}{}
			}
			ss.push = append(ss.push, ids...)
		case frameReconcile:
			floor, err := f.Floor.bound()
			if err != nil {
				return false, err
			}
			ranges, err := fromWireRanges(f.Ranges)
			if err != nil {
				return false, err
			}
			if ss.check == nil {
				ss.check = ss.newCheck()
			}
			if err := ss.check.begin(floor); err != nil {
				return false, err
			}
			if err := ss.check.add(ranges); err != nil {
				return false, err
			}
			ss.incoming = append(ss.incoming, ranges...)
		}
	}
}

// satAdd adds without wrapping around.
func satAdd(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return ^uint64(0)
}

// answer processes, at the end of the peer's turn, the reconciliation
// message it sent for each scope, and notes the events asked for in this
// side's last turn that did not come.
func (x *session) answer(ctx context.Context, sessions map[event.Scope]*scopeState, mine map[event.Scope]Bound) error {
	for scope, ss := range sessions {
		if len(ss.outstanding) > 0 {
			ss.missing = true
		}
		ss.outstanding = nil
		if ss.check == nil {
			continue
		}
		if err := ss.check.done(); err != nil {
			return err
		}
		incoming, incomingFloor := ss.incoming, ss.check.floor
		ss.incoming = nil
		myFloor := mine[scope]
		if incomingFloor.Compare(myFloor) < 0 {
			// The peer keeps more than this node: start over from this
			// node's floor so that it is not sent what was pruned here.
			reply, err := x.start(scope, myFloor)
			if err != nil {
				return err
			}
			ss.floor, ss.reply = myFloor, reply
			continue
		}
		res, err := process(ctx, storeSet{x.store, scope}, incomingFloor, incoming)
		if err != nil {
			return err
		}
		ss.floor = incomingFloor
		ss.reply = res.Reply
		if ss.reply == nil && !allSkip(incoming) && !(nothingListed(incoming) && len(res.Have) == 0) {
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

func (x *session) setDeadline(t time.Time) {
	x.deadline = t
	x.st.SetDeadline(t)
}

// busy moves the stream's deadline on by the time n events take to check:
// a frame of them went out or was stored, so the sync is not idle however
// long the whole turn takes (a week's history on a slow or busy machine
// takes longer than the timeout), and a peer that trickles events holds
// the stream only as long as the events it sends take to check.
func (x *session) busy(n int) { x.setDeadline(x.deadline.Add(checkTime(n))) }

// minCheckRate is the fewest events a second a peer is expected to check
// and store: forty times below one core's rate of signature checks.
const minCheckRate = 1000

// checkTime is how long a peer may take to check and store n events this
// side sent it before it answers: bounded by what this side sent, not by
// anything the peer says.
func checkTime(n int) time.Duration { return time.Duration(n) * time.Second / minCheckRate }

// maxRejected ends a sync with a peer that sends this many invalid events.
const maxRejected = 100

// sendTurn sends what each session has for the peer; it reports whether
// anything was sent.
func (x *session) sendTurn(ctx context.Context, c *conn, rd *frameReader, sessions map[event.Scope]*scopeState, stats *Stats) (bool, error) {
	sent := false
	for scope, ss := range sessions {
		if err := ctx.Err(); err != nil {
			return false, context.Cause(ctx)
		}
		push := ss.push
		ss.push = nil
		if len(push) > 0 {
			n, err := x.sendEvents(ctx, c, scope, ss, push)
			if err != nil {
				return false, err
			}
			stats.EventsSent += n
			sent = sent || n > 0
		}
		if len(ss.request) > 0 {
			// Each ID once, even if the peer listed it in two ranges.
			ss.outstanding = make(map[event.ID]struct{}, len(ss.request))
			request := ss.request[:0]
			for _, id := range ss.request {
				if _, dup := ss.outstanding[id]; !dup {
					ss.outstanding[id] = struct{}{}
					request = append(request, id)
				}
			}
			for i := 0; i < len(request); i += maxWantIDs {
				chunk := request[i:min(i+maxWantIDs, len(request))]
				if err := c.write(&frame{Type: frameWant, Scope: scope[:], IDs: packIDs(chunk)}); err != nil {
					return false, err
				}
			}
			ss.request = nil
			sent = true
		}
		ss.sentFP, ss.sentIDs = 0, 0
		if ss.reply != nil {
			for _, r := range ss.reply {
				if r.Mode == ModeFingerprint {
					ss.sentFP++
				}
				ss.sentIDs += len(r.IDs)
			}
			if err := writeRanges(c, scope, ss.floor, ss.reply); err != nil {
				return false, err
			}
			ss.reply = nil
			sent = true
		}
	}
	// From the end frame on it is the peer's turn.
	rd.peerTurn.Store(true)
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
// before the last envelope is read. An event already sent in this sync is
// not sent again.
func (x *session) sendEvents(ctx context.Context, c *conn, scope event.Scope, ss *scopeState, ids []event.ID) (int, error) {
	const chunk = 512
	remaining := uint64(len(ids))
	var batch [][]byte
	size, sent := 0, 0
	queued := make(map[event.ID]struct{}, min(len(ids), chunk))
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		remaining -= min(remaining, uint64(len(batch)))
		err := c.write(&frame{Type: frameEvents, Scope: scope[:], Events: batch, Remaining: remaining})
		if err == nil {
			x.busy(len(batch))
		}
		batch, size = nil, 0
		return err
	}
	for i := 0; i < len(ids); i += chunk {
		if err := ctx.Err(); err != nil {
			return sent, context.Cause(ctx)
		}
		var todo []event.ID
		for _, id := range ids[i:min(i+chunk, len(ids))] {
			_, done := ss.sent[id]
			_, dup := queued[id]
			if !done && !dup {
				queued[id] = struct{}{}
				todo = append(todo, id)
			}
		}
		if len(todo) == 0 {
			continue
		}
		envs, err := x.store.Envelopes(scope, x.peer, todo)
		if err != nil {
			return sent, err
		}
		for _, env := range envs {
			id, ok := event.PeekID(env)
			if !ok {
				continue
			}
			if _, done := ss.sent[id]; done {
				continue
			}
			ss.sent[id] = struct{}{}
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

// frameReader reads the peer's frames on a goroutine of its own, so that
// the session learns at once when the stream fails, even in the middle of
// a turn's work: a read error, the stream's deadline, or a frame sent
// while it is this side's turn cancels the session's context.
type frameReader struct {
	c      *conn
	st     network.Stream
	frames chan readResult
	quit   chan struct{}
	done   chan struct{}
	// peerTurn is set while it is the peer's turn to speak.
	peerTurn atomic.Bool
	stopping atomic.Bool
}

type readResult struct {
	f   *frame
	err error
}

func startReader(c *conn, st network.Stream, cancel context.CancelCauseFunc, peerFirst bool) *frameReader {
	r := &frameReader{c: c, st: st, frames: make(chan readResult), quit: make(chan struct{}), done: make(chan struct{})}
	r.peerTurn.Store(peerFirst)
	go r.loop(cancel)
	return r
}

func (r *frameReader) loop(cancel context.CancelCauseFunc) {
	defer close(r.done)
	for {
		f, err := r.c.read()
		if err == nil && !r.peerTurn.Load() {
			err = bad(ReasonOutOfTurn, "frame of type %d sent out of turn", f.Type)
		}
		if err != nil {
			if _, refused := reasonOf(err); !refused {
				err = fmt.Errorf("read: %w", err)
			}
			if !r.stopping.Load() {
				cancel(err)
			}
			select {
			case r.frames <- readResult{err: err}:
			case <-r.quit:
			}
			return
		}
		if f.Type == frameEnd {
			r.peerTurn.Store(false)
		}
		select {
		case r.frames <- readResult{f: f}:
		case <-r.quit:
			return
		}
	}
}

// next returns the peer's next frame.
func (r *frameReader) next(ctx context.Context) (*frame, error) {
	select {
	case res := <-r.frames:
		return res.f, res.err
	default:
	}
	select {
	case res := <-r.frames:
		return res.f, res.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// stop ends the reader; the session reads nothing more.
func (r *frameReader) stop() {
	r.stopping.Store(true)
	close(r.quit)
	r.st.CloseRead()
	<-r.done
}

// storeSet adapts one scope of a Store to Set.
type storeSet struct {
	st    Store
	scope event.Scope
}

func (s storeSet) Items(lo, hi Bound) ([]Item, error) { return s.st.Items(s.scope, lo, hi) }

func (s storeSet) Below(b Bound) (Sum, bool, error) {
	if ss, ok := s.st.(SummedStore); ok {
		return ss.Below(s.scope, b)
	}
	return Sum{}, false, nil
}

func (s storeSet) At(r uint64) (prev, it Item, below Sum, ok bool, err error) {
	if ss, ok := s.st.(SummedStore); ok {
		return ss.At(s.scope, r)
	}
	return Item{}, Item{}, Sum{}, false, nil
}
