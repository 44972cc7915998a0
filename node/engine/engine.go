// Package engine is Banyan's one replication engine. Every replicated kind
// of event (group messages, sealed private mail, wallet entries, and every
// feature after them) travels through it: it joins the gossip topics and
// validates what arrives on them, on the direct stream and by sync, with
// the same checks in the same order; it stores what passes, counts what
// does not by reason, watches for gaps, answers and runs syncs, and writes
// this node's own chains with one durability policy.
//
// A feature keeps a scope (Keep) by describing it in a Spec: its topic,
// the kinds allowed in it, its floor and the Feature that checks the
// content and hears of what was stored. A scope kept without a Feature is
// replicated without being opened (signature, scope, kind, time and size
// checks only), which is how a relay keeps a group it cannot read.
package engine

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/mesh/reconcile"
	"github.com/banyan-mesh/banyan/store"
	"github.com/banyan-mesh/banyan/store/safefile"
)

// Time bounds of an event: a village's clocks drift, but events from
// further ahead than MaxClockSkew would sort after everything sent for
// hours, and no Banyan event was written before MinTime.
const (
	MaxClockSkew = 5 * time.Minute
	// MinTime is 2020-01-01T00:00:00Z in Unix milliseconds.
	MinTime int64 = 1_577_836_800_000
)

// Feature is what a feature that keeps scopes tells the engine about their
// events.
type Feature interface {
	// Check validates the content of e, an event of one of the feature's
	// scopes that passed the common checks. An error rejects it; wrap it
	// with Reject to count it under a reason, or Ignore to drop it without
	// blaming the sender.
	Check(e *event.Event) error
	// Stored is told of events newly stored in the feature's scopes, once
	// they are committed, in the order they were stored.
	Stored(evs []*event.Event, origin Origin)
}

// SyncWatcher is a Feature that hears when a sync of one of its scopes
// with a peer has completed: the peer then held every event of the scope
// this node held when the sync began, and this node every event the peer
// offered.
type SyncWatcher interface {
	Synced(scope event.Scope, p peer.ID)
}

// Origin says how events reached the store.
type Origin uint8

// Origins of stored events.
const (
	Local  Origin = iota // written by this node
	Gossip               // from a gossip topic
	Direct               // handed over on the direct stream
	Sync                 // brought by a sync
)

// Spec describes a scope to keep.
type Spec struct {
	Scope event.Scope
	// Topic is the gossip topic the scope's events travel on; several
	// scopes may share one.
	Topic string
	// Kinds are the event kinds allowed in the scope.
	Kinds []event.Kind
	// Floor, if set, returns the oldest history position kept: older
	// events are neither stored nor synced.
	Floor func() store.Cursor
	// Feature checks content and hears of stored events; nil keeps the
	// scope without opening its events.
	Feature Feature
	// Discard recognises the scope without keeping it: its events are
	// checked, then ignored (mail of buckets this node does not carry).
	Discard bool
	// Forward lets peers hand this node events of the scope to publish for
	// them (ForwardProtocol).
	Forward bool
	// PeerRate bounds what one peer may send of the scope by gossip;
	// AuthorRate what one author may write in it. Zero means the
	// defaults; a negative Per, no bound (for scopes written by one-time
	// keys, where an author writes once).
	PeerRate, AuthorRate mesh.Rate
	// NoPriorChain, if set, reports that no earlier copy of this
	// identity can have written to the scope (restored.go): a group
	// created after the identity was restored, a scope written only by
	// one-time keys.
	NoPriorChain func() bool
	// AuthorQuota bounds what one author may hold in the scope; beyond it
	// their events are refused (ReasonQuota), their own writes too.
	AuthorQuota Quota
}

// Default rates: far above what people write, far below a flood.
var (
	DefaultPeerRate   = mesh.Rate{Per: 1000, Burst: 2000}
	DefaultAuthorRate = mesh.Rate{Per: 100, Burst: 500}
	// A refused envelope on the direct streams is ten strikes: each is a
	// stream of its own, and an honest sender paces itself at half the
	// rate (node/private), so twenty refusals cut a flooder off.
	directRate = mesh.Rate{Per: 20, Burst: 100, Strikes: 10}
)

