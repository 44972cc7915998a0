// Package events is events in a group or to one's contacts: a post with a
// title, a time, a place and a description, which its author may edit,
// answered (going, maybe, not going) with RSVPs that merge on every node; a
// personal schedule of the upcoming events, with reminders on the event
// stream. A group's events are a scope of their own, sealed with the
// group's key; a person's events to contacts are a scope of their own too,
// sealed with the audience key of their moments. The package also holds
// their API routes, command-line commands and stream rendering.
package events

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/crypto/ratchet"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/people"
	"github.com/banyan-mesh/banyan/store"
)

// RemindBefore is how long before an event starts its reminder comes.
const RemindBefore = time.Hour

// authorRate bounds what one author writes in one events scope: people
// post and answer by hand; authorQuota what they may hold in it, far more
// than years of events and answers.
var (
	authorRate  = mesh.Rate{Per: 2, Burst: 100}
	authorQuota = engine.Quota{Events: 2_000, Bytes: 4 << 20}
)

// Groups is what events ask of group chat: the groups this node is in, and
// their key, used without being seen.
type Groups interface {
	WatchGroups(fn func(group event.Scope, id string, in bool))
	Lookup(ref string) (id, name string, err error)
	GroupScope(id string) (event.Scope, error)
	// NoPriorChain reports that no earlier copy of this identity can
	// have written in the group (engine.Spec.NoPriorChain).
	NoPriorChain(group event.Scope) bool
	GroupMAC(group event.Scope, label string, data []byte) ([32]byte, bool)
	// KeepBeside has relays keep the scope GroupMAC(group, label, nil) of
	// each group registered with them.
	KeepBeside(label string)
	SealFor(group event.Scope, plaintext, ad []byte) ([]byte, error)
	OpenFor(group event.Scope, sealed, ad []byte) ([]byte, error)
}

// Contacts is what events to contacts ask of contacts: who they are, and
// when that changes.
type Contacts interface {
	Friends() ([]ratchet.Bundle, error)
	FriendsChanged() <-chan struct{}
}

// Audience seals events to contacts as moments are sealed, under the
// author's audience key (moments.Service).
type Audience interface {
	SealForContacts(ctx context.Context) (func(pt, ad []byte) ([]byte, error), error)
	SealLike(owner, payload, pt, ad []byte) ([]byte, error)
	OpenFromContact(owner, payload, ad []byte) (pt []byte, known bool, err error)
	KeysChanged() <-chan struct{}
}

// scopeLabel names the MAC that makes the scope from the group key.
const scopeLabel = "events-scope"

// Scope returns the scope of a group's events: a MAC under the group's
// key, so that only members can name it or link it to the group.
func Scope(gs Groups, group event.Scope) (event.Scope, bool) {
	return gs.GroupMAC(group, scopeLabel, nil)
}

// TopicName returns the gossip topic of an events scope: of the same form
// as a group's, so that those who see topics cannot tell them apart.
func TopicName(scope event.Scope) string { return "/banyan/group/1/" + scope.String() }

// Options configures New.
type Options struct {
	Identity *crypto.Identity
	Store    *store.Store
	Engine   *engine.Engine
	Groups   Groups
	Contacts Contacts
	Audience Audience
	People   *people.Directory
	Logger   *slog.Logger
	Now      func() time.Time
}

// Service keeps the events of every group this node is in.
type Service struct {
	id        *crypto.Identity
	store     *store.Store
	eng       *engine.Engine
	groups    Groups
	contacts  Contacts
	audience  Audience
	people    *people.Directory
	log       *slog.Logger
	now       func() time.Time
	reminders *store.Table
	// opened logs events to contacts that opened after they were stored
	// (their key came later), so that the event stream shows them (key
	// and value: the event's ID).
	opened *store.Table
	// wake tells Serve that events arrived, which may need a reminder.
	wake chan struct{}

	mu      sync.Mutex
	byScope map[event.Scope]*groupEvents
	byGroup map[event.Scope]*groupEvents
	// byOwner holds the events to contacts of this node's user and of
	// their contacts, by owner.
	byOwner map[string]*groupEvents
}

