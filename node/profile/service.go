// Package profile is people's profiles: a display name, a short bio, a
// place and a small avatar, which each person signs as one replaceable
// record (the latest wins on every node, whatever the order it arrives
// in), replicated to their contacts by the engine. Profiles are a source
// of names for node/people. The package owns its API routes, command-line
// commands and how profiles appear on the event stream.
package profile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/crypto/ratchet"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/people"
	"github.com/banyan-mesh/banyan/store"
)

// Contacts is what profiles ask of contacts: who they are (their profiles
// are kept), when that changes, and who a reference names.
type Contacts interface {
	Friends() ([]ratchet.Bundle, error)
	FriendsChanged() <-chan struct{}
	Resolve(ref string) (peer.ID, error)
}

// Audience seals a profile's private part (bio, place) to the contacts,
// as moments are sealed, under the author's audience key (moments.Service).
type Audience interface {
	SealForContacts(ctx context.Context) (func(pt, ad []byte) ([]byte, error), error)
	OpenFromContact(owner, payload, ad []byte) (pt []byte, known bool, err error)
	KeysChanged() <-chan struct{}
}

// Syncer starts a sync with a peer.
type Syncer interface {
	Trigger(p peer.ID)
}

// Options configures New.
type Options struct {
	Identity *crypto.Identity
	Store    *store.Store
	Engine   *engine.Engine
	Syncer   Syncer
	Contacts Contacts
	Audience Audience
	People   *people.Directory
	// Host answers and asks for profile cards (CardProtocol); Limiter
	// bounds how often a peer may ask.
	Host    host.Host
	Limiter Limiter
	Logger  *slog.Logger
}

// authorRate bounds how often one author's profile may change: people
// edit a profile now and then.
var authorRate = mesh.Rate{Per: 1, Burst: 20}

// Service keeps this node's profile and its contacts'.
type Service struct {
	id       *crypto.Identity
	st       *store.Store
	eng      *engine.Engine
	syncer   Syncer
	contacts Contacts
	audience Audience
	people   *people.Directory
	log      *slog.Logger
	// records is the "profiles" table: peer ID -> JSON Record, the latest
	// profile of each person.
	records *store.Table
	// settings is the "profile-settings" table: "public" -> 1 when people
	// nearby may see the card.
	settings *store.Table
	host     host.Host
	limiter  Limiter
	cards    cards

	// mu serialises changes of records.
	mu sync.Mutex
	// keptMu guards kept: the scopes kept, by their owner's peer ID.
	keptMu sync.Mutex
	kept   map[peer.ID]*engine.Replica
}

// Record is the latest profile of a person, as this node keeps it.
type Record struct {
	Name   string `json:"name,omitempty"`
	Bio    string `json:"bio,omitempty"`
	Place  string `json:"place,omitempty"`
	Avatar []byte `json:"avatar,omitempty"`
	// Sealed says the bio and place are sealed under a key this node does
	// not hold (yet).
	Sealed bool     `json:"sealed,omitempty"`
	Author []byte   `json:"author"`
	Time   int64    `json:"time"`
	ID     event.ID `json:"id"`
}

func (r *Record) cursor() store.Cursor { return store.Cursor{Time: r.Time, ID: r.ID} }

// New builds the service and keeps the profile scopes of this node and of
// every contact.
func New(opts Options) (*Service, error) {
	t, err := opts.Store.Table("profiles")
	if err != nil {
		return nil, err
	}
	settings, err := opts.Store.Table("profile-settings")
	if err != nil {
		return nil, err
	}
	s := &Service{
		id: opts.Identity, st: opts.Store, eng: opts.Engine, syncer: opts.Syncer, contacts: opts.Contacts, audience: opts.Audience,
		people: opts.People, log: opts.Logger, records: t, settings: settings, host: opts.Host, limiter: opts.Limiter,
		cards: cards{m: map[peer.ID]card{}}, kept: map[peer.ID]*engine.Replica{},
	}
	if err := s.follow(); err != nil {
		return nil, err
	}
	return s, nil
}