// Options configures New.
type Options struct {
	Identity *crypto.Identity
	Store    *store.Store
	Host     host.Host
	Gossip   *mesh.Gossip
	// Guard bounds what each peer may send.
	Guard  *mesh.Guard
	Logger *slog.Logger
	// Now is the engine's clock; nil means time.Now.
	Now func() time.Time
	// SyncInterval is the mean time between periodic syncs with each
	// peer; 0 means the syncer's default.
	SyncInterval time.Duration
	// PeerClock returns a peer's clock minus this node's, if known: sync
	// holds back from a peer what its clock would refuse as from the
	// future, until it would not.
	PeerClock func(peer.ID) (time.Duration, bool)
	// Marks is the directory of the marks of this node's own chains
	// (marks.go); empty keeps none (a store in memory).
	Marks string
	// RestoredAt is when this node's identity was restored from a
	// backup, zero if it was not: until it knows the heads of its
	// chains, it writes nothing to them (restored.go).
	RestoredAt time.Time
}

// Engine replicates every kept scope.
type Engine struct {
	id     *crypto.Identity
	store  *store.Store
	host   host.Host
	gossip *mesh.Gossip
	guard  *mesh.Guard
	log    *slog.Logger
	now    func() time.Time
	syncer *reconcile.Syncer
	marks  string
	clock  func(peer.ID) (time.Duration, bool)
	// restoredAt is Options.RestoredAt.
	restoredAt time.Time
	// started is closed once Serve takes input from peers.
	started chan struct{}
	stats   Counters
	gate    gate
	// commit shares store fsyncs among writers (group commit); in stores
	// what arrives in batches.
	commit *groupSync
	in     ingest
	// storeOwn stores an event of this node's own chain (a test may
	// replace it while the engine runs).
	storeOwn atomic.Pointer[func(*event.Event) error]

	mu       sync.Mutex
	replicas map[event.Scope]*Replica
	topics   map[string]*topicRef
	// gaps are events whose predecessor was missing on arrival, checked
	// again after gapDelay; confirm holds scopes written to, whose peers
	// are asked a second later whether they hold what was written.
	gaps    []gap
	confirm map[event.Scope]time.Time
	// authors holds the per-author rate limiters, bounded.
	authorsMu sync.Mutex
	authors   map[string]*rate.Limiter
}

type topicRef struct {
	t     *mesh.Topic
	users int
}

type gap struct {
	prev event.ID
	from peer.ID
	at   time.Time
}

// New builds an engine. Nothing runs until Serve.
func New(opts Options) *Engine {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	e := &Engine{
		id: opts.Identity, store: opts.Store, host: opts.Host, gossip: opts.Gossip, guard: opts.Guard,
		log: opts.Logger, now: opts.Now, marks: opts.Marks, clock: opts.PeerClock, restoredAt: opts.RestoredAt, authors: map[string]*rate.Limiter{},
		replicas: map[event.Scope]*Replica{}, topics: map[string]*topicRef{},
		confirm: map[event.Scope]time.Time{}, started: make(chan struct{}),
	}
	e.commit = newGroupSync(opts.Store.Sync, e.gate.spawn)
	storeOwn := func(ev *event.Event) error {
		_, _, err := opts.Store.PutEvent(ev, store.PutOptions{Local: true})
		return err
	}
	e.storeOwn.Store(&storeOwn)
	e.in.pending = map[event.ID]struct{}{}
	e.in.recent, _ = lru.New[event.ID, struct{}](recentlyStored) // fails only for a size below 1
	e.syncer = reconcile.New(opts.Host, reconcile.Options{
		Store:    syncStore{e},
		Logger:   opts.Logger.With("sys", "sync"),
		Interval: opts.SyncInterval,
		// Relays hold the most: sync with them first.
		Prefer: func(p peer.ID) bool { return mesh.IsRelay(opts.Host, p) },
	})
	return e
}