// groupEvents are the events of one group, or one person's to contacts.
type groupEvents struct {
	group   event.Scope
	groupID string
	// owner is set for a person's events to contacts: only they post there.
	owner []byte
	scope event.Scope
	// r is set, under the service's lock, once the engine keeps the scope.
	r *engine.Replica

	mu    sync.Mutex
	posts map[event.ID]*postAt
	// rsvps holds, per post and member, the member's latest answer: the
	// one furthest along the member's chain.
	rsvps map[event.ID]map[[32]byte]answerAt
	// cancels holds, per post, who sent a cancellation; only the post's
	// author's counts, decided when both are known.
	cancels map[event.ID]map[[32]byte]bool
	// sealed counts events to contacts stored under a key not known yet.
	sealed int
}

func newEvents(scope event.Scope) *groupEvents {
	return &groupEvents{scope: scope, posts: map[event.ID]*postAt{}, rsvps: map[event.ID]map[[32]byte]answerAt{}, cancels: map[event.ID]map[[32]byte]bool{}}
}

type postAt struct {
	Post
	ev *event.Event
}

type answerAt struct {
	a   Answer
	seq uint64
}

// New builds the service and keeps the events of every group.
func New(opts Options) (*Service, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	t, err := opts.Store.Table("event-reminders")
	if err != nil {
		return nil, err
	}
	opened, err := opts.Store.Table("event-opened")
	if err != nil {
		return nil, err
	}
	s := &Service{
		id: opts.Identity, store: opts.Store, eng: opts.Engine, groups: opts.Groups, people: opts.People,
		contacts: opts.Contacts, audience: opts.Audience, log: opts.Logger, now: opts.Now, reminders: t, opened: opened, wake: make(chan struct{}, 1),
		byScope: map[event.Scope]*groupEvents{}, byGroup: map[event.Scope]*groupEvents{}, byOwner: map[string]*groupEvents{},
	}
	if err := s.follow(); err != nil {
		return nil, err
	}
	// The groups this node is in now are kept before New returns, and
	// fail it; a group joined later that cannot be kept is logged.
	var failed []error
	starting := true
	// Relays that keep a group keep its events too.
	opts.Groups.KeepBeside(scopeLabel)
	opts.Groups.WatchGroups(func(group event.Scope, id string, in bool) {
		if !in {
			s.drop(group)
			return
		}
		if err := s.keep(group, id); err != nil {
			s.log.Error("keep a group's events", "group", id, "err", err)
			if starting {
				failed = append(failed, err)
			}
		}
	})
	starting = false
	return s, errors.Join(failed...)
}

func (s *Service) keep(group event.Scope, id string) error {
	scope, ok := Scope(s.groups, group)
	if !ok {
		return fmt.Errorf("events: %s is not a group here", id)
	}
	s.mu.Lock()
	if s.byGroup[group] != nil {
		s.mu.Unlock()
		return nil
	}
	ge := newEvents(scope)
	ge.group, ge.groupID = group, id
	s.byScope[scope], s.byGroup[group] = ge, ge
	s.mu.Unlock()
	err := s.start(ge, TopicName(scope), func() bool { return s.groups.NoPriorChain(group) })
	if err != nil {
		s.mu.Lock()
		delete(s.byScope, scope)
		delete(s.byGroup, group)
		s.mu.Unlock()
	}
	return err
}

// start keeps an events scope and merges what the store holds of it;
// noPrior is the scope's engine.Spec.NoPriorChain.
func (s *Service) start(ge *groupEvents, topic string, noPrior func() bool) error {
	r, err := s.eng.Keep(engine.Spec{
		Scope: ge.scope, Topic: topic, Kinds: []event.Kind{KindPost, KindRSVP, KindCancel}, Feature: s,
		AuthorRate: authorRate, AuthorQuota: authorQuota, NoPriorChain: noPrior,
	})
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	s.mu.Lock()
	ge.r = r
	s.mu.Unlock()
	return s.replay(ge)
}