// Serve answers requests for this node's profile card and follows the
// list of contacts until ctx is done.
func (s *Service) Serve(ctx context.Context) error {
	if s.host != nil {
		s.host.SetStreamHandler(CardProtocol, s.serveCard)
		defer s.host.RemoveStreamHandler(CardProtocol)
	}
	friendsChanged := false
	for {
		changed, keys := s.contacts.FriendsChanged(), s.audience.KeysChanged()
		if err := s.follow(); err != nil {
			s.log.Warn("follow contacts' profiles", "err", err)
		}
		if err := s.reopen(); err != nil {
			s.log.Warn("open profiles", "err", err)
		}
		if friendsChanged {
			if err := s.reseal(ctx); err != nil {
				s.log.Warn("seal the profile to the contacts", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
			friendsChanged = true
		case <-keys:
			select {
			case <-changed:
				friendsChanged = true
			default:
				friendsChanged = false
			}
		}
	}
}

// reseal writes this node's profile again when its private part is not
// sealed for the audience as it is now: a contact added since could not
// read it, or a contact gone still could. Writing it again is how.
func (s *Service) reseal(ctx context.Context) error {
	rec, err := s.record(s.id.PeerID())
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || (rec.Bio == "" && rec.Place == "") {
		return err
	}
	_, err = s.Set(ctx, &Fields{Name: rec.Name, Bio: rec.Bio, Place: rec.Place, Avatar: rec.Avatar})
	return err
}

// reopen takes again the profiles kept sealed: their key may have come.
func (s *Service) reopen() error {
	var sealed []event.ID
	err := s.records.Scan(store.Range{}, func(_, v []byte) error {
		var r Record
		if json.Unmarshal(v, &r) == nil && r.Sealed {
			sealed = append(sealed, r.ID)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range sealed {
		e, err := s.st.Event(id)
		if err != nil {
			continue
		}
		if err := s.take(e); err != nil {
			return err
		}
	}
	return nil
}

// open decodes a profile event and opens its private part where this
// node holds the key; sealed says it does not.
func (s *Service) open(e *event.Event) (f *Fields, sealed bool, err error) {
	if f, err = Decode(e.Payload); err != nil || f.Private == nil {
		return f, false, err
	}
	pt, known, err := s.audience.OpenFromContact(e.Author, f.Private, privateAD(e.ScopeID(), e.Author, e.Seq))
	if err != nil || !known {
		return f, !known, err
	}
	p, err := decodePrivate(pt)
	if err != nil {
		return nil, false, err
	}
	f.Bio, f.Place = p.Bio, p.Place
	return f, false, nil
}

// follow keeps the profile scopes of this node and its contacts, and drops
// those of people who are no longer contacts, with their profiles.
func (s *Service) follow() error {
	friends, err := s.contacts.Friends()
	if err != nil {
		return err
	}
	want := map[peer.ID][]byte{s.id.PeerID(): s.id.PublicKey()}
	for _, b := range friends {
		p, err := crypto.PeerIDFromPublicKey(b.IdentityKey[:])
		if err != nil {
			continue
		}
		want[p] = b.IdentityKey[:]
	}
	s.keptMu.Lock()
	defer s.keptMu.Unlock()
	for p, pub := range want {
		if s.kept[p] != nil {
			continue
		}
		scope := ScopeOf(pub)
		r, err := s.eng.Keep(engine.Spec{
			Scope: scope, Topic: TopicName(scope), Kinds: []event.Kind{Kind},
			Feature: s, AuthorRate: authorRate, NoPriorChain: s.noContacts,
		})
		if err != nil {
			return err
		}
		s.kept[p] = r
		if p != s.id.PeerID() && s.syncer != nil {
			s.syncer.Trigger(p)
		}
	}
	for p, r := range s.kept {
		if _, ok := want[p]; ok {
			continue
		}
		delete(s.kept, p)
		if err := r.Forget(); err != nil {
			return err
		}
		if err := s.records.Delete([]byte(p)); err != nil {
			return err
		}
	}
	return nil
}

// Check accepts a profile written by the owner of its scope, with valid
// fields in canonical form.
func (s *Service) Check(e *event.Event) error {
	if ScopeOf(e.Author) != e.ScopeID() {
		return engine.Reject(engine.ReasonBody, errors.New("profile written by someone else than its owner"))
	}
	if _, _, err := s.open(e); errors.Is(err, crypto.ErrDecrypt) {
		return engine.Reject(engine.ReasonDecrypt, err)
	} else if err != nil {
		return engine.Reject(engine.ReasonBody, err)
	}
	return nil
}

// Stored keeps the latest of each person's profiles and forgets the
// others.
func (s *Service) Stored(evs []*event.Event, _ engine.Origin) {
	for _, e := range evs {
		if err := s.take(e); err != nil {
			s.log.Warn("keep profile", "id", e.ID, "err", err)
		}
	}
}

// take makes e its author's profile if it is later than the one kept:
// later by time, then by event ID, so that every node chooses the same.
func (s *Service) take(e *event.Event) error {
	sealed, err := s.takeOnce(e)
	if err != nil || !sealed {
		return err
	}
	// The key may have come after this version was found sealed and before
	// its record was written, when reopen had already looked for sealed
	// records: look once more.
	if _, still, err := s.open(e); err == nil && !still {
		_, err = s.takeOnce(e)
		return err
	}
	return nil
}

// takeOnce is take, reporting whether the version it kept is sealed.
func (s *Service) takeOnce(e *event.Event) (sealed bool, err error) {
	f, sealed, err := s.open(e)
	if err != nil {
		return false, err
	}
	p, err := crypto.PeerIDFromPublicKey(e.Author)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.record(p)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	at := store.CursorOf(e)
	scope := e.ScopeID()
	// The same version is taken again once its private part opens.
	reopened := cur != nil && cur.ID == e.ID && cur.Sealed && !sealed
	if cur != nil && cur.cursor().Compare(at) >= 0 && !reopened {
		if cur.ID == e.ID {
			return cur.Sealed, nil
		}
		// An older version: it is never shown, so it is not kept.
		return false, s.st.Forget(scope, []store.Cursor{at})
	}
	rec := &Record{Name: f.Name, Bio: f.Bio, Place: f.Place, Avatar: f.Avatar, Sealed: sealed, Author: e.Author, Time: e.Time, ID: e.ID}
	err = s.st.Write(func(b *store.Batch) error {
		if err := b.PutJSON(s.records, []byte(p), rec); err != nil {
			return err
		}
		return b.Log(s.records, []byte(p))
	})
	if err != nil {
		return false, fmt.Errorf("profile: %w", err)
	}
	if cur != nil && !reopened {
		return sealed, s.st.Forget(scope, []store.Cursor{cur.cursor()})
	}
	return sealed, nil
}

func (s *Service) record(p peer.ID) (*Record, error) {
	return store.GetJSON[Record](s.records, []byte(p))
}

// Profile returns the latest profile of p known here.
func (s *Service) Profile(p peer.ID) (*Record, error) {
	r, err := s.record(p)
	if err != nil {
		return nil, fmt.Errorf("profile of %s: %w", p, err)
	}
	return r, nil
}

// Set replaces this node's profile: the name and avatar in clear, the bio
// and place sealed to the contacts as they are now. It is durable when Set
// returns.
func (s *Service) Set(ctx context.Context, f *Fields) (*Record, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	pub := Fields{Name: f.Name, Avatar: f.Avatar}
	var pt []byte
	if f.Bio != "" || f.Place != "" {
		var err error
		if pt, err = enc.Marshal(&private{Bio: f.Bio, Place: f.Place}); err != nil {
			return nil, err
		}
	}
	seal, err := s.audience.SealForContacts(ctx)
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	s.keptMu.Lock()
	r := s.kept[s.id.PeerID()]
	s.keptMu.Unlock()
	if r == nil {
		return nil, errors.New("profile: own scope is not kept")
	}
	if _, err := r.Write(ctx, func(pos engine.Position) (event.Body, error) {
		w := pub
		if pt != nil {
			var err error
			if w.Private, err = seal(pt, privateAD(pos.Scope, s.id.PublicKey(), pos.Seq)); err != nil {
				return event.Body{}, err
			}
		}
		payload, err := Encode(&w)
		if err != nil {
			return event.Body{}, err
		}
		return pos.Body(Kind, payload), nil
	}); err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	return s.Profile(s.id.PeerID())
}

// Names tells people (node/people) the name a person gives themselves in
// their profile.
func (s *Service) Names(p peer.ID) people.Names {
	r, err := s.record(p)
	if err != nil {
		return people.Names{}
	}
	return people.Names{Claimed: r.Name}
}

// noContacts reports that nobody keeps this node's profile chain: only
// contacts do (engine.Spec.NoPriorChain).
func (s *Service) noContacts() bool {
	friends, err := s.contacts.Friends()
	return err == nil && len(friends) == 0
}
