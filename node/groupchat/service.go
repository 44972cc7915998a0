// Package groupchat is group chat: groups with a shared key, invites,
// messages sealed to the group and replicated by the engine, history,
// unread counts and retention; its API routes, command-line commands and
// how its messages appear on the event stream.
package groupchat

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh/reconcile"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/people"
	"github.com/banyan-mesh/banyan/store"
)

// TopicName returns the gossip topic of a group scope.
func TopicName(scope event.Scope) string { return "/banyan/group/1/" + scope.String() }

// Connector dials peers in the background.
type Connector interface {
	ConnectSoon(ai peer.AddrInfo, done func(error))
}

// Syncer is what group chat asks of the sync scheduler.
type Syncer interface {
	// TriggerNow syncs with p as soon as no sync with it runs: a scope
	// this node has just begun to share with p is not in a sync that
	// started before.
	TriggerNow(p peer.ID)
	Progress() []reconcile.Progress
}

// Options configures New.
type Options struct {
	Identity *crypto.Identity
	Store    *store.Store
	Engine   *engine.Engine
	Syncer   Syncer
	Connect  Connector
	// Host asks relays to keep groups (relays.go).
	Host host.Host
	// Addrs returns this node's addresses, most useful first, for invites.
	Addrs func() []peer.AddrInfo
	// People shows authors.
	People *people.Directory
	Logger *slog.Logger
	Now    func() time.Time
}

// Service is the group-chat service: it creates and joins groups, sends
// messages, and checks what arrives for them.
type Service struct {
	id      *crypto.Identity
	store   *store.Store
	eng     *engine.Engine
	syncer  Syncer
	connect Connector
	host    host.Host
	addrs   func() []peer.AddrInfo
	people  *people.Directory
	log     *slog.Logger
	now     func() time.Time
	groups  groups
	relays  *store.Table

	mu       sync.Mutex
	joined   map[event.Scope]*joinedGroup
	watchers []func(scope event.Scope, id string, in bool)
	// beside are the labels of the scopes features keep beside each group
	// (KeepBeside).
	beside []string
}

type joinedGroup struct {
	g *Group
	r *engine.Replica
	// floor is the oldest history position kept; older events are
	// ignored, wherever they come from.
	floor atomic.Pointer[store.Cursor]
}

// Message is a decrypted group message.
type Message struct {
	Event *event.Event
	Group *Group
	Text  string
}

