package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/mesh/reconcile"
	"github.com/banyan-mesh/banyan/store"
)

// maxClockSkew is how far in the future an event's timestamp may be. A
// village's clocks drift; events from further ahead would sort after
// everything sent for hours.
const maxClockSkew = 5 * time.Minute

// Rejection reasons, counted per reason.
const (
	reasonTooLarge  = "too_large"
	reasonMalformed = "malformed"
	reasonSignature = "bad_signature"
	reasonScope     = "wrong_scope"
	reasonKind      = "unknown_kind"
	reasonFuture    = "from_future"
	reasonDecrypt   = "decrypt"
	reasonBody      = "bad_body"
	reasonDuplicate = "duplicate"
	reasonPruned    = "below_floor"
	reasonStore     = "store_error"
)

// errBelowFloor marks an event older than what this node keeps of its
// group: pruned here on purpose, so ignored, not the sender's fault.
var errBelowFloor = fmt.Errorf("older than this node keeps: %w", mesh.ErrIgnore)

// rejection is an error that carries its counting reason.
type rejection struct {
	reason string
	err    error
}

func (r *rejection) Error() string { return r.reason + ": " + r.err.Error() }
func (r *rejection) Unwrap() error { return r.err }

func reject(reason string, err error) error { return &rejection{reason: reason, err: err} }

// Counters counts accepted and rejected network input.
type Counters struct {
	accepted atomic.Uint64
	mu       sync.Mutex
	rejected map[string]uint64
}

// count counts a received envelope by outcome: stored, ignored (a
// duplicate, or older than this node keeps) or rejected by reason.
func (c *Counters) count(err error) {
	if err == nil {
		c.accepted.Add(1)
		return
	}
	reason := reasonMalformed
	var r *rejection
	switch {
	case errors.Is(err, errBelowFloor):
		reason = reasonPruned
	case errors.Is(err, mesh.ErrIgnore):
		reason = reasonDuplicate
	case errors.As(err, &r):
		reason = r.reason
	}
	c.mu.Lock()
	if c.rejected == nil {
		c.rejected = map[string]uint64{}
	}
	c.rejected[reason]++
	c.mu.Unlock()
}

// Accepted returns how many events from the network were stored.
func (c *Counters) Accepted() uint64 { return c.accepted.Load() }

// Rejected returns a copy of the rejection counts by reason.
func (c *Counters) Rejected() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]uint64, len(c.rejected))
	for k, v := range c.rejected {
		out[k] = v
	}
	return out
}

// Groups is the group-chat service: it creates and joins groups, sends
// messages, and validates and stores what arrives.
type Groups struct {
	id     *crypto.Identity
	store  *store.Store
	gossip *mesh.Gossip
	disc   *mesh.Discovery
	addrs  func() []peer.AddrInfo
	log    *slog.Logger
	stats  *Counters
	now    func() time.Time
	// syncWith asks for a sync with a peer soon: after joining through its
	// invite, or when it sent an event whose predecessor in its author's
	// chain is missing here (a sign of missed messages).
	syncWith func(peer.ID)
	// confirmWith asks for a sync with a peer, unhurried, to learn that it
	// holds what this node sent.
	confirmWith  func(peer.ID)
	confirmTimer *time.Timer

	mu     sync.Mutex
	joined map[event.Scope]*joinedGroup
	// sendMu serialises sends so that each author's chain has no forks.
	sendMu sync.Mutex
}

type joinedGroup struct {
	g     *store.Group
	topic *mesh.Topic
	// floor is the oldest history position kept; older events are
	// ignored, wherever they come from.
	floor atomic.Pointer[store.Cursor]
}

// TopicName returns the gossip topic of a group scope.
func TopicName(scope event.Scope) string { return "/banyan/group/1/" + scope.String() }

// Message is a decrypted group message.
type Message struct {
	Event *event.Event
	Group *store.Group
	Text  string
}

// start joins the topics of every stored group.
func (s *Groups) start() error {
	groups, err := s.store.Groups()
	if err != nil {
		return err
	}
	for _, g := range groups {
		if err := s.subscribe(g); err != nil {
			return err
		}
	}
	return nil
}