// Started is closed once Serve takes envelopes and syncs from peers.
func (e *Engine) Started() <-chan struct{} { return e.started }

// Syncer returns the engine's sync scheduler.
func (e *Engine) Syncer() *reconcile.Syncer { return e.syncer }

// Stats returns the counters of network input.
func (e *Engine) Stats() *Counters { return &e.stats }

// Serve answers and runs syncs, takes envelopes on the direct stream and
// follows up gaps and writes until ctx is done; then it refuses new work,
// waits for what is under way, and leaves every topic.
func (e *Engine) Serve(ctx context.Context) error {
	mesh.HandleDirect(e.host, mesh.DirectProtocol, func(from peer.ID, raw []byte) (func(), error) {
		if !e.gate.enter() {
			return nil, Ignore(ErrStopped)
		}
		defer e.gate.exit()
		if !e.allowPeer(from, "direct", directRate) {
			return nil, e.throttled(from)
		}
		return nil, e.receive("", from, raw, Direct, true)
	})
	defer e.host.RemoveStreamHandler(mesh.DirectProtocol)
	mesh.HandleDirect(e.host, mesh.ForwardProtocol, func(from peer.ID, raw []byte) (func(), error) {
		if !e.gate.enter() {
			return nil, ErrStopped
		}
		defer e.gate.exit()
		if !e.allowPeer(from, "direct", directRate) {
			return nil, e.throttled(from)
		}
		return e.forward(ctx, from, raw)
	})
	defer e.host.RemoveStreamHandler(mesh.ForwardProtocol)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return e.syncer.Serve(ctx) })
	select {
	case <-e.syncer.Started():
		close(e.started)
	case <-ctx.Done():
	}
	g.Go(func() error {
		// What a scrub removed as damaged, peers give back.
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-e.store.Repaired():
				for _, p := range e.host.Network().Peers() {
					e.syncer.TriggerNow(p)
				}
			}
		}
	})
	g.Go(func() error {
		t := time.NewTicker(followUpTick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				e.followUp()
			}
		}
	})
	err := g.Wait()
	e.gate.close()
	e.mu.Lock()
	replicas := make([]*Replica, 0, len(e.replicas))
	for _, r := range e.replicas {
		replicas = append(replicas, r)
	}
	e.mu.Unlock()
	for _, r := range replicas {
		r.Close()
	}
	return err
}

// ErrKept reports a scope kept already: by another feature, or by a relay
// that is also a member of the group.
var ErrKept = errors.New("scope is already kept")

// Keep starts replicating a scope. It joins the scope's topic; before the
// node runs, the topic is joined when gossip starts. If the store lost
// this node's newest event of the scope, Keep puts it back from the
// chain's mark (marks.go) before it returns, so that a feature reading the
// store afterwards sees its chain whole.
func (e *Engine) Keep(s Spec) (*Replica, error) {
	r := &Replica{e: e, spec: s}
	r.loadMark()
	if _, _, err := r.restoreMarked(false); err != nil {
		return nil, fmt.Errorf("keep %s: %w", s.Scope, err)
	}
	r.initHead()
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.replicas[s.Scope]; ok {
		return nil, fmt.Errorf("scope %s: %w", s.Scope, ErrKept)
	}
	if s.Topic != "" {
		ref := e.topics[s.Topic]
		if ref == nil {
			peerRate := cmp.Or(s.PeerRate, DefaultPeerRate)
			t, err := e.gossip.Join(s.Topic, func(_ context.Context, from peer.ID, raw []byte) error {
				if !e.gate.enter() {
					return Ignore(ErrStopped)
				}
				defer e.gate.exit()
				if !e.allowPeer(from, s.Topic, peerRate) {
					return e.throttled(from)
				}
				return e.receive(s.Topic, from, raw, Gossip, false)
			})
			if err != nil {
				return nil, err
			}
			ref = &topicRef{t: t}
			e.topics[s.Topic] = ref
		}
		ref.users++
		r.topic = ref.t
	}
	e.replicas[s.Scope] = r
	return r, nil
}