// replay merges every stored event of a scope: posts and answers merge in
// any order, so reading the store after keeping the scope loses nothing,
// and reading it again changes nothing but what opens now.
func (s *Service) replay(ge *groupEvents) error {
	ge.mu.Lock()
	ge.sealed = 0
	ge.mu.Unlock()
	if err := ge.r.Replay(func(evs []*event.Event) { s.apply(ge, evs) }); err != nil {
		return fmt.Errorf("events: %w", err)
	}
	return nil
}

// follow keeps the events to contacts of this node's user and of each of
// their contacts, and forgets those of people who are no longer contacts.
func (s *Service) follow() error {
	friends, err := s.contacts.Friends()
	if err != nil {
		return fmt.Errorf("events: contacts: %w", err)
	}
	want := map[string][]byte{string(s.id.PublicKey()): s.id.PublicKey()}
	for _, b := range friends {
		want[string(b.IdentityKey[:])] = bytes.Clone(b.IdentityKey[:])
	}
	var failed []error
	for k, owner := range want {
		s.mu.Lock()
		kept := s.byOwner[k] != nil
		var ge *groupEvents
		if !kept {
			ge = newEvents(ContactsScope(owner))
			ge.owner = owner
			s.byOwner[k], s.byScope[ge.scope] = ge, ge
		}
		s.mu.Unlock()
		if kept {
			continue
		}
		if err := s.start(ge, ContactsTopic(ge.scope), s.noContacts); err != nil {
			s.mu.Lock()
			delete(s.byOwner, k)
			delete(s.byScope, ge.scope)
			s.mu.Unlock()
			failed = append(failed, err)
		}
	}
	s.mu.Lock()
	var gone []*groupEvents
	for k, ge := range s.byOwner {
		if _, ok := want[k]; !ok {
			gone = append(gone, ge)
			delete(s.byOwner, k)
			delete(s.byScope, ge.scope)
		}
	}
	s.mu.Unlock()
	for _, ge := range gone {
		if err := ge.r.Forget(); err != nil {
			failed = append(failed, fmt.Errorf("events: forget a former contact's: %w", err))
		}
	}
	return errors.Join(failed...)
}

func (s *Service) drop(group event.Scope) {
	s.mu.Lock()
	ge := s.byGroup[group]
	delete(s.byGroup, group)
	if ge == nil {
		s.mu.Unlock()
		return
	}
	delete(s.byScope, ge.scope)
	r := ge.r
	s.mu.Unlock()
	var err error
	if r != nil {
		err = r.Forget()
	} else {
		err = s.store.DeleteScope(ge.scope)
	}
	if err != nil {
		s.log.Warn("delete a left group's events", "err", err)
	}
}

func (s *Service) events(scope event.Scope) *groupEvents {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byScope[scope]
}

// errNoKey reports an event to contacts sealed under an audience key this
// node does not hold (yet, or ever).
var errNoKey = errors.New("audience key not known here")

// opened is a decoded post or answer.
type opened struct {
	post   *Post
	rsvp   *RSVP
	cancel *Cancel
}

// open decrypts and decodes an event of an events scope.
func (s *Service) open(ge *groupEvents, e *event.Event) (opened, error) {
	var pt []byte
	var err error
	if ge.owner != nil {
		var known bool
		pt, known, err = s.audience.OpenFromContact(ge.owner, e.Payload, contactsAD(ge.scope, e.Author, e.Seq, e.Kind))
		if !known {
			return opened{}, errNoKey
		}
	} else {
		pt, err = s.groups.OpenFor(ge.group, e.Payload, ad(ge.scope, e.Author, e.Seq))
	}
	if err != nil {
		return opened{}, err
	}
	switch e.Kind {
	case KindPost:
		p, err := decodePost(pt)
		return opened{post: &p}, err
	case KindRSVP:
		r, err := decodeRSVP(pt)
		return opened{rsvp: &r}, err
	case KindCancel:
		c, err := decodeCancel(pt)
		return opened{cancel: &c}, err
	}
	return opened{}, fmt.Errorf("events: kind %d", e.Kind)
}

