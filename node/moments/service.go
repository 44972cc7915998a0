// Package moments is Moments: posts of text and a small picture that a
// person shares with their contacts only, likes and comments from those
// contacts, a feed of contacts' moments, newest first, with unread
// markers, and deletion. Each person's moments are a scope the engine
// replicates among their contacts; everything in it is sealed with an
// audience key that is itself sealed (HPKE) to each contact, and replaced
// when a contact is removed or blocked. The package owns its API routes,
// command-line commands and how moments appear on the event stream.
package moments

import (
	"bytes"
	"context"
	"crypto/hpke"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"slices"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/crypto/ratchet"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/people"
	"github.com/banyan-mesh/banyan/store"
)

// Contacts is what moments ask of contacts: who they are, with the DM
// keys audience keys are sealed to, and when that changes.
type Contacts interface {
	Friends() ([]ratchet.Bundle, error)
	FriendsChanged() <-chan struct{}
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
	People   *people.Directory
	Logger   *slog.Logger
}

// authorRate bounds what one author writes in one person's moments:
// people post, like and comment by hand.
var authorRate = mesh.Rate{Per: 2, Burst: 100}

// Service keeps this node's moments and those of its contacts.
type Service struct {
	id       *crypto.Identity
	bundle   ratchet.Bundle
	hpkeKey  hpke.PrivateKey
	eng      *engine.Engine
	st       *store.Store
	syncer   Syncer
	contacts Contacts
	people   *people.Directory
	log      *slog.Logger
	rec      *records

	// mu serialises what is made of stored events (the opened records).
	mu sync.Mutex
	// audMu serialises changes of this node's audience.
	audMu sync.Mutex
	// keptMu guards kept: the scopes kept, with their owners.
	keptMu sync.Mutex
	kept   map[event.Scope]*kept
	// keysChanged tells other features sealing with audience keys that
	// one arrived.
	keysChanged signal
}

type kept struct {
	owner []byte
	r     *engine.Replica
}

// New builds the service and keeps the moments of this node and of every
// contact.
func New(opts Options) (*Service, error) {
	rec, err := openRecords(opts.Store)
	if err != nil {
		return nil, err
	}
	keys := ratchet.NewKeys(opts.Identity)
	priv, err := keys.HPKEKey()
	if err != nil {
		return nil, err
	}
	s := &Service{
		id: opts.Identity, bundle: keys.Bundle(), hpkeKey: priv, eng: opts.Engine, st: opts.Store, syncer: opts.Syncer,
		contacts: opts.Contacts, people: opts.People, log: opts.Logger, rec: rec, kept: map[event.Scope]*kept{},
	}
	if _, err := s.follow(); err != nil {
		return nil, err
	}
	return s, nil
}