func (s *Groups) subscribe(g *store.Group) error {
	scope := g.Scope()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.joined[scope]; ok {
		return nil
	}
	t, err := s.gossip.Join(TopicName(scope), func(ctx context.Context, from peer.ID, data []byte) error {
		m, err := s.Receive(g, data)
		if err == nil {
			watchGap(s.store, s.syncWith, from, m.Event)
		}
		return err
	})
	if err != nil {
		return err
	}
	j := &joinedGroup{g: g, topic: t}
	if c, err := store.ParseCursor(g.Floor); err == nil {
		j.floor.Store(&c)
	}
	s.joined[scope] = j
	return nil
}

// floor returns the oldest history position kept for a scope.
func (s *Groups) floor(scope event.Scope) store.Cursor {
	s.mu.Lock()
	j := s.joined[scope]
	s.mu.Unlock()
	if j == nil {
		return store.Cursor{}
	}
	if c := j.floor.Load(); c != nil {
		return *c
	}
	return store.Cursor{}
}

// Create creates a group with a random ID and key.
func (s *Groups) Create(name string) (*store.Group, error) {
	if err := checkGroupName(name); err != nil {
		return nil, err
	}
	if _, err := s.Find(name); err == nil {
		return nil, fmt.Errorf("a group named %q already exists; choose another name", name)
	}
	g := &store.Group{Name: name, Joined: s.now().UTC()}
	if _, err := rand.Read(g.ID[:]); err != nil {
		return nil, fmt.Errorf("group id: %w", err)
	}
	key, err := crypto.NewKey()
	if err != nil {
		return nil, err
	}
	g.Key = key
	if err := s.store.PutGroup(g); err != nil {
		return nil, err
	}
	return g, s.subscribe(g)
}

// Invite returns an invite to g carrying this node's addresses.
func (s *Groups) Invite(g *store.Group) *Invite {
	in := &Invite{GroupID: g.ID, Name: g.Name, Key: g.Key}
	if ais := s.addrs(); len(ais) > 0 {
		in.Inviter = ais[0]
	}
	return in
}

// Join joins the group an invite names, and connects to the inviter.
func (s *Groups) Join(ctx context.Context, in *Invite) (*store.Group, error) {
	g, err := s.store.Group(in.GroupID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		name := in.Name
		if other, err := s.Find(name); err == nil && other.ID != in.GroupID {
			name = uniqueName(s, name)
		}
		g = &store.Group{ID: in.GroupID, Name: name, Key: in.Key, Joined: s.now().UTC()}
		if err := s.store.PutGroup(g); err != nil {
			return nil, err
		}
	}
	if err := s.subscribe(g); err != nil {
		return nil, err
	}
	if in.Inviter.ID != "" && s.disc != nil {
		go func() {
			if err := s.disc.Connect(context.WithoutCancel(ctx), in.Inviter); err != nil {
				s.log.Info("could not reach inviter yet; will keep looking", "peer", in.Inviter.ID, "err", err)
				return
			}
			// Already connected, no new connection starts a sync: ask
			// for the group's history now.
			if s.syncWith != nil {
				s.syncWith(in.Inviter.ID)
			}
		}()
	}
	return g, nil
}

func uniqueName(s *Groups, name string) string {
	for i := 2; ; i++ {
		n := fmt.Sprintf("%s (%d)", name, i)
		if _, err := s.Find(n); err != nil {
			return n
		}
	}
}

// Leave leaves a group and deletes its history and key from this node.
func (s *Groups) Leave(g *store.Group) error {
	scope := g.Scope()
	s.mu.Lock()
	j := s.joined[scope]
	delete(s.joined, scope)
	s.mu.Unlock()
	if j != nil {
		if err := j.topic.Leave(); err != nil {
			return err
		}
	}
	if err := s.store.DeleteGroup(g.ID); err != nil {
		return err
	}
	return s.store.DeleteScope(scope)
}

// ErrNoGroup reports a group reference that matches nothing.
var ErrNoGroup = errors.New("no such group")