// Check opens a post or an answer: it must decrypt with the group's key,
// or the owner's audience key, and hold a valid body. In a person's events
// to contacts, only they post and cancel; what is sealed under a key not
// known here is kept sealed if it is theirs, and waits otherwise (sync
// brings it again), as moments do.
func (s *Service) Check(e *event.Event) error {
	ge := s.events(e.ScopeID())
	if ge == nil {
		return engine.Reject(engine.ReasonScope, fmt.Errorf("no events of scope %s", e.ScopeID()))
	}
	byOwner := ge.owner == nil || e.SameAuthor(ge.owner)
	if !byOwner && e.Kind != KindRSVP {
		return engine.Reject(engine.ReasonBody, fmt.Errorf("kind %d in events to contacts written by someone else than the owner", e.Kind))
	}
	_, err := s.open(ge, e)
	if errors.Is(err, errNoKey) {
		if byOwner {
			return nil
		}
		return engine.Ignore(err)
	}
	if errors.Is(err, crypto.ErrDecrypt) {
		return engine.Reject(engine.ReasonDecrypt, err)
	}
	if err != nil {
		return engine.Reject(engine.ReasonBody, err)
	}
	return nil
}

// Stored merges stored posts and answers, and wakes the reminders.
func (s *Service) Stored(evs []*event.Event, _ engine.Origin) {
	if len(evs) == 0 {
		return
	}
	if ge := s.events(evs[0].ScopeID()); ge != nil {
		s.apply(ge, evs)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Service) apply(ge *groupEvents, evs []*event.Event) {
	ge.mu.Lock()
	defer ge.mu.Unlock()
	for _, e := range evs {
		o, err := s.open(ge, e)
		if errors.Is(err, errNoKey) {
			ge.sealed++
			continue
		}
		if err != nil {
			s.log.Warn("stored event does not open", "id", e.ID, "err", err)
			continue
		}
		if o.post != nil {
			ge.posts[e.ID] = &postAt{Post: *o.post, ev: e}
			continue
		}
		if o.cancel != nil {
			id := event.ID(o.cancel.Event)
			if ge.cancels[id] == nil {
				ge.cancels[id] = map[[32]byte]bool{}
			}
			ge.cancels[id][[32]byte(e.Author)] = true
			continue
		}
		id := event.ID(o.rsvp.Event)
		m := ge.rsvps[id]
		if m == nil {
			m = map[[32]byte]answerAt{}
			ge.rsvps[id] = m
		}
		// The member's latest answer wins, whatever order answers
		// arrive in.
		if cur, ok := m[[32]byte(e.Author)]; !ok || e.Seq > cur.seq {
			m[[32]byte(e.Author)] = answerAt{a: o.rsvp.Answer, seq: e.Seq}
		}
	}
}

// Occasion is an event as it reads now: the latest version of the post,
// who answered what.
type Occasion struct {
	ID event.ID
	// GroupID is the group's ID in hex, or "" for an event to contacts.
	GroupID string
	Post
	Author  []byte
	Answers map[[32]byte]Answer
	// Cancelled says its author called it off.
	Cancelled bool
}

// occasion returns the event p, an original post, as it reads now: of p
// and its author's edits of it, the one with the greatest (time, id).
func (ge *groupEvents) occasion(id event.ID, p *postAt) Occasion {
	latest := p
	for _, q := range ge.posts {
		if bytes.Equal(q.Of, id[:]) && q.ev.SameAuthor(p.ev.Author) && later(q.ev, latest.ev) {
			latest = q
		}
	}
	cur := latest.Post
	cur.Of = nil
	o := Occasion{ID: id, GroupID: ge.groupID, Post: cur, Author: p.ev.Author, Answers: map[[32]byte]Answer{},
		Cancelled: ge.cancels[id][[32]byte(p.ev.Author)]}
	for who, a := range ge.rsvps[id] {
		o.Answers[who] = a.a
	}
	return o
}

// Events returns a group's events (its ID in hex), by start.
func (s *Service) Events(groupID string) ([]Occasion, error) {
	ge, err := s.group(groupID)
	if err != nil {
		return nil, err
	}
	ge.mu.Lock()
	defer ge.mu.Unlock()
	var out []Occasion
	for id, p := range ge.posts {
		if p.Of == nil {
			out = append(out, ge.occasion(id, p))
		}
	}
	sortOccasions(out)
	return out, nil
}

// later says whether a comes after b in history order: time, then ID.
func later(a, b *event.Event) bool {
	return cmp.Or(cmp.Compare(a.Time, b.Time), bytes.Compare(a.ID[:], b.ID[:])) > 0
}

func sortOccasions(os []Occasion) {
	slices.SortFunc(os, func(a, b Occasion) int { return cmp.Or(cmp.Compare(a.Start, b.Start), bytes.Compare(a.ID[:], b.ID[:])) })
}

// Schedule returns the events of every group, and to contacts, that have not started more
// than an hour ago, by start, except those cancelled and those this node's
// user will not go to.
func (s *Service) Schedule() []Occasion {
	from := s.now().Add(-time.Hour).UnixMilli()
	me := [32]byte(s.id.PublicKey())
	var out []Occasion
	for _, ge := range s.all() {
		ge.mu.Lock()
		for id, p := range ge.posts {
			if p.Of != nil {
				continue
			}
			if o := ge.occasion(id, p); o.Start >= from && !o.Cancelled && ge.rsvps[id][me].a != NotGoing {
				out = append(out, o)
			}
		}
		ge.mu.Unlock()
	}
	sortOccasions(out)
	return out
}

func (s *Service) all() []*groupEvents {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*groupEvents, 0, len(s.byScope))
	for _, ge := range s.byScope {
		out = append(out, ge)
	}
	return out
}