// Serve follows the list of contacts until ctx is done: it keeps their
// moments and seals this node's audience key to exactly them.
func (s *Service) Serve(ctx context.Context) error {
	for {
		changed := s.contacts.FriendsChanged()
		switch _, err := s.audience(ctx); {
		case errors.Is(err, engine.ErrCatchingUp):
			// A restored node: the key is written once its chain is back.
			s.log.Info("audience key waits until this restored node has its moments back from a contact")
		case err != nil:
			s.log.Warn("follow contacts", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

// follow keeps the moments scopes of this node and its contacts, drops
// those of people who are no longer contacts with what was opened of
// them, and returns the contacts' bundles.
func (s *Service) follow() ([]ratchet.Bundle, error) {
	friends, err := s.contacts.Friends()
	if err != nil {
		return nil, err
	}
	want := map[event.Scope][]byte{ScopeOf(s.id.PublicKey()): s.id.PublicKey()}
	for _, b := range friends {
		want[ScopeOf(b.IdentityKey[:])] = bytes.Clone(b.IdentityKey[:])
	}
	s.keptMu.Lock()
	defer s.keptMu.Unlock()
	for scope, owner := range want {
		if s.kept[scope] != nil {
			continue
		}
		r, err := s.eng.Keep(engine.Spec{
			Scope: scope, Topic: TopicName(scope), Kinds: []event.Kind{KindKey, KindPost, KindReaction, KindDelete},
			Feature: s, AuthorRate: authorRate, NoPriorChain: s.noContacts,
		})
		if err != nil {
			return nil, err
		}
		s.kept[scope] = &kept{owner: owner, r: r}
		if p, err := crypto.PeerIDFromPublicKey(owner); err == nil && p != s.id.PeerID() && s.syncer != nil {
			s.syncer.Trigger(p)
		}
	}
	for scope, k := range s.kept {
		if _, ok := want[scope]; ok {
			continue
		}
		k.r.Close()
		delete(s.kept, scope)
		if err := s.forgetPerson(scope, k.owner); err != nil {
			return nil, err
		}
	}
	return friends, nil
}

// forgetPerson deletes the moments of someone who is no longer a contact.
func (s *Service) forgetPerson(scope event.Scope, owner []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	posts, err := s.rec.postsBy(owner)
	if err != nil {
		return err
	}
	for _, p := range posts {
		rs, err := s.rec.reactionsTo(p.ID)
		if err != nil {
			return err
		}
		err = s.st.Write(func(b *store.Batch) error {
			for _, x := range rs {
				if err := b.Delete(s.rec.reactions, reactionKey(x)); err != nil {
					return err
				}
			}
			if err := b.Delete(s.rec.ids, p.ID[:]); err != nil {
				return err
			}
			return b.Delete(s.rec.posts, postKey(p.Time, p.ID))
		})
		if err != nil {
			return err
		}
	}
	if err := s.rec.keys.DeletePrefix(scope[:]); err != nil {
		return err
	}
	return s.st.DeleteScope(scope)
}

func (s *Service) replica(scope event.Scope) (*kept, bool) {
	s.keptMu.Lock()
	defer s.keptMu.Unlock()
	k, ok := s.kept[scope]
	return k, ok
}

// audience follows the contacts and returns this node's audience, sealed
// to exactly them: a contact added is given the current key; a contact
// gone (removed, blocked) means a new key, which they never get.
func (s *Service) audience(ctx context.Context) (*audience, error) {
	friends, err := s.follow()
	if err != nil {
		return nil, err
	}
	members := [][]byte{s.id.PublicKey()}
	dh := map[string][]byte{string(s.id.PublicKey()): s.bundle.DHKey[:]}
	for _, b := range friends {
		members = append(members, bytes.Clone(b.IdentityKey[:]))
		dh[string(b.IdentityKey[:])] = bytes.Clone(b.DHKey[:])
	}
	slices.SortFunc(members, bytes.Compare)
	members = slices.CompactFunc(members, bytes.Equal)
	if len(members) > MaxAudience {
		return nil, fmt.Errorf("moments: %d contacts, more than the %d one audience key reaches", len(members)-1, MaxAudience-1)
	}
	s.audMu.Lock()
	defer s.audMu.Unlock()
	cur, err := s.rec.currentAudience()
	if err != nil {
		return nil, err
	}
	if cur != nil && slices.EqualFunc(cur.Members, members, bytes.Equal) {
		return cur, nil
	}
	own := ScopeOf(s.id.PublicKey())
	next := &audience{Members: members}
	gone := cur == nil || slices.ContainsFunc(cur.Members, func(m []byte) bool {
		return !slices.ContainsFunc(members, func(n []byte) bool { return bytes.Equal(m, n) })
	})
	if !gone {
		next.Epoch, next.Key = cur.Epoch, cur.Key
	}
	k, _ := s.replica(own)
	// The body is made once the chain may be written to, which on a
	// restored node is once its own events are back: a new key's epoch
	// comes after every epoch they hold, never at one of them.
	if _, err := k.r.Write(ctx, func(pos engine.Position) (event.Body, error) {
		if gone {
			if err := s.newEpoch(own, next); err != nil {
				return event.Body{}, err
			}
		}
		payload, err := sealAudience(own, next, dh)
		if err != nil {
			return event.Body{}, err
		}
		return pos.Body(KindKey, payload), nil
	}); err != nil {
		return nil, fmt.Errorf("moments: audience key: %w", err)
	}
	if err := store.PutJSON(s.rec.audience, []byte("current"), next); err != nil {
		return nil, err
	}
	s.log.Info("audience key sealed", "epoch", next.Epoch, "members", len(members), "new_key", gone)
	return next, nil
}

// newEpoch gives next a new key at an epoch after every one this node's
// audience has had: those whose keys it holds and those of the key
// events of its own chain in the store (a restored node holds the events
// before it has opened them).
func (s *Service) newEpoch(own event.Scope, next *audience) error {
	last, err := s.rec.lastEpoch(own)
	if err != nil {
		return err
	}
	err = s.st.ScopeEvents(own, func(e *event.Event) error {
		if e.Kind == KindKey && e.SameAuthor(s.id.PublicKey()) {
			if p, err := decodeKey(e.Payload); err == nil {
				last = max(last, p.Epoch)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("moments: epochs so far: %w", err)
	}
	if next.Key, err = crypto.NewKey(); err != nil {
		return err
	}
	next.Epoch = last + 1
	return s.rec.keys.Put(epochKey(own, next.Epoch), next.Key[:])
}

// sealAudience is the payload of a key event: next's key sealed to each
// of its members, whose DH keys dh holds.
func sealAudience(own event.Scope, next *audience, dh map[string][]byte) ([]byte, error) {
	p := keyPayload{Epoch: next.Epoch}
	for _, m := range next.Members {
		sealed, err := sealKey(dh[string(m)], own, next.Epoch, next.Key)
		if err != nil {
			return nil, err
		}
		p.Sealed = append(p.Sealed, sealed)
	}
	// In no order that tells who is who.
	mrand.Shuffle(len(p.Sealed), func(i, j int) { p.Sealed[i], p.Sealed[j] = p.Sealed[j], p.Sealed[i] })
	return enc.Marshal(&p)
}

// Check checks a moments event: who may write it, its form, and, where
// this node has the key, that its box opens to a valid body.
func (s *Service) Check(e *event.Event) error {
	k, ok := s.replica(e.ScopeID())
	if !ok {
		return engine.Reject(engine.ReasonScope, errors.New("moments of someone who is not a contact"))
	}
	byOwner := e.SameAuthor(k.owner)
	if e.Kind != KindReaction && !byOwner {
		return engine.Reject(engine.ReasonBody, fmt.Errorf("kind %d written by someone else than the owner", e.Kind))
	}
	switch e.Kind {
	case KindKey:
		if _, err := decodeKey(e.Payload); err != nil {
			return engine.Reject(engine.ReasonBody, err)
		}
	case KindPost, KindReaction:
		p, err := decodeSealed(e.Payload)
		if err != nil {
			return engine.Reject(engine.ReasonBody, err)
		}
		key, ok := s.rec.key(e.ScopeID(), p.Epoch)
		if !ok {
			if e.Kind == KindPost {
				// The owner's: kept sealed until its key comes (or forever,
				// for someone who is no longer in the audience).
				return nil
			}
			// Only the audience writes reactions; without the key this
			// node cannot tell, so it waits: sync brings it again.
			return engine.Ignore(errors.New("reaction under an audience key not known here"))
		}
		pt, err := crypto.Open(key, p.Box, boxAD(e.Scope, e.Author, e.Seq, e.Kind))
		if err != nil {
			return engine.Reject(engine.ReasonDecrypt, err)
		}
		if e.Kind == KindPost {
			_, err = decodePost(pt)
		} else {
			var r *reactionBody
			if r, err = decodeReaction(pt); err == nil && s.rec.isDeleted(event.ID(r.Post)) {
				return engine.Ignore(errors.New("reaction to a deleted moment"))
			}
		}
		if err != nil {
			return engine.Reject(engine.ReasonBody, err)
		}
	case KindDelete:
		d, err := decodeDelete(e.Payload)
		if err != nil {
			return engine.Reject(engine.ReasonBody, err)
		}
		if post, err := s.st.Event(event.ID(d.Post)); err == nil {
			if post.ScopeID() != e.ScopeID() || post.Kind != KindPost || post.Time != d.Time {
				return engine.Reject(engine.ReasonBody, errors.New("delete names another event than one of the owner's moments"))
			}
		}
	}
	return nil
}

// Stored opens what was stored: keys, posts and reactions become records,
// deletions remove them.
func (s *Service) Stored(evs []*event.Event, _ engine.Origin) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range evs {
		if err := s.take(e); err != nil {
			s.log.Warn("open moment event", "id", e.ID, "kind", e.Kind, "err", err)
		}
	}
}

func (s *Service) take(e *event.Event) error {
	scope := e.ScopeID()
	switch e.Kind {
	case KindKey:
		p, err := decodeKey(e.Payload)
		if err != nil {
			return err
		}
		if _, ok := s.rec.key(scope, p.Epoch); ok {
			return nil
		}
		key, ok := openKey(s.hpkeKey, scope, p)
		if !ok {
			return nil // not in this audience
		}
		if err := s.rec.keys.Put(epochKey(scope, p.Epoch), key[:]); err != nil {
			return err
		}
		s.keysChanged.notify()
		return s.reopen(scope)
	case KindPost, KindReaction:
		return s.open(e)
	case KindDelete:
		d, err := decodeDelete(e.Payload)
		if err != nil {
			return err
		}
		return s.withdraw(scope, &Deleted{Post: event.ID(d.Post), Author: e.Author, Time: d.Time})
	}
	return nil
}

// open makes a record of a post or reaction whose key is known here.
func (s *Service) open(e *event.Event) error {
	p, err := decodeSealed(e.Payload)
	if err != nil {
		return err
	}
	key, ok := s.rec.key(e.ScopeID(), p.Epoch)
	if !ok {
		return nil
	}
	pt, err := crypto.Open(key, p.Box, boxAD(e.Scope, e.Author, e.Seq, e.Kind))
	if err != nil {
		return err
	}
	if e.Kind == KindPost {
		if s.rec.isDeleted(e.ID) {
			return nil
		}
		b, err := decodePost(pt)
		if err != nil {
			return err
		}
		return s.rec.putPost(&Post{ID: e.ID, Author: e.Author, Seq: e.Seq, Time: e.Time, Epoch: p.Epoch, Text: b.Text, Image: b.Image})
	}
	b, err := decodeReaction(pt)
	if err != nil {
		return err
	}
	post := event.ID(b.Post)
	if s.rec.isDeleted(post) {
		return s.forgetEvents(e.ScopeID(), []store.Cursor{store.CursorOf(e)}, [][]byte{e.Author})
	}
	if s.rec.hasReaction(post, e.ID, e.Time) {
		return nil // opened before, when another epoch's key came
	}
	return s.rec.putReaction(&Reaction{ID: e.ID, Post: post, Author: e.Author, Time: e.Time, Type: b.Type, Text: b.Text})
}

// reopen opens the stored posts and reactions of a scope that have no
// record yet: their key has just arrived.
func (s *Service) reopen(scope event.Scope) error {
	var before store.Cursor
	for {
		evs, next, err := s.st.History(scope, before, 500)
		if err != nil {
			return err
		}
		for _, e := range evs {
			switch e.Kind {
			case KindPost:
				if _, err := s.rec.post(e.ID); err == nil {
					continue
				}
			case KindReaction:
			default:
				continue
			}
			if err := s.open(e); err != nil {
				s.log.Debug("stored moment does not open", "id", e.ID, "err", err)
			}
		}
		if next.IsZero() {
			return nil
		}
		before = next
	}
}

// withdraw applies a deletion: the post, its reactions and their events
// go from this node, and nothing of them is taken again.
func (s *Service) withdraw(scope event.Scope, d *Deleted) error {
	if s.rec.isDeleted(d.Post) {
		return nil
	}
	rs, err := s.rec.reactionsTo(d.Post)
	if err != nil {
		return err
	}
	if err := s.rec.deletePost(d, rs); err != nil {
		return err
	}
	at := []store.Cursor{{Time: d.Time, ID: d.Post}}
	authors := [][]byte{d.Author}
	for _, x := range rs {
		at, authors = append(at, x.cursor()), append(authors, x.Author)
	}
	return s.forgetEvents(scope, at, authors)
}

// forgetEvents forgets events of a scope, except the head of this node's
// own chain in it, which the next event it writes there builds on (its
// box stays, its record does not).
func (s *Service) forgetEvents(scope event.Scope, at []store.Cursor, authors [][]byte) error {
	_, head, err := s.st.Head(scope, s.id.PublicKey())
	if err != nil {
		return err
	}
	var drop []store.Cursor
	for i, c := range at {
		if c.ID == head && bytes.Equal(authors[i], s.id.PublicKey()) {
			continue
		}
		drop = append(drop, c)
	}
	return s.st.Forget(scope, drop)
}

// noContacts reports that nobody keeps this node's chains in the moments
// scopes: only contacts do (engine.Spec.NoPriorChain).
func (s *Service) noContacts() bool {
	friends, err := s.contacts.Friends()
	return err == nil && len(friends) == 0
}