// Find resolves a group ID (hex, or a unique prefix of at least 6
// characters) or a unique name.
func (s *Groups) Find(ref string) (*store.Group, error) {
	groups, err := s.store.Groups()
	if err != nil {
		return nil, err
	}
	var byName, byID []*store.Group
	for _, g := range groups {
		id := hex.EncodeToString(g.ID[:])
		switch {
		case id == ref:
			return g, nil
		case len(ref) >= 6 && strings.HasPrefix(id, ref):
			byID = append(byID, g)
		case g.Name == ref:
			byName = append(byName, g)
		}
	}
	switch {
	case len(byName) == 1 && len(byID) == 0:
		return byName[0], nil
	case len(byID) == 1 && len(byName) == 0:
		return byID[0], nil
	case len(byName)+len(byID) > 1:
		return nil, fmt.Errorf("%q matches more than one group; use the group ID", ref)
	}
	return nil, fmt.Errorf("%w %q (see 'banyan group list')", ErrNoGroup, ref)
}

// Send builds, signs and stores a message, then publishes it. The message
// is durable when Send returns, whether or not any peer is reachable.
func (s *Groups) Send(ctx context.Context, g *store.Group, text string) (*Message, error) {
	pt, err := encodeText(text)
	if err != nil {
		return nil, err
	}
	scope := g.Scope()
	s.sendMu.Lock()
	seq, prev, err := s.store.Head(scope, s.id.PublicKey())
	if err != nil {
		s.sendMu.Unlock()
		return nil, err
	}
	b := event.Body{Scope: scope[:], Seq: seq + 1, Time: s.now().UnixMilli(), Kind: event.KindGroupMessage}
	if seq > 0 {
		b.Prev = prev[:]
		// An author's own messages keep their order in history even when
		// sent within one millisecond or after the clock stepped back.
		pe, err := s.store.Event(prev)
		if err != nil {
			s.sendMu.Unlock()
			return nil, fmt.Errorf("send: previous event: %w", err)
		}
		b.Time = max(b.Time, pe.Time+1)
	}
	b.Payload, err = crypto.Seal(g.Key, pt, crypto.GroupAD(scope[:], s.id.PublicKey(), b.Seq))
	if err != nil {
		s.sendMu.Unlock()
		return nil, err
	}
	e, err := event.Sign(s.id, b)
	if err == nil {
		_, _, err = s.store.PutEvent(e, store.PutOptions{Local: true})
	}
	s.sendMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	// The event is committed; publishing does not wait for the disk. The
	// send is acknowledged only once the fsync is done too. (After a power
	// cut in between, peers may hold an event this node lost; sync gives it
	// back.)
	published := make(chan struct{})
	go func() {
		defer close(published)
		s.mu.Lock()
		j := s.joined[scope]
		s.mu.Unlock()
		if j == nil {
			return
		}
		if err := j.topic.Publish(ctx, e.Raw); err != nil {
			// Stored is sent: sync delivers it when gossip cannot.
			s.log.Warn("publish failed; the message is stored and will sync", "err", err)
		}
	}()
	err = s.store.Sync()
	<-published
	if err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	if err := s.MarkRead(g, store.CursorOf(e)); err != nil {
		s.log.Warn("mark read", "err", err)
	}
	s.confirmSoon(scope)
	return &Message{Event: e, Group: g, Text: text}, nil
}

// Receive validates an envelope from the network for group g and stores it.
// Gossip delivers through here, sync through ReceiveBatch; both apply the
// same checks. It returns the stored message, or an error whose reason is
// counted; duplicates are ignored (mesh.ErrIgnore).
func (s *Groups) Receive(g *store.Group, raw []byte) (*Message, error) {
	m, err := s.check(g, raw)
	var e *event.Event
	if m != nil {
		e = m.Event
	}
	if err := storeReceived(s.store, s.stats, e, err); err != nil {
		return nil, err
	}
	return m, nil
}

// ReceiveBatch validates a batch of envelopes for group g, checking
// signatures on every core (catch-up speed is bounded by them), and stores
// the valid ones in one write. It returns how many were rejected;
// duplicates are not rejections.
func (s *Groups) ReceiveBatch(g *store.Group, raws [][]byte) (rejected int, err error) {
	_, rejected, err = acceptEnvelopes(s.store, s.stats, raws, func(raw []byte) (*event.Event, error) {
		m, err := s.check(g, raw)
		if err != nil {
			return nil, err
		}
		return m.Event, nil
	})
	return rejected, err
}