// markedEvent is an event of this node's chain in its mark, with the
// ticket of the store sync that makes the store's copy durable.
type markedEvent struct {
	ev     *event.Event
	ticket uint64
}

// Replica is a scope the engine keeps.
type Replica struct {
	e     *Engine
	spec  Spec
	topic *mesh.Topic
	// chain serialises this node's writes to the scope, so that its chain
	// never forks; marked is what the chain's mark holds, oldest first,
	// markErr why the mark cannot be read (marks.go). Both under chain.
	chain   sync.Mutex
	marked  []markedEvent
	markErr error
	// markAt is where the mark file's newest copy is.
	markAt safefile.Slot
	// inStore is set while the store holds the chain up to the marked
	// head because this replica stored it (write.go). Under chain.
	inStore bool
	closed  atomic.Bool
	// headKnown says whether the node knows its chain's head
	// (restored.go).
	headMu    sync.Mutex
	headKnown headState
	// usage is what each author holds, for AuthorQuota.
	usage usage
}

// Scope returns the replica's scope.
func (r *Replica) Scope() event.Scope { return r.spec.Scope }

// Close stops replicating the scope: its topic is left when no other kept
// scope uses it. What is stored stays.
func (r *Replica) Close() {
	if r.closed.Swap(true) {
		return
	}
	e := r.e
	e.mu.Lock()
	delete(e.replicas, r.spec.Scope)
	var leave *mesh.Topic
	if ref := e.topics[r.spec.Topic]; ref != nil {
		if ref.users--; ref.users == 0 {
			delete(e.topics, r.spec.Topic)
			leave = ref.t
		}
	}
	e.mu.Unlock()
	if leave != nil {
		if err := leave.Leave(); err != nil {
			e.log.Debug("leave topic", "topic", r.spec.Topic, "err", err)
		}
	}
}

// Forget stops replicating the scope and deletes what is stored of it:
// for a scope this node no longer belongs to (a group it left).
func (r *Replica) Forget() error {
	r.Close()
	r.forgetUsage()
	return r.e.store.DeleteScope(r.spec.Scope)
}

// Replay calls fn with every stored event of the scope, a page at a time
// (newest first), for a feature whose state is derived from the events:
// called once the scope is kept, it misses nothing, and what arrives
// meanwhile the feature hears twice.
func (r *Replica) Replay(fn func([]*event.Event)) error {
	var before store.Cursor
	for {
		evs, next, err := r.e.store.History(r.spec.Scope, before, replayPage)
		if err != nil {
			return err
		}
		fn(evs)
		if next.IsZero() {
			return nil
		}
		before = next
	}
}

// replayPage is how many events Replay reads at a time.
const replayPage = 1000

// TopicPeers counts the connected peers in the replica's gossip topic, and
// those of them in this node's gossipsub mesh.
func (r *Replica) TopicPeers() (peers, meshPeers int) {
	if r.topic == nil {
		return 0, 0
	}
	return len(r.topic.Peers()), r.topic.MeshPeers()
}

func (r *Replica) floor() store.Cursor {
	if r.spec.Floor == nil {
		return store.Cursor{}
	}
	return r.spec.Floor()
}

// Keeps reports whether the engine keeps the scope.
func (e *Engine) Keeps(scope event.Scope) bool { return e.replica(scope) != nil }

func (e *Engine) replica(scope event.Scope) *Replica {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.replicas[scope]
}

// check runs every check of an envelope from the network, in order: size;
// an early look for a duplicate, so that a known event costs no signature
// check; decoding and the signature; the scope (kept here, and on the
// topic it came by, if any); kind; time; floor; then the feature's own.
func (e *Engine) check(raw []byte, topic string) (*event.Event, *Replica, error) {
	if err := e.precheck(raw); err != nil {
		return nil, nil, err
	}
	ev, err := event.Decode(raw)
	if err != nil {
		return nil, nil, decodeErr(err)
	}
	r, err := e.checkEvent(ev, topic)
	if err != nil {
		return nil, nil, err
	}
	return ev, r, nil
}

