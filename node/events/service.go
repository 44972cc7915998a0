// Package events is events in a group: a post with a title, a time, a
// place and a description, answered by members (going, maybe, not going)
// with RSVPs that merge on every node; a personal schedule of the upcoming
// events of every group, with reminders on the event stream. A group's
// events are a scope of their own, sealed with the group's key. The package
// also holds their API routes, command-line commands and stream rendering.
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
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/people"
	"github.com/banyan-mesh/banyan/store"
)

// RemindBefore is how long before an event starts its reminder comes.
const RemindBefore = time.Hour

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
	SealFor(group event.Scope, plaintext, ad []byte) ([]byte, error)
	OpenFor(group event.Scope, sealed, ad []byte) ([]byte, error)
}

// Scope returns the scope of a group's events: a MAC under the group's
// key, so that only members can name it or link it to the group.
func Scope(gs Groups, group event.Scope) (event.Scope, bool) {
	return gs.GroupMAC(group, "events-scope", nil)
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
	people    *people.Directory
	log       *slog.Logger
	now       func() time.Time
	reminders *store.Table
	// wake tells Serve that events arrived, which may need a reminder.
	wake chan struct{}

	mu      sync.Mutex
	byScope map[event.Scope]*groupEvents
	byGroup map[event.Scope]*groupEvents
}