// Find returns the event with the given ID (its original post's), in
// whatever scope it is.
func (s *Service) Find(id event.ID) (Occasion, bool) {
	o, _, ok := s.find(id)
	return o, ok
}

func (s *Service) find(id event.ID) (Occasion, *groupEvents, bool) {
	for _, ge := range s.all() {
		ge.mu.Lock()
		p, ok := ge.posts[id]
		ok = ok && p.Of == nil
		var o Occasion
		if ok {
			o = ge.occasion(id, p)
		}
		ge.mu.Unlock()
		if ok {
			return o, ge, true
		}
	}
	return Occasion{}, nil, false
}

func (s *Service) group(id string) (*groupEvents, error) {
	scope, err := s.groups.GroupScope(id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ge := s.byGroup[scope]
	// Without a replica yet, the group is still being opened.
	if ge == nil || ge.r == nil {
		return nil, fmt.Errorf("events: group %s is not kept here", id)
	}
	return ge, nil
}

// write signs, stores and publishes a post or an answer in an events
// scope; it is durable when write returns.
func (s *Service) write(ctx context.Context, ge *groupEvents, kind event.Kind, v any) (*event.Event, error) {
	pt, err := cborEnc.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	seal := func(pos engine.Position) ([]byte, error) {
		return s.groups.SealFor(ge.group, pt, ad(pos.Scope, s.id.PublicKey(), pos.Seq))
	}
	if ge.owner != nil {
		// Sealed for the contacts the owner has now; an answer to a
		// contact's event, under the key this node has of them.
		if bytes.Equal(ge.owner, s.id.PublicKey()) {
			sealFn, err := s.audience.SealForContacts(ctx)
			if err != nil {
				return nil, fmt.Errorf("event: %w", err)
			}
			seal = func(pos engine.Position) ([]byte, error) {
				return sealFn(pt, contactsAD(pos.Scope, s.id.PublicKey(), pos.Seq, kind))
			}
		} else if seal, err = s.sealAsPost(ge, v, pt, kind); err != nil {
			return nil, err
		}
	}
	e, err := ge.r.Write(ctx, func(pos engine.Position) (event.Body, error) {
		payload, err := seal(pos)
		if err != nil {
			return event.Body{}, err
		}
		return pos.Body(kind, payload), nil
	})
	if err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	return e, nil
}

// Create posts an event in a group (its ID in hex), or to this node's
// contacts if groupID is "".
func (s *Service) Create(ctx context.Context, groupID string, p Post) (Occasion, error) {
	if err := p.check(); err != nil {
		return Occasion{}, err
	}
	if p.Of != nil {
		return Occasion{}, errors.New("events: a new event replaces nothing")
	}
	ge, err := s.own()
	if groupID != "" {
		ge, err = s.group(groupID)
	}
	if err != nil {
		return Occasion{}, err
	}
	e, err := s.write(ctx, ge, KindPost, p)
	if err != nil {
		return Occasion{}, err
	}
	o, _ := s.Find(e.ID)
	return o, nil
}

// own returns this node's events to contacts.
func (s *Service) own() (*groupEvents, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ge := s.byOwner[string(s.id.PublicKey())]
	if ge == nil || ge.r == nil {
		return nil, errors.New("events: events to contacts are not kept here")
	}
	return ge, nil
}

// sealAsPost returns how an answer to a contact's event is sealed: under
// the audience key the answered post was sealed with.
func (s *Service) sealAsPost(ge *groupEvents, v any, pt []byte, kind event.Kind) (func(engine.Position) ([]byte, error), error) {
	r, ok := v.(RSVP)
	if !ok {
		return nil, errors.New("events: only answers go to a contact's events")
	}
	ge.mu.Lock()
	p := ge.posts[event.ID(r.Event)]
	ge.mu.Unlock()
	if p == nil {
		return nil, ErrNoEvent
	}
	return func(pos engine.Position) ([]byte, error) {
		return s.audience.SealLike(ge.owner, p.ev.Payload, pt, contactsAD(pos.Scope, s.id.PublicKey(), pos.Seq, kind))
	}, nil
}

// Edit replaces an event this node's user posted with a new version; its
// answers stay. Everyone shows the version with the greatest (time, id).
func (s *Service) Edit(ctx context.Context, id event.ID, p Post) (Occasion, error) {
	if err := p.check(); err != nil {
		return Occasion{}, err
	}
	o, ge, ok := s.find(id)
	if !ok {
		return o, ErrNoEvent
	}
	if !bytes.Equal(o.Author, s.id.PublicKey()) {
		return o, ErrNotYours
	}
	p.Of = id[:]
	if _, err := s.write(ctx, ge, KindPost, p); err != nil {
		return o, err
	}
	o, _ = s.Find(id)
	return o, nil
}

// Answer answers an event for this node's user.
func (s *Service) Answer(ctx context.Context, id event.ID, a Answer) (Occasion, error) {
	o, ge, ok := s.find(id)
	if !ok {
		return o, ErrNoEvent
	}
	if _, err := s.write(ctx, ge, KindRSVP, RSVP{Event: id[:], Answer: a}); err != nil {
		return o, err
	}
	o, _ = s.Find(id)
	return o, nil
}

// ErrNotYours refuses to cancel or edit another person's event.
var ErrNotYours = errors.New("only whoever posted an event can change it")

// CancelEvent calls off an event this node's user posted.
func (s *Service) CancelEvent(ctx context.Context, id event.ID) (Occasion, error) {
	o, ge, ok := s.find(id)
	if !ok {
		return o, ErrNoEvent
	}
	if !bytes.Equal(o.Author, s.id.PublicKey()) {
		return o, ErrNotYours
	}
	if _, err := s.write(ctx, ge, KindCancel, Cancel{Event: id[:]}); err != nil {
		return o, err
	}
	o, _ = s.Find(id)
	return o, nil
}

// ErrNoEvent reports an event reference that matches nothing.
var ErrNoEvent = errors.New("no such event")

// Reminder is the record of a reminder given, in the "event-reminders"
// table (key: the event's ID), which the event stream shows.
type Reminder struct {
	Event   string    `json:"event"`
	GroupID string    `json:"group_id"`
	At      time.Time `json:"at"`
}

// Serve gives reminders: an event starting within RemindBefore that the
// user posted, or answered going or maybe, gets one, once, on the event
// stream. It follows the contacts, and opens events to contacts whose
// audience key arrives.
func (s *Service) Serve(ctx context.Context) error {
	t := time.NewTicker(15 * time.Second)
	defer t.Stop()
	for {
		// The channels are taken before what they announce is read, so
		// that no change is missed between two rounds.
		friends, keys := s.contacts.FriendsChanged(), s.audience.KeysChanged()
		if err := s.follow(); err != nil {
			s.log.Warn("follow contacts", "err", err)
		}
		s.reopen()
		if err := s.remind(); err != nil {
			s.log.Warn("reminders", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.wake:
		case <-friends:
		case <-keys:
		}
	}
}

// reopen merges again the events to contacts kept sealed: a key came.
func (s *Service) reopen() {
	for _, ge := range s.all() {
		ge.mu.Lock()
		sealed := ge.owner != nil && ge.sealed > 0 && ge.r != nil
		ge.mu.Unlock()
		if !sealed {
			continue
		}
		ge.mu.Lock()
		before := make(map[event.ID]bool, len(ge.posts))
		for id := range ge.posts {
			before[id] = true
		}
		ge.mu.Unlock()
		if err := s.replay(ge); err != nil {
			s.log.Warn("open events to contacts", "err", err)
			continue
		}
		ge.mu.Lock()
		var now []event.ID
		for id := range ge.posts {
			if !before[id] {
				now = append(now, id)
			}
		}
		ge.mu.Unlock()
		// Stored while sealed, they were not on the event stream.
		if err := s.store.Write(func(b *store.Batch) error {
			for _, id := range now {
				if err := b.Put(s.opened, id[:], id[:]); err != nil {
					return err
				}
				if err := b.Log(s.opened, id[:]); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			s.log.Warn("announce opened events", "err", err)
		}
	}
}

func (s *Service) remind() error {
	now := s.now()
	me := [32]byte(s.id.PublicKey())
	for _, o := range s.Schedule() {
		start := time.UnixMilli(o.Start)
		if start.Before(now) || start.Sub(now) > RemindBefore {
			continue
		}
		// Only what the user plans to attend: their own events and those
		// they answered going or maybe.
		if a := o.Answers[me]; !bytes.Equal(o.Author, me[:]) && a != Going && a != Maybe {
			continue
		}
		if has, err := s.reminders.Has(o.ID[:]); err != nil || has {
			if err != nil {
				return err
			}
			continue
		}
		rec, err := json.Marshal(Reminder{Event: o.ID.String(), GroupID: o.GroupID, At: now.UTC()})
		if err != nil {
			return err
		}
		if err := s.store.Write(func(b *store.Batch) error {
			if err := b.Put(s.reminders, o.ID[:], rec); err != nil {
				return err
			}
			return b.Log(s.reminders, o.ID[:])
		}); err != nil {
			return err
		}
		s.log.Info("reminder", "event", o.Title, "starts", start)
	}
	return nil
}

// noContacts reports that nobody else keeps this node's events to
// contacts: only contacts do (engine.Spec.NoPriorChain).
func (s *Service) noContacts() bool {
	friends, err := s.contacts.Friends()
	return err == nil && len(friends) == 0
}
