package reconcile

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// session is one sync with one peer over one stream, from either side. The
// scheduler (Syncer) decides when syncs run; a session runs one.
type session struct {
	store    Store
	timeout  time.Duration
	progress progressSink
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

func newScopeState(floor Bound) *scopeState {
	return &scopeState{floor: floor, outstanding: map[event.ID]struct{}{}}
}

// run drives a sync on st; the initiator speaks first. Both sides then
// alternate turns: each turn carries the events the other side lacks, the
// IDs this side wants, and the next reconciliation messages. An empty turn
// ends the sync.
func (x *session) run(ctx context.Context, st network.Stream, initiator bool) (*Stats, error) {
	began := time.Now()
	peerID := st.Conn().RemotePeer()
	stats := &Stats{Peer: peerID}
	c := newConn(st)
	arrival := x.store.Arrival()
	mine := map[event.Scope]Bound{}
	for _, sc := range x.store.Scopes() {
		mine[sc.ID] = sc.Floor
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
		if _, err := x.sendTurn(c, sessions, stats); err != nil {
			return stats, err
		}
	}
	for turn := 0; ; turn++ {
		if turn > maxTurns {
			return stats, fmt.Errorf("sync did not finish in %d turns", maxTurns)
		}
		st.SetDeadline(time.Now().Add(x.timeout))
		empty, err := x.readTurn(ctx, c, mine, sessions, stats)
		if err != nil {
			return stats, err
		}
		stats.Rounds++
		if empty {
			break
		}
		sent, err := x.sendTurn(c, sessions, stats)
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
			x.store.Synced(id, peerID, arrival)
			stats.ScopesSynced++
		}
	}
	return stats, nil
}

func (x *session) start(scope event.Scope, floor Bound) ([]Range, error) {
	items, err := x.store.Items(scope, floor, Bound{Inf: true})
	if err != nil {
		return nil, err
	}
	return split(items, Bound{Inf: true}), nil
}

// readTurn reads frames up to frameEnd, storing events as they come and
// answering reconciliation messages into each session's next reply.
func (x *session) readTurn(ctx context.Context, c *conn, mine map[event.Scope]Bound, sessions map[event.Scope]*scopeState, stats *Stats) (empty bool, err error) {
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
			return empty, x.answer(sessions, mine)
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
				x.progress.addProgress(scope, 0, uint64(len(f.Events))+f.Remaining)
				ss.announced = true
			}
			for _, raw := range f.Events {
				stats.EventsGot++
				stats.EventBytes += int64(len(raw))
				if id, ok := event.PeekID(raw); ok {
					delete(ss.outstanding, id)
				}
			}
			rejected, err := x.store.Accept(scope, f.Events)
			if err != nil {
				return false, err
			}
			stats.Rejected += rejected
			x.progress.addProgress(scope, uint64(len(f.Events)), 0)
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
func (x *session) answer(sessions map[event.Scope]*scopeState, mine map[event.Scope]Bound) error {
	for scope, ss := range sessions {
		if !ss.gotReconcile {
			continue
		}
		myFloor := mine[scope]
		if ss.incomingFloor.Compare(myFloor) < 0 {
			// The peer keeps more than this node: start over from this
			// node's floor so that it is not sent what was pruned here.
			reply, err := x.start(scope, myFloor)
			if err != nil {
				return err
			}
			ss.floor, ss.reply = myFloor, reply
			continue
		}
		res, err := Process(storeSet{x.store, scope}, ss.incomingFloor, ss.incoming)
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
func (x *session) sendTurn(c *conn, sessions map[event.Scope]*scopeState, stats *Stats) (bool, error) {
	sent := false
	for scope, ss := range sessions {
		push := ss.push
		ss.push = nil
		if len(push) > 0 {
			n, err := x.sendEvents(c, scope, push)
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
func (x *session) sendEvents(c *conn, scope event.Scope, ids []event.ID) (int, error) {
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
		envs, err := x.store.Envelopes(scope, ids[i:min(i+chunk, len(ids))])
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