// groupEvents are the events of one group.
type groupEvents struct {
	group   event.Scope
	groupID string
	scope   event.Scope
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
	s := &Service{
		id: opts.Identity, store: opts.Store, eng: opts.Engine, groups: opts.Groups, people: opts.People,
		log: opts.Logger, now: opts.Now, reminders: t, wake: make(chan struct{}, 1),
		byScope: map[event.Scope]*groupEvents{}, byGroup: map[event.Scope]*groupEvents{},
	}
	// The groups this node is in now are kept before New returns, and
	// fail it; a group joined later that cannot be kept is logged.
	var failed []error
	starting := true
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
	ge := &groupEvents{group: group, groupID: id, scope: scope, posts: map[event.ID]*postAt{}, rsvps: map[event.ID]map[[32]byte]answerAt{}, cancels: map[event.ID]map[[32]byte]bool{}}
	s.byScope[scope], s.byGroup[group] = ge, ge
	s.mu.Unlock()
	r, err := s.eng.Keep(engine.Spec{
		Scope: scope, Topic: TopicName(scope), Kinds: []event.Kind{KindPost, KindRSVP, KindCancel}, Feature: s,
		NoPriorChain: func() bool { return s.groups.NoPriorChain(group) },
	})
	if err != nil {
		s.mu.Lock()
		delete(s.byScope, scope)
		delete(s.byGroup, group)
		s.mu.Unlock()
		return fmt.Errorf("events: %w", err)
	}
	s.mu.Lock()
	ge.r = r
	s.mu.Unlock()
	// Posts and answers merge in any order: reading the store after
	// keeping the scope loses nothing.
	if err := r.Replay(func(evs []*event.Event) { s.apply(ge, evs) }); err != nil {
		return fmt.Errorf("events: %w", err)
	}
	return nil
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

// opened is a decoded post or answer.
type opened struct {
	post   *Post
	rsvp   *RSVP
	cancel *Cancel
}

// open decrypts and decodes an event of a group's events scope.
func (s *Service) open(ge *groupEvents, e *event.Event) (opened, error) {
	pt, err := s.groups.OpenFor(ge.group, e.Payload, ad(ge.scope, e.Author, e.Seq))
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

// Check opens a post or an answer: it must decrypt with the group's key
// and hold a valid body.
func (s *Service) Check(e *event.Event) error {
	ge := s.events(e.ScopeID())
	if ge == nil {
		return engine.Reject(engine.ReasonScope, fmt.Errorf("no events of scope %s", e.ScopeID()))
	}
	_, err := s.open(ge, e)
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

// Occasion is an event as it reads now: the post, who answered what.
type Occasion struct {
	ID      event.ID
	GroupID string
	Post
	Author  []byte
	Answers map[[32]byte]Answer
	// Cancelled says its author called it off.
	Cancelled bool
}

func (ge *groupEvents) occasion(id event.ID, p *postAt) Occasion {
	o := Occasion{ID: id, GroupID: ge.groupID, Post: p.Post, Author: p.ev.Author, Answers: map[[32]byte]Answer{},
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
		out = append(out, ge.occasion(id, p))
	}
	sortOccasions(out)
	return out, nil
}

func sortOccasions(os []Occasion) {
	slices.SortFunc(os, func(a, b Occasion) int { return cmp.Or(cmp.Compare(a.Start, b.Start), bytes.Compare(a.ID[:], b.ID[:])) })
}

// Schedule returns the events of every group that have not started more
// than an hour ago, by start, except those cancelled and those this node's
// user will not go to.
func (s *Service) Schedule() []Occasion {
	from := s.now().Add(-time.Hour).UnixMilli()
	me := [32]byte(s.id.PublicKey())
	var out []Occasion
	for _, ge := range s.all() {
		ge.mu.Lock()
		for id, p := range ge.posts {
			if o := ge.occasion(id, p); p.Start >= from && !o.Cancelled && ge.rsvps[id][me].a != NotGoing {
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

// Find returns the event with the given ID, in whatever group it is.
func (s *Service) Find(id event.ID) (Occasion, bool) {
	for _, ge := range s.all() {
		ge.mu.Lock()
		p, ok := ge.posts[id]
		var o Occasion
		if ok {
			o = ge.occasion(id, p)
		}
		ge.mu.Unlock()
		if ok {
			return o, true
		}
	}
	return Occasion{}, false
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

// write signs, stores and publishes a post or an answer in a group's
// events; it is durable when write returns.
func (s *Service) write(ctx context.Context, ge *groupEvents, kind event.Kind, v any) (*event.Event, error) {
	pt, err := cborEnc.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	e, err := ge.r.Write(ctx, func(pos engine.Position) (event.Body, error) {
		payload, err := s.groups.SealFor(ge.group, pt, ad(pos.Scope, s.id.PublicKey(), pos.Seq))
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

// Create posts an event in a group (its ID in hex).
func (s *Service) Create(ctx context.Context, groupID string, p Post) (Occasion, error) {
	if err := p.check(); err != nil {
		return Occasion{}, err
	}
	ge, err := s.group(groupID)
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

// Answer answers an event for this node's user.
func (s *Service) Answer(ctx context.Context, id event.ID, a Answer) (Occasion, error) {
	o, ok := s.Find(id)
	if !ok {
		return o, ErrNoEvent
	}
	ge, err := s.group(o.GroupID)
	if err != nil {
		return o, err
	}
	if _, err := s.write(ctx, ge, KindRSVP, RSVP{Event: id[:], Answer: a}); err != nil {
		return o, err
	}
	o, _ = s.Find(id)
	return o, nil
}

// ErrNotYours refuses to cancel another person's event.
var ErrNotYours = errors.New("only whoever posted an event can cancel it")

// CancelEvent calls off an event this node's user posted.
func (s *Service) CancelEvent(ctx context.Context, id event.ID) (Occasion, error) {
	o, ok := s.Find(id)
	if !ok {
		return o, ErrNoEvent
	}
	if !bytes.Equal(o.Author, s.id.PublicKey()) {
		return o, ErrNotYours
	}
	ge, err := s.group(o.GroupID)
	if err != nil {
		return o, err
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
// stream.
func (s *Service) Serve(ctx context.Context) error {
	t := time.NewTicker(15 * time.Second)
	defer t.Stop()
	for {
		if err := s.remind(); err != nil {
			s.log.Warn("reminders", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.wake:
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