// precheck is what check does before decoding: the size, and an early
// look for a duplicate among the events queued or stored lately. On the
// path before forwarding it never reads the store: a Badger read waits
// for every write in progress (its read timestamp waits for their
// commits), which would put the disk back on every hop. A copy stored
// long ago that comes again is checked, then refused as held when stored
// (PutEvents). A sync batch, off that path, also asks the store
// (checkBatch).
func (e *Engine) precheck(raw []byte) error {
	if len(raw) > event.MaxEnvelopeSize {
		return Reject(ReasonTooLarge, event.ErrTooLarge)
	}
	if id, ok := event.PeekID(raw); ok && e.held(id) {
		return fmt.Errorf("event %s: %w", id, mesh.ErrIgnore)
	}
	return nil
}

// decodeErr gives a decoding failure its reason.
func decodeErr(err error) error {
	switch {
	case errors.Is(err, event.ErrTooLarge):
		return Reject(ReasonTooLarge, err)
	case errors.Is(err, crypto.ErrBadSignature):
		return Reject(ReasonSignature, err)
	}
	return Reject(ReasonMalformed, err)
}

// checkEvent is what check does after decoding.
func (e *Engine) checkEvent(ev *event.Event, topic string) (*Replica, error) {
	r := e.replica(ev.ScopeID())
	switch {
	case r == nil:
		return nil, Reject(ReasonScope, fmt.Errorf("scope %s is not kept here", ev.ScopeID()))
	case topic != "" && r.spec.Topic != topic:
		return nil, Reject(ReasonScope, fmt.Errorf("event of scope %s on topic %s", ev.ScopeID(), topic))
	case !slices.Contains(r.spec.Kinds, ev.Kind):
		return nil, Reject(ReasonKind, fmt.Errorf("kind %d", ev.Kind))
	case ev.Time > e.now().Add(MaxClockSkew).UnixMilli():
		// This node's clock may be the one that is wrong.
		return nil, notTheSendersFault(ReasonFuture, fmt.Errorf("timestamp %s is in the future", time.UnixMilli(ev.Time).UTC()))
	case ev.Time < MinTime:
		return nil, Reject(ReasonTime, fmt.Errorf("timestamp %d is before 2020", ev.Time))
	}
	if f := r.floor(); !f.IsZero() && store.CursorOf(ev).Compare(f) < 0 {
		return nil, fmt.Errorf("event %s: %w", ev.ID, errBelowFloor)
	}
	if r.spec.Discard {
		return nil, fmt.Errorf("scope %s is not kept here: %w", ev.ScopeID(), mesh.ErrIgnore)
	}
	if r.spec.Feature != nil {
		if err := r.spec.Feature.Check(ev); err != nil {
			var fg *forGood
			if errors.As(err, &fg) {
				e.refuseForGood(r, ev)
			}
			return nil, err
		}
	}
	return r, nil
}

// refuseForGood leaves a ghost of an event the feature will never take,
// so that sync does not bring it again (ForGood). This node's own events
// are never refused for good: a ghost at the head of its own chain would
// make it write the same position twice.
func (e *Engine) refuseForGood(r *Replica, ev *event.Event) {
	if bytes.Equal(ev.Author, e.id.PublicKey()) {
		return
	}
	if err := e.store.Forget(r.spec.Scope, []store.Cursor{store.CursorOf(ev)}); err != nil {
		e.log.Debug("remember a refused event", "event", ev.ID, "err", err)
	}
}

