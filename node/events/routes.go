package events

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/people"
	"github.com/banyan-mesh/banyan/store"
)

// EventInfo is an event as the API shows it.
type EventInfo struct {
	ID string `json:"id"`
	// GroupID and GroupName are the group's, or empty for an event to the
	// author's contacts (Contacts).
	GroupID     string          `json:"group_id"`
	GroupName   string          `json:"group_name"`
	Contacts    bool            `json:"contacts,omitempty"`
	Title       string          `json:"title"`
	Start       time.Time       `json:"start"`
	Place       string          `json:"place,omitempty"`
	Description string          `json:"description,omitempty"`
	By          people.Person   `json:"by"`
	Mine        bool            `json:"mine"`
	Going       []people.Person `json:"going"`
	Maybe       []people.Person `json:"maybe"`
	NotGoing    []people.Person `json:"not_going"`
	// You is this node's user's answer: going, maybe, not-going or "".
	You string `json:"you,omitempty"`
	// Soon says the event starts within the hour.
	Soon bool `json:"soon,omitempty"`
	// Cancelled says whoever posted it called it off.
	Cancelled bool `json:"cancelled,omitempty"`
}

// CreateEvent is the body of POST /v1/groups/{group}/events, POST
// /v1/events (to contacts) and PUT /v1/schedule/{event} (an edit).
type CreateEvent struct {
	Title       string    `json:"title"`
	Start       time.Time `json:"start"`
	Place       string    `json:"place,omitempty"`
	Description string    `json:"description,omitempty"`
}

// RSVPIn is the body of POST /v1/schedule/{event}/rsvp: going, maybe or
// not-going.
type RSVPIn struct {
	Answer string `json:"answer"`
}

// RSVPEvent is an answer on the event stream.
type RSVPEvent struct {
	EventID   string        `json:"event_id"`
	Title     string        `json:"title"`
	GroupName string        `json:"group_name"`
	Contacts  bool          `json:"contacts,omitempty"`
	Answer    string        `json:"answer"`
	By        people.Person `json:"by"`
	Mine      bool          `json:"mine"`
	Time      time.Time     `json:"time"`
}

// Types on the event stream.
const (
	StreamPost     = "event"
	StreamRSVP     = "rsvp"
	StreamReminder = "reminder"
)

// Routes registers the events API:
//
//	GET  /v1/groups/{group}/events   []EventInfo, by start
//	POST /v1/groups/{group}/events   CreateEvent -> EventInfo
//	POST /v1/events                  CreateEvent -> EventInfo, to one's contacts
//	GET  /v1/schedule                []EventInfo: upcoming, every group and contacts
//	POST /v1/schedule/{event}/rsvp   RSVPIn -> EventInfo
//	PUT  /v1/schedule/{event}        CreateEvent -> EventInfo: edit one's own event
//	DELETE /v1/schedule/{event}      cancel one's own event -> EventInfo
//
// {event} is an event's ID or a unique prefix of at least 6 hex digits.
func (s *Service) Routes(srv *api.Server) {
	srv.Handle("GET /v1/groups/{group}/events", api.Get(srv, func(r *http.Request) ([]EventInfo, error) {
		id, _, err := s.groups.Lookup(r.PathValue("group"))
		if err != nil {
			return nil, err
		}
		os, err := s.Events(id)
		if err != nil {
			return nil, err
		}
		return s.infos(os), nil
	}))
	srv.Handle("POST /v1/groups/{group}/events", api.Post(srv, func(r *http.Request, in CreateEvent) (*EventInfo, error) {
		id, _, err := s.groups.Lookup(r.PathValue("group"))
		if err != nil {
			return nil, err
		}
		return s.create(r, id, in)
	}))
	srv.Handle("POST /v1/events", api.Post(srv, func(r *http.Request, in CreateEvent) (*EventInfo, error) {
		return s.create(r, "", in)
	}))
	srv.Handle("PUT /v1/schedule/{event}", api.Post(srv, func(r *http.Request, in CreateEvent) (*EventInfo, error) {
		id, err := s.resolve(r.PathValue("event"))
		if err != nil {
			return nil, err
		}
		p := in.post()
		if err := p.check(); err != nil {
			return nil, api.BadRequest(err)
		}
		o, err := s.Edit(r.Context(), id, p)
		if errors.Is(err, ErrNotYours) {
			return nil, api.Errorf(http.StatusForbidden, "%v", err)
		}
		if err != nil {
			return nil, err
		}
		return s.info(o), nil
	}))
	srv.Handle("GET /v1/schedule", api.Get(srv, func(r *http.Request) ([]EventInfo, error) {
		return s.infos(s.Schedule()), nil
	}))
	srv.Handle("POST /v1/schedule/{event}/rsvp", api.Post(srv, func(r *http.Request, in RSVPIn) (*EventInfo, error) {
		a, err := ParseAnswer(in.Answer)
		if err != nil {
			return nil, api.BadRequest(err)
		}
		id, err := s.resolve(r.PathValue("event"))
		if err != nil {
			return nil, err
		}
		o, err := s.Answer(r.Context(), id, a)
		if err != nil {
			return nil, err
		}
		return s.info(o), nil
	}))
	srv.Handle("DELETE /v1/schedule/{event}", api.Get(srv, func(r *http.Request) (*EventInfo, error) {
		id, err := s.resolve(r.PathValue("event"))
		if err != nil {
			return nil, err
		}
		o, err := s.CancelEvent(r.Context(), id)
		if errors.Is(err, ErrNotYours) {
			return nil, api.Errorf(http.StatusForbidden, "%v", err)
		}
		if err != nil {
			return nil, err
		}
		return s.info(o), nil
	}))
}