// New builds the service and keeps the scope of every stored group.
func New(opts Options) (*Service, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	t, err := opts.Store.VaultTable("groups")
	if err != nil {
		return nil, err
	}
	relays, err := opts.Store.Table("group-relays")
	if err != nil {
		return nil, err
	}
	read, err := opts.Store.Table("group-read")
	if err != nil {
		return nil, err
	}
	s := &Service{
		id: opts.Identity, store: opts.Store, eng: opts.Engine, syncer: opts.Syncer, connect: opts.Connect, host: opts.Host,
		addrs: opts.Addrs, people: opts.People, log: opts.Logger, now: opts.Now, groups: groups{t, read}, relays: relays,
		joined: map[event.Scope]*joinedGroup{},
	}
	all, err := s.groups.list()
	if err != nil {
		return nil, err
	}
	for _, g := range all {
		if err := s.keep(g); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// keep replicates a group's scope.
func (s *Service) keep(g *Group) error {
	scope := g.Scope()
	s.mu.Lock()
	if j, ok := s.joined[scope]; ok {
		j.g = g
		s.mu.Unlock()
		return nil
	}
	j := &joinedGroup{g: g}
	if c, err := store.ParseCursor(g.Floor); err == nil {
		j.floor.Store(&c)
	}
	r, err := s.eng.Keep(engine.Spec{
		Scope:   scope,
		Topic:   TopicName(scope),
		Kinds:   []event.Kind{event.KindGroupMessage},
		Floor:   j.currentFloor,
		Feature: s,
		// A group this node created after its identity was restored has
		// no history of it anywhere else.
		NoPriorChain: func() bool { return s.createdSinceRestore(g) },
	})
	if err != nil {
		s.mu.Unlock()
		return err
	}
	j.r = r
	s.joined[scope] = j
	s.mu.Unlock()
	s.tell(g, true)
	return nil
}

func (j *joinedGroup) currentFloor() store.Cursor {
	if c := j.floor.Load(); c != nil {
		return *c
	}
	return store.Cursor{}
}

// Check opens a group message: it must decrypt with the group's key and
// hold a valid text.
func (s *Service) Check(e *event.Event) error {
	g, ok := s.ByScope(e.ScopeID())
	if !ok {
		return engine.Reject(engine.ReasonScope, fmt.Errorf("not a member of scope %s", e.ScopeID()))
	}
	// A group's key never changes: what does not open now never will, and
	// the engine remembers not to take it again.
	_, err := s.Open(g, e)
	if errors.Is(err, crypto.ErrDecrypt) {
		return engine.ForGood(engine.Reject(engine.ReasonDecrypt, err))
	}
	if err != nil {
		return engine.ForGood(engine.Reject(engine.ReasonBody, err))
	}
	return nil
}

// Stored is told of stored messages; history reads them from the store.
func (s *Service) Stored([]*event.Event, engine.Origin) {}

// Create creates a group with a random ID and key.
func (s *Service) Create(name string) (*Group, error) {
	if err := checkGroupName(name); err != nil {
		return nil, err
	}
	if _, err := s.groups.find(name); err == nil {
		return nil, fmt.Errorf("a group named %q already exists; choose another name", name)
	}
	g := &Group{Name: name, Joined: s.now().UTC(), Created: true}
	if _, err := rand.Read(g.ID[:]); err != nil {
		return nil, fmt.Errorf("group id: %w", err)
	}
	key, err := crypto.NewKey()
	if err != nil {
		return nil, err
	}
	g.Key = key
	if err := s.groups.put(g); err != nil {
		return nil, err
	}
	return g, s.keep(g)
}

// Invite returns an invite to g carrying this node's addresses.
func (s *Service) Invite(g *Group) *Invite {
	in := &Invite{GroupID: g.ID, Name: g.Name, Key: g.Key}
	if ais := s.addrs(); len(ais) > 0 {
		in.Inviter = ais[0]
	}
	return in
}

// Join joins the group an invite names, and connects to the inviter.
func (s *Service) Join(ctx context.Context, in *Invite) (*Group, error) {
	g, err := s.groups.get(in.GroupID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		name := in.Name
		if other, err := s.groups.find(name); err == nil && other.ID != in.GroupID {
			name = s.groups.uniqueName(name)
		}
		g = &Group{ID: in.GroupID, Name: name, Key: in.Key, Joined: s.now().UTC()}
		if err := s.groups.put(g); err != nil {
			return nil, err
		}
	}
	if err := s.keep(g); err != nil {
		return nil, err
	}
	if in.Inviter.ID != "" && s.connect != nil {
		s.connect.ConnectSoon(in.Inviter, func(err error) {
			if err != nil {
				s.log.Info("could not reach inviter yet; will keep looking", "peer", in.Inviter.ID, "err", err)
				return
			}
			// Already connected, no new connection starts a sync: ask
			// for the group's history now.
			s.syncer.TriggerNow(in.Inviter.ID)
		})
	}
	return g, nil
}

// Leave leaves a group and deletes its history and key from this node.
func (s *Service) Leave(g *Group) error {
	scope := g.Scope()
	s.mu.Lock()
	j := s.joined[scope]
	delete(s.joined, scope)
	s.mu.Unlock()
	if j != nil {
		j.r.Close()
		s.tell(g, false)
	}
	if err := s.groups.delete(g.ID); err != nil {
		return err
	}
	if err := s.forgetRelays(g.ID); err != nil {
		return err
	}
	return s.store.DeleteScope(scope)
}

// Find resolves a group ID (hex, or a unique prefix of at least 6
// characters) or a unique name.
func (s *Service) Find(ref string) (*Group, error) { return s.groups.find(ref) }

// Group returns a stored group by ID.
func (s *Service) Group(id [crypto.GroupIDSize]byte) (*Group, error) { return s.groups.get(id) }

// Groups lists the stored groups.
func (s *Service) Groups() ([]*Group, error) { return s.groups.list() }

// Send builds, signs, publishes and stores a message (engine.Write). The
// message is durable when Send returns, whether or not any peer is
// reachable.
func (s *Service) Send(ctx context.Context, g *Group, text string) (*Message, error) {
	pt, err := encodeText(text)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	j := s.joined[g.Scope()]
	s.mu.Unlock()
	if j == nil {
		return nil, fmt.Errorf("send: %w %q", ErrNoGroup, g.Name)
	}
	e, err := j.r.Write(ctx, func(pos engine.Position) (event.Body, error) {
		payload, err := crypto.Seal(g.Key, pt, crypto.GroupAD(pos.Scope[:], s.id.PublicKey(), pos.Seq))
		if err != nil {
			return event.Body{}, err
		}
		return pos.Body(event.KindGroupMessage, payload), nil
	})
	if err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	if err := s.MarkRead(g, store.CursorOf(e)); err != nil {
		s.log.Warn("mark read", "err", err)
	}
	return &Message{Event: e, Group: g, Text: text}, nil
}

// SetRetention changes how much of a group's history this node keeps and
// prunes at once.
func (s *Service) SetRetention(g *Group, retention time.Duration, quota int64) error {
	if retention < 0 || quota < 0 {
		return errors.New("retention and quota must not be negative")
	}
	g.Retention, g.Quota = retention, quota
	if err := s.groups.put(g); err != nil {
		return err
	}
	return s.prune(g)
}

// prune deletes what a group's retention and quota no longer allow, and
// raises its floor so that sync does not bring it back.
func (s *Service) prune(g *Group) error {
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
	fresh, err := s.groups.get(g.ID)
	if err != nil {
		return err
	}
	fresh.Floor = kept.String()
	s.log.Info("pruned group history", "group", g.Name, "deleted", deleted)
	return s.groups.put(fresh)
}

// Serve prunes every group's history to its retention and quota, at start
// and then every ten minutes.
func (s *Service) Serve(ctx context.Context) error {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		all, err := s.groups.list()
		if err != nil {
			return err
		}
		for _, g := range all {
			if err := s.prune(g); err != nil {
				s.log.Warn("prune", "group", g.Name, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Open decrypts a stored event of group g.
func (s *Service) Open(g *Group, e *event.Event) (*Message, error) {
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
func (s *Service) History(g *Group, before store.Cursor, limit int) ([]*Message, store.Cursor, error) {
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
func (s *Service) Unread(g *Group) (int, error) {
	c, err := store.ParseCursor(g.ReadUpTo)
	if err != nil {
		c = store.Cursor{}
	}
	return s.store.CountAfter(g.Scope(), c)
}

// MarkRead moves a group's read mark forward to cursor, or to its newest
// message when cursor is zero. A mark never moves back: reading an older
// page again leaves newer messages read.
func (s *Service) MarkRead(g *Group, c store.Cursor) error {
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
	if cur, err := store.ParseCursor(g.ReadUpTo); err == nil && c.Compare(cur) <= 0 {
		return nil
	}
	g.ReadUpTo = c.String()
	return s.groups.setRead(g)
}

// NoPriorChain reports that no earlier copy of this node's identity can
// have written in the group: this node created it after the identity was
// restored from a backup (engine.Spec.NoPriorChain).
func (s *Service) NoPriorChain(group event.Scope) bool {
	g, ok := s.ByScope(group)
	return ok && s.createdSinceRestore(g)
}

func (s *Service) createdSinceRestore(g *Group) bool {
	at := s.eng.RestoredAt()
	return g.Created && !at.IsZero() && g.Joined.After(at)
}

// ByScope returns the joined group with the given scope.
func (s *Service) ByScope(scope event.Scope) (*Group, bool) {
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
func (s *Service) TopicPeers(g *Group) (peers, mesh int) {
	s.mu.Lock()
	j := s.joined[g.Scope()]
	s.mu.Unlock()
	if j == nil {
		return 0, 0
	}
	return j.r.TopicPeers()
}

// Lookup resolves a group reference for a feature that acts in a group
// (red envelopes): the group's ID in hex and its name. Its errors are API
// answers (not found, ambiguous).
func (s *Service) Lookup(ref string) (id, name string, err error) {
	g, err := s.groups.find(ref)
	if errors.Is(err, ErrNoGroup) {
		return "", "", api.NotFound(err)
	}
	if err != nil {
		return "", "", api.BadRequest(err)
	}
	return hex.EncodeToString(g.ID[:]), g.Name, nil
}

// Announce sends text to the group with the given ID (hex).
func (s *Service) Announce(ctx context.Context, id, text string) error {
	g, err := s.groups.find(id)
	if err != nil {
		return err
	}
	_, err = s.Send(ctx, g, text)
	return err
}

// GroupScope returns the scope of the group with the given ID (hex).
func (s *Service) GroupScope(id string) (event.Scope, error) {
	g, err := s.groups.find(id)
	if err != nil {
		return event.Scope{}, err
	}
	return g.Scope(), nil
}

// GroupMAC proves membership of the group with the given scope: it returns
// HMAC-SHA256(k, data) with k = HKDF-SHA256(group key, no salt,
// "banyan/group-mac/v1" || 0x00 || label, 32 bytes). Only holders of the
// group key can make or check it. ok is false when this node is not in the
// group.
func (s *Service) GroupMAC(scope event.Scope, label string, data []byte) (mac [32]byte, ok bool) {
	g, ok := s.ByScope(scope)
	if !ok {
		return mac, false
	}
	k, err := hkdf.Key(sha256.New, g.Key[:], nil, "banyan/group-mac/v1\x00"+label, 32)
	if err != nil {
		return mac, false
	}
	h := hmac.New(sha256.New, k)
	h.Write(data)
	h.Sum(mac[:0])
	return mac, true
}