// checkBatch is check for a batch from one sync: the store is asked once
// which events it holds and once which it evicted, and the signatures of
// what passes the first checks are verified together (event.DecodeAll).
func (e *Engine) checkBatch(raws [][]byte, evs []*event.Event, reps []*Replica, errs []error) {
	idx := make([]int, 0, len(raws))
	ids := make([]event.ID, 0, len(raws))
	for i, raw := range raws {
		if errs[i] = e.precheck(raw); errs[i] == nil {
			id, _ := event.PeekID(raw) // one that has none fails to decode
			idx = append(idx, i)
			ids = append(ids, id)
		}
	}
	// A failed read only costs the checks it would have saved: PutEvents
	// refuses what is held.
	if has, err := e.store.HasEvents(ids); err == nil {
		kept := idx[:0]
		for j, i := range idx {
			if has[j] {
				errs[i] = fmt.Errorf("event %s: %w", ids[j], mesh.ErrIgnore)
			} else {
				kept = append(kept, i)
			}
		}
		idx = kept
	}
	todo := make([][]byte, len(idx))
	for j, i := range idx {
		todo[j] = raws[i]
	}
	decoded, derrs := event.DecodeAll(todo)
	valid := make([]*event.Event, 0, len(idx))
	at := make([]int, 0, len(idx))
	for j, i := range idx {
		if derrs[j] != nil {
			errs[i] = decodeErr(derrs[j])
			continue
		}
		valid = append(valid, decoded[j])
		at = append(at, i)
	}
	ghosts, err := e.store.Ghosts(valid)
	for j, ev := range valid {
		i := at[j]
		if err == nil && ghosts[j] {
			// Evicted or refused for good here: not taken back, nor opened
			// again. (PutEvents refuses it too, whatever way it comes.)
			errs[i] = fmt.Errorf("event %s was evicted here: %w", ev.ID, mesh.ErrIgnore)
			continue
		}
		if reps[i], errs[i] = e.checkEvent(ev, ""); errs[i] == nil {
			evs[i] = ev
		}
	}
}

// fromRelay reports whether p, which passed input on, is a relay (none
// for the node's own input).
func (e *Engine) fromRelay(p peer.ID) bool { return p != "" && mesh.IsRelay(e.host, p) }

// receive takes one envelope from gossip (topic set) or the direct stream.
// It runs every check here, on the path before forwarding, then queues
// the event to be stored with others (ingest.go): for gossip it returns
// at once, so that gossipsub forwards without waiting for the disk, unless
// too many events wait to be stored; with wait it returns once the event
// is stored and the feature told.
func (e *Engine) receive(topic string, from peer.ID, raw []byte, origin Origin, wait bool) error {
	ev, r, err := e.check(raw, topic)
	if err != nil && e.fromRelay(from) {
		err = carried(err)
	}
	// Live traffic has a pace; history brought by sync does not.
	if err == nil && !r.allowAuthor(ev.Author) {
		err = notTheSendersFault(ReasonThrottled, fmt.Errorf("author %x writes too fast", ev.Author[:8]))
	}
	a := &arrival{ev: ev, r: r, from: from, origin: origin}
	if err == nil && wait {
		a.done = make(chan error, 1)
	}
	if err == nil {
		err = r.reserve(ev)
	}
	if err == nil {
		if err = e.enqueue(a); err != nil {
			r.release(ev)
		}
	}
	if err != nil {
		e.stats.count(err)
		return err
	}
	if a.done != nil {
		return <-a.done
	}
	return nil
}

// maxAuthors bounds the per-author limiters kept.
const maxAuthors = 4096

// allowAuthor reports whether the author of an event may write one more
// in the replica's scope now.
func (r *Replica) allowAuthor(author []byte) bool {
	rt := cmp.Or(r.spec.AuthorRate, DefaultAuthorRate)
	if rt.Per < 0 {
		return true
	}
	e := r.e
	key := string(author) + string(r.spec.Scope[:])
	e.authorsMu.Lock()
	defer e.authorsMu.Unlock()
	l := e.authors[key]
	if l == nil {
		if len(e.authors) >= maxAuthors {
			clear(e.authors)
		}
		l = rate.NewLimiter(rate.Limit(rt.Per), rt.Burst)
		e.authors[key] = l
	}
	return l.AllowN(e.now(), 1)
}

// allowPeer reports whether from may send one more input of class now.
func (e *Engine) allowPeer(from peer.ID, class string, r mesh.Rate) bool {
	return e.guard == nil || e.guard.Allow(from, class, r)
}