func (in CreateEvent) post() Post {
	return Post{Title: in.Title, Start: in.Start.UnixMilli(), Place: in.Place, About: in.Description}
}

// create posts an event in a group (its ID), or to contacts ("").
func (s *Service) create(r *http.Request, groupID string, in CreateEvent) (*EventInfo, error) {
	p := in.post()
	if err := p.check(); err != nil {
		return nil, api.BadRequest(err)
	}
	o, err := s.Create(r.Context(), groupID, p)
	if err != nil {
		return nil, err
	}
	return s.info(o), nil
}

// resolve finds an event by ID or unique prefix.
func (s *Service) resolve(ref string) (event.ID, error) {
	var found []event.ID
	for _, ge := range s.all() {
		ge.mu.Lock()
		for id, p := range ge.posts {
			if h := id.String(); p.Of == nil && h == ref || (len(ref) >= event.MinPrefix && strings.HasPrefix(h, ref)) {
				found = append(found, id)
			}
		}
		ge.mu.Unlock()
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return event.ID{}, api.NotFound(fmt.Errorf("%w %q (see 'banyan event list')", ErrNoEvent, ref))
	}
	return event.ID{}, api.BadRequest(fmt.Errorf("%q matches more than one event; use more of its ID", ref))
}

func (s *Service) infos(os []Occasion) []EventInfo {
	out := []EventInfo{}
	for _, o := range os {
		out = append(out, *s.info(o))
	}
	return out
}

func (s *Service) info(o Occasion) *EventInfo {
	var name string
	if o.GroupID != "" {
		_, name, _ = s.groups.Lookup(o.GroupID)
	}
	start := time.UnixMilli(o.Start).UTC()
	now := s.now()
	out := &EventInfo{
		ID: o.ID.String(), GroupID: o.GroupID, GroupName: name, Contacts: o.GroupID == "", Title: o.Title, Start: start, Place: o.Place,
		Description: o.About, By: s.people.Key(o.Author), Mine: string(o.Author) == string(s.id.PublicKey()),
		Going: []people.Person{}, Maybe: []people.Person{}, NotGoing: []people.Person{},
		Soon: !o.Cancelled && !start.Before(now) && start.Sub(now) <= RemindBefore, Cancelled: o.Cancelled,
	}
	// Answers in a stable order, by key.
	who := make([][32]byte, 0, len(o.Answers))
	for k := range o.Answers {
		who = append(who, k)
	}
	slices.SortFunc(who, func(a, b [32]byte) int { return strings.Compare(string(a[:]), string(b[:])) })
	me := [32]byte(s.id.PublicKey())
	for _, k := range who {
		p := s.people.Key(k[:])
		switch a := o.Answers[k]; a {
		case Going:
			out.Going = append(out.Going, p)
		case Maybe:
			out.Maybe = append(out.Maybe, p)
		case NotGoing:
			out.NotGoing = append(out.NotGoing, p)
		}
		if k == me {
			out.You = o.Answers[k].String()
		}
	}
	return out
}

// Render shows posts, answers and reminders on the event stream, and
// events to contacts once they open.
func (s *Service) Render(a store.Arrival) (api.Event, bool) {
	if a.Table == s.opened.Name() {
		if len(a.Value) != event.IDSize {
			return api.Event{}, false
		}
		o, ok := s.Find(event.ID(a.Value))
		if !ok {
			return api.Event{}, false
		}
		return api.Event{Seq: a.Seq, Type: StreamPost, Data: s.info(o)}, true
	}
	if a.Table == s.reminders.Name() {
		var rec Reminder
		if json.Unmarshal(a.Value, &rec) != nil {
			return api.Event{}, false
		}
		id, err := event.ParseID(rec.Event)
		if err != nil {
			return api.Event{}, false
		}
		o, ok := s.Find(id)
		if !ok {
			return api.Event{}, false
		}
		return api.Event{Seq: a.Seq, Type: StreamReminder, Data: s.info(o)}, true
	}
	if a.Event == nil || (a.Event.Kind != KindPost && a.Event.Kind != KindRSVP && a.Event.Kind != KindCancel) {
		return api.Event{}, false
	}
	ge := s.events(a.Event.ScopeID())
	if ge == nil {
		return api.Event{}, false
	}
	op, err := s.open(ge, a.Event)
	if err != nil {
		return api.Event{}, false
	}
	if op.post != nil || op.cancel != nil {
		id := a.Event.ID
		switch {
		case op.cancel != nil:
			id = event.ID(op.cancel.Event)
		case op.post.Of != nil:
			id = event.ID(op.post.Of) // an edit shows the event as it reads now
		}
		o, ok := s.Find(id)
		// A cancellation shows only if it counts: from the post's author.
		if !ok || (op.cancel != nil && !(o.Cancelled && a.Event.SameAuthor(o.Author))) {
			return api.Event{}, false
		}
		return api.Event{Seq: a.Seq, Type: StreamPost, Data: s.info(o)}, true
	}
	out := &RSVPEvent{
		EventID: hex.EncodeToString(op.rsvp.Event), Answer: op.rsvp.Answer.String(),
		By: s.people.Key(a.Event.Author), Mine: a.Event.SameAuthor(s.id.PublicKey()), Time: time.UnixMilli(a.Event.Time).UTC(),
	}
	if o, ok := s.Find(event.ID(op.rsvp.Event)); ok {
		info := s.info(o)
		out.Title, out.GroupName, out.Contacts = info.Title, info.GroupName, info.Contacts
	}
	return api.Event{Seq: a.Seq, Type: StreamRSVP, Data: out}, true
}