// check validates an envelope for group g without storing it: size,
// encoding, signature, scope, kind, time, decryption, body, floor, and
// whether it is already stored.
func (s *Groups) check(g *store.Group, raw []byte) (*Message, error) {
	e, err := decodeEnvelope(s.store, raw)
	if err != nil {
		return nil, err
	}
	scope := g.Scope()
	if e.ScopeID() != scope {
		return nil, reject(reasonScope, fmt.Errorf("event for scope %s on group %x", e.ScopeID(), g.ID))
	}
	if e.Kind != event.KindGroupMessage {
		return nil, reject(reasonKind, fmt.Errorf("kind %d", e.Kind))
	}
	if e.Time > s.now().Add(maxClockSkew).UnixMilli() {
		return nil, reject(reasonFuture, fmt.Errorf("timestamp %s is in the future", time.UnixMilli(e.Time).UTC()))
	}
	m, err := s.Open(g, e)
	if errors.Is(err, crypto.ErrDecrypt) {
		return nil, reject(reasonDecrypt, err)
	}
	if err != nil {
		return nil, reject(reasonBody, err)
	}
	if f := s.floor(scope); !f.IsZero() && store.CursorOf(e).Compare(f) < 0 {
		return nil, fmt.Errorf("event %s: %w", e.ID, errBelowFloor)
	}
	return m, nil
}

// SetRetention changes how much of a group's history this node keeps and
// prunes at once.
func (s *Groups) SetRetention(g *store.Group, retention time.Duration, quota int64) error {
	if retention < 0 || quota < 0 {
		return errors.New("retention and quota must not be negative")
	}
	g.Retention, g.Quota = retention, quota
	if err := s.store.PutGroup(g); err != nil {
		return err
	}
	return s.prune(g)
}

// prune deletes what a group's retention and quota no longer allow, and
// raises its floor so that sync does not bring it back.
func (s *Groups) prune(g *store.Group) error {
	if g.Retention == 0 && g.Quota == 0 {
		return nil
	}
	var minTime int64
	if g.Retention > 0 {
		minTime = s.now().Add(-g.Retention).UnixMilli()
	}
	deleted, kept, err := s.store.Prune(g.Scope(), minTime, g.Quota)
	if err != nil || deleted == 0 {
		return err
	}
	s.mu.Lock()
	if j := s.joined[g.Scope()]; j != nil {
		j.floor.Store(&kept)
	}
	s.mu.Unlock()
	fresh, err := s.store.Group(g.ID)
	if err != nil {
		return err
	}
	fresh.Floor = kept.String()
	s.log.Info("pruned group history", "group", g.Name, "deleted", deleted)
	return s.store.PutGroup(fresh)
}