// throttled counts and returns the refusal of input beyond a peer's rate.
func (e *Engine) throttled(from peer.ID) error {
	err := notTheSendersFault(ReasonThrottled, fmt.Errorf("peer %s sends too fast", from))
	e.stats.count(err)
	return err
}

// forward takes an envelope a peer asks this node to publish for it (the
// first hop of sealed mail): it is checked and stored like any other, then
// published once the peer has its answer. Only scopes kept with Forward
// take such envelopes.
func (e *Engine) forward(ctx context.Context, from peer.ID, raw []byte) (func(), error) {
	pe, err := event.Parse(raw)
	var r *Replica
	if err == nil {
		r = e.replica(pe.ScopeID())
	}
	if r == nil || r.spec.Discard || !r.spec.Forward || r.topic == nil {
		err := Reject(ReasonScope, errors.New("not a scope this node forwards"))
		e.stats.count(err)
		return nil, err
	}
	if err := e.receive("", from, raw, Direct, true); err != nil {
		// Held already: the first hop was taken before.
		return nil, err
	}
	return func() {
		if err := r.topic.Publish(ctx, raw); err != nil {
			e.log.Debug("publish forwarded envelope", "err", err)
		}
	}, nil
}

// Accept takes a batch of envelopes of the replica's scope that did not
// come by gossip (a fraud proof's entries, say), as sync does. It returns
// how many were newly stored and how many were rejected.
func (r *Replica) Accept(raws [][]byte) (stored, rejected int, err error) {
	return r.e.Accept(r.spec.Scope, raws)
}

// Accept takes a batch of envelopes of a kept scope from outside gossip
// and sync (an import, a fraud proof), with the checks and the batching of
// sync. It returns how many were newly stored and how many were rejected.
func (e *Engine) Accept(scope event.Scope, raws [][]byte) (stored, rejected int, err error) {
	evs, rejected, err := e.accept(scope, "", raws, Direct)
	return len(evs), rejected, err
}

// verifyBatch is how many signatures of a sync batch are verified at once,
// and one worker's share. A batch adds the terms of each author into one
// (crypto.Batch), so the cost per signature falls with the batch while a
// scope's history has fewer authors than that: on a quiet machine, 20-21
// us a signature in a batch of 64 by 8 authors, 30-34 us by 64 different
// keys, 76-79 us one by one (BenchmarkVerifyBatch).
const verifyBatch = 64

// accept checks a batch of envelopes for one scope, given by from if it
// came from a peer, on every core and in batches of signatures
// (signature checks bound catch-up speed), stores the valid ones in one
// write, counts every outcome and tells the feature. It returns the
// events newly stored, in batch order, and how many envelopes were
// rejected (duplicates are not).
func (e *Engine) accept(scope event.Scope, from peer.ID, raws [][]byte, origin Origin) (stored []*event.Event, rejected int, err error) {
	if !e.gate.enter() {
		return nil, 0, ErrStopped
	}
	defer e.gate.exit()
	r := e.replica(scope)
	if r == nil {
		return nil, 0, fmt.Errorf("scope %s is not kept here", scope)
	}
	evs := make([]*event.Event, len(raws))
	reps := make([]*Replica, len(raws))
	errs := make([]error, len(raws))
	// Workers take chunks of verifyBatch envelopes and check each chunk's
	// signatures at once.
	chunks := (len(raws) + verifyBatch - 1) / verifyBatch
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), chunks) {
		wg.Go(func() {
			for c := int(next.Add(1) - 1); c < chunks; c = int(next.Add(1) - 1) {
				lo, hi := c*verifyBatch, min((c+1)*verifyBatch, len(raws))
				e.checkBatch(raws[lo:hi], evs[lo:hi], reps[lo:hi], errs[lo:hi])
			}
		})
	}
	wg.Wait()
	if e.fromRelay(from) {
		for i := range errs {
			errs[i] = carried(errs[i])
		}
	}
	for i := range raws {
		if errs[i] == nil && reps[i] != r {
			errs[i] = Reject(ReasonScope, fmt.Errorf("event of scope %s in a batch of %s", evs[i].ScopeID(), scope))
			evs[i] = nil
		}
	}
	var valid []*event.Event
	for i, ev := range evs {
		// In order: the batch's events count against their authors'
		// quotas one after another.
		if errs[i] == nil {
			errs[i] = r.reserve(ev)
		}
		if errs[i] == nil {
			valid = append(valid, ev)
		}
	}
	arrivals, err := e.store.PutEvents(valid, store.PutOptions{Source: from})
	if err != nil {
		for _, ev := range valid {
			r.release(ev)
		}
		return nil, 0, err
	}
	e.stored(valid...)
	for i, j := 0, 0; i < len(raws); i++ {
		if errs[i] == nil {
			if arrivals[j] == 0 {
				r.release(evs[i])
				errs[i] = fmt.Errorf("event %s: %w", evs[i].ID, mesh.ErrIgnore)
			} else {
				stored = append(stored, evs[i])
			}
			j++
		}
		e.stats.count(errs[i])
		if errs[i] != nil && !errors.Is(errs[i], mesh.ErrIgnore) {
			rejected++
		}
	}
	if len(stored) > 0 && r.spec.Feature != nil {
		r.spec.Feature.Stored(stored, origin)
	}
	return stored, rejected, nil
}