// Serve prunes every group's history to its retention and quota, at start
// and then every ten minutes.
func (s *Groups) Serve(ctx context.Context) error {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		groups, err := s.store.Groups()
		if err != nil {
			return err
		}
		for _, g := range groups {
			if err := s.prune(g); err != nil {
				s.log.Warn("prune", "group", g.Name, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			s.mu.Lock()
			if s.confirmTimer != nil {
				s.confirmTimer.Stop()
			}
			s.mu.Unlock()
			return nil
		case <-t.C:
		}
	}
}

// Open decrypts a stored event of group g.
func (s *Groups) Open(g *store.Group, e *event.Event) (*Message, error) {
	pt, err := crypto.Open(g.Key, e.Payload, crypto.GroupAD(e.Scope, e.Author, e.Seq))
	if err != nil {
		return nil, err
	}
	text, err := decodeText(pt)
	if err != nil {
		return nil, err
	}
	return &Message{Event: e, Group: g, Text: text}, nil
}

// History returns a page of a group's messages, oldest first.
func (s *Groups) History(g *store.Group, before store.Cursor, limit int) ([]*Message, store.Cursor, error) {
	evs, next, err := s.store.History(g.Scope(), before, limit)
	if err != nil {
		return nil, next, err
	}
	out := make([]*Message, 0, len(evs))
	for _, e := range evs {
		m, err := s.Open(g, e)
		if err != nil {
			s.log.Warn("stored event does not open", "id", e.ID, "err", err)
			continue
		}
		out = append(out, m)
	}
	return out, next, nil
}

// Unread counts a group's messages after its read mark. Sending moves the
// mark, so the user's own messages are never unread.
func (s *Groups) Unread(g *store.Group) (int, error) {
	c, err := store.ParseCursor(g.ReadUpTo)
	if err != nil {
		c = store.Cursor{}
	}
	return s.store.CountAfter(g.Scope(), c)
}

// MarkRead moves a group's read mark to cursor, or to its newest message
// when cursor is zero.
func (s *Groups) MarkRead(g *store.Group, c store.Cursor) error {
	if c.IsZero() {
		evs, _, err := s.store.History(g.Scope(), store.Cursor{}, 1)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		c = store.CursorOf(evs[0])
	}
	g.ReadUpTo = c.String()
	return s.store.PutGroup(g)
}

// confirmDelay batches the syncs that confirm delivery of a burst of sends.
const confirmDelay = time.Second

// confirmSoon schedules a sync with the group's peers shortly after a send.
// Gossip carries the message; the sync confirms which peers hold it, for
// the delivery status, and repairs what gossip lost.
func (s *Groups) confirmSoon(scope event.Scope) {
	if s.confirmWith == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.confirmTimer != nil {
		return
	}
	s.confirmTimer = time.AfterFunc(confirmDelay, func() {
		s.mu.Lock()
		s.confirmTimer = nil
		var peers []peer.ID
		for _, j := range s.joined {
			peers = append(peers, j.topic.Peers()...)
		}
		s.mu.Unlock()
		seen := map[peer.ID]bool{}
		for _, p := range peers {
			if !seen[p] {
				seen[p] = true
				s.confirmWith(p)
			}
		}
	})
}

// syncScopes lists the scopes of joined groups, for sync.
func (s *Groups) syncScopes() []reconcile.Scope {
	var out []reconcile.Scope
	for _, g := range s.joinedGroups() {
		out = append(out, reconcile.Scope{ID: g.Scope(), Floor: floorBound(s.floor(g.Scope()))})
	}
	return out
}

// acceptBatch takes events for a group's scope from sync.
func (s *Groups) acceptBatch(scope event.Scope, raws [][]byte) (int, error) {
	g, ok := s.ByScope(scope)
	if !ok {
		return 0, fmt.Errorf("not a member of scope %s", scope)
	}
	return s.ReceiveBatch(g, raws)
}

// joinedGroups lists the groups whose topics this node is in.
func (s *Groups) joinedGroups() []*store.Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*store.Group, 0, len(s.joined))
	for _, j := range s.joined {
		out = append(out, j.g)
	}
	return out
}

// ByScope returns the joined group with the given scope.
func (s *Groups) ByScope(scope event.Scope) (*store.Group, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.joined[scope]
	if !ok {
		return nil, false
	}
	return j.g, true
}

// TopicPeers counts the connected peers in a group's gossip topic, and
// those of them in this node's gossipsub mesh.
func (s *Groups) TopicPeers(g *store.Group) (peers, mesh int) {
	s.mu.Lock()
	j := s.joined[g.Scope()]
	s.mu.Unlock()
	if j == nil {
		return 0, 0
	}
	return len(j.topic.Peers()), j.topic.MeshPeers()
}

// decodeEnvelope is the first part of every check of an envelope from the
// network: size, an early look for a duplicate (so a known event costs no
// signature check), then decoding and verifying, with the reason of any
// rejection attached for counting.
func decodeEnvelope(st *store.Store, raw []byte) (*event.Event, error) {
	if len(raw) > event.MaxEnvelopeSize {
		return nil, reject(reasonTooLarge, event.ErrTooLarge)
	}
	if id, ok := event.PeekID(raw); ok {
		if has, err := st.HasEvent(id); err == nil && has {
			return nil, fmt.Errorf("event %s: %w", id, mesh.ErrIgnore)
		}
	}
	e, err := event.Decode(raw)
	switch {
	case errors.Is(err, event.ErrTooLarge):
		return nil, reject(reasonTooLarge, err)
	case errors.Is(err, crypto.ErrBadSignature):
		return nil, reject(reasonSignature, err)
	case err != nil:
		return nil, reject(reasonMalformed, err)
	}
	return e, nil
}