// Timing of the follow-ups.
const (
	// gapDelay is how long an author's previous event may be missing
	// before it counts as lost: gossipsub validates in parallel, so a
	// message often arrives a moment before the one it follows.
	gapDelay = 2 * time.Second
	// confirmDelay batches the syncs that confirm delivery of a burst of
	// writes.
	confirmDelay = time.Second
	followUpTick = 250 * time.Millisecond
	maxGaps      = 4096
)

// watchGap notes an event whose predecessor in its author's chain is
// missing, to sync with the peer that forwarded it if the predecessor is
// still missing a little later: a sign that gossip lost something.
func (e *Engine) watchGap(from peer.ID, ev *event.Event) {
	if ev.Seq <= 1 {
		return
	}
	// Mostly the author's previous message, stored a moment ago: known
	// without a store read, which would wait for every commit in flight
	// and hold up the ingest loop's next batch.
	prev := ev.PrevID()
	if e.held(prev) {
		return
	}
	if has, err := e.store.HasEvent(prev); err != nil || has {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.gaps) < maxGaps {
		e.gaps = append(e.gaps, gap{prev: prev, from: from, at: e.now().Add(gapDelay)})
	}
}

// confirmSoon schedules a sync with the peers of a scope's topic shortly
// after a write. Gossip carries what was written; the sync confirms which
// peers hold it, for the delivery status, and repairs what gossip lost.
func (e *Engine) confirmSoon(scope event.Scope) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.confirm[scope]; !ok {
		e.confirm[scope] = e.now().Add(confirmDelay)
	}
}

// followUp starts the store sync that writes asked for Later, and handles
// the gaps and confirmations that have become due.
func (e *Engine) followUp() {
	e.commit.Due()
	now := e.now()
	e.mu.Lock()
	var due []gap
	kept := e.gaps[:0]
	for _, g := range e.gaps {
		if now.Before(g.at) {
			kept = append(kept, g)
		} else {
			due = append(due, g)
		}
	}
	e.gaps = kept
	var topics []*mesh.Topic
	for scope, at := range e.confirm {
		if now.Before(at) {
			continue
		}
		delete(e.confirm, scope)
		if r := e.replicas[scope]; r != nil && r.topic != nil {
			topics = append(topics, r.topic)
		}
	}
	e.mu.Unlock()
	for _, g := range due {
		if has, err := e.store.HasEvent(g.prev); err == nil && !has {
			e.syncer.Trigger(g.from)
		}
	}
	seen := map[peer.ID]bool{}
	for _, t := range topics {
		for _, p := range t.Peers() {
			if !seen[p] {
				seen[p] = true
				e.syncer.TriggerLazy(p)
			}
		}
	}
}
