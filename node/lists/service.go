// Package lists is shared to-do and shopping lists in a group: any member
// can add, edit, tick, reorder and delete items, also offline, and every
// node reaches the same lists whatever the order edits arrive in (package
// crdt). Each group's lists are a scope of their own, sealed with the
// group's key, so relays and non-members see only ciphertext. The package
// also holds the lists' API routes, command-line commands and how their
// edits appear on the event stream.
package lists

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/lists/crdt"
	"github.com/banyan-mesh/banyan/node/people"
	"github.com/banyan-mesh/banyan/store"
)

// Groups is what lists ask of group chat: the groups this node is in, and
// their key, used without being seen.
type Groups interface {
	// WatchGroups reports the groups this node is in, then each one it
	// joins or leaves.
	WatchGroups(fn func(group event.Scope, id string, in bool))
	// Lookup resolves a group reference to its ID (hex) and name; its
	// errors are API answers.
	Lookup(ref string) (id, name string, err error)
	GroupScope(id string) (event.Scope, error)
	// NoPriorChain reports that no earlier copy of this identity can
	// have written in the group (engine.Spec.NoPriorChain).
	NoPriorChain(group event.Scope) bool
	// GroupMAC is a MAC under a key only members hold.
	GroupMAC(group event.Scope, label string, data []byte) ([32]byte, bool)
	// KeepBeside has relays keep the scope GroupMAC(group, label, nil) of
	// each group registered with them.
	KeepBeside(label string)
	SealFor(group event.Scope, plaintext, ad []byte) ([]byte, error)
	OpenFor(group event.Scope, sealed, ad []byte) ([]byte, error)
}

// authorQuota bounds what one member may hold of a group's lists: far
// more operations than years of shopping, far less than a flood.
var authorQuota = engine.Quota{Events: 20_000, Bytes: 8 << 20}

// scopeLabel names the MAC that makes the scope from the group key.
const scopeLabel = "lists-scope"

// Scope returns the scope of a group's lists: a MAC under the group's key,
// so that only members can name it or link it to the group.
func Scope(gs Groups, group event.Scope) (event.Scope, bool) {
	return gs.GroupMAC(group, scopeLabel, nil)
}

// TopicName returns the gossip topic of a lists scope: of the same form as
// a group's, so that those who see topics cannot tell the two apart.
func TopicName(scope event.Scope) string { return "/banyan/group/1/" + scope.String() }

// Options configures New.
type Options struct {
	Identity *crypto.Identity
	Store    *store.Store
	Engine   *engine.Engine
	Groups   Groups
	People   *people.Directory
	Logger   *slog.Logger
}

// Service keeps the lists of every group this node is in.
type Service struct {
	id     *crypto.Identity
	store  *store.Store
	eng    *engine.Engine
	groups Groups
	people *people.Directory
	log    *slog.Logger

	mu sync.Mutex
	// byScope holds each group's lists by the lists' scope, byGroup the
	// same by the group's scope.
	byScope map[event.Scope]*groupLists
	byGroup map[event.Scope]*groupLists
}

// groupLists are the lists of one group.
type groupLists struct {
	group   event.Scope
	groupID string
	scope   event.Scope
	// r is set, under the service's lock, once the engine keeps the scope.
	r *engine.Replica

	mu  sync.Mutex
	doc crdt.Doc
}

// New builds the service and keeps the lists of every group.
func New(opts Options) (*Service, error) {
	s := &Service{
		id: opts.Identity, store: opts.Store, eng: opts.Engine, groups: opts.Groups, people: opts.People, log: opts.Logger,
		byScope: map[event.Scope]*groupLists{}, byGroup: map[event.Scope]*groupLists{},
	}
	// The groups this node is in now are kept before New returns, and
	// fail it; a group joined later that cannot be kept is logged.
	var failed []error
	starting := true
	// Relays that keep a group keep its lists too.
	opts.Groups.KeepBeside(scopeLabel)
	opts.Groups.WatchGroups(func(group event.Scope, id string, in bool) {
		if !in {
			s.drop(group)
			return
		}
		if err := s.keep(group, id); err != nil {
			s.log.Error("keep a group's lists", "group", id, "err", err)
			if starting {
				failed = append(failed, err)
			}
		}
	})
	starting = false
	return s, errors.Join(failed...)
}

// keep replicates a group's lists and reads what is stored of them.
func (s *Service) keep(group event.Scope, id string) error {
	scope, ok := Scope(s.groups, group)
	if !ok {
		return fmt.Errorf("lists: %s is not a group here", id)
	}
	s.mu.Lock()
	if s.byGroup[group] != nil {
		s.mu.Unlock()
		return nil
	}
	gl := &groupLists{group: group, groupID: id, scope: scope}
	// Registered before the engine hears of the scope, so that Check
	// finds it for the first event.
	s.byScope[scope], s.byGroup[group] = gl, gl
	s.mu.Unlock()
	r, err := s.eng.Keep(engine.Spec{
		Scope: scope, Topic: TopicName(scope), Kinds: []event.Kind{Kind}, Feature: s, AuthorQuota: authorQuota,
		NoPriorChain: func() bool { return s.groups.NoPriorChain(group) },
	})
	if err != nil {
		s.mu.Lock()
		delete(s.byScope, scope)
		delete(s.byGroup, group)
		s.mu.Unlock()
		return fmt.Errorf("lists: %w", err)
	}
	s.mu.Lock()
	gl.r = r
	s.mu.Unlock()
	// Operations commute, so reading the store after keeping the scope
	// loses nothing: what arrives meanwhile is applied twice, harmlessly.
	if err := r.Replay(func(evs []*event.Event) { s.apply(gl, evs) }); err != nil {
		return fmt.Errorf("lists: %w", err)
	}
	return nil
}

// drop stops keeping a group's lists and deletes them here.
func (s *Service) drop(group event.Scope) {
	s.mu.Lock()
	gl := s.byGroup[group]
	delete(s.byGroup, group)
	if gl == nil {
		s.mu.Unlock()
		return
	}
	delete(s.byScope, gl.scope)
	r := gl.r
	s.mu.Unlock()
	var err error
	if r != nil {
		err = r.Forget()
	} else {
		err = s.store.DeleteScope(gl.scope)
	}
	if err != nil {
		s.log.Warn("delete a left group's lists", "err", err)
	}
}

// open decrypts and decodes a list operation.
func (s *Service) open(gl *groupLists, e *event.Event) (crdt.Op, error) {
	return openOp(s.groups, gl.group, e)
}

// openOp decrypts and decodes an operation on the lists of group, with
// the stamp its event gives it.
func openOp(gs Groups, group event.Scope, e *event.Event) (crdt.Op, error) {
	pt, err := gs.OpenFor(group, e.Payload, ad(e.ScopeID(), e.Author, e.Seq))
	if err != nil {
		return crdt.Op{}, err
	}
	op, err := decodeOp(pt)
	if err != nil {
		return op, err
	}
	// A clock may not run ahead of its event's time: otherwise one member
	// could set it so high that nobody's next edit fits (or wins) again.
	// Honest clocks count edits and stay far below the time in
	// milliseconds.
	if e.Time < 0 || op.Stamp.Clock > uint64(e.Time) {
		return op, errClockAhead
	}
	op.Stamp.Author, op.Stamp.Seq, op.Stamp.Event = [32]byte(e.Author), e.Seq, e.ID
	return op, nil
}

var errClockAhead = errors.New("list operation: clock ahead of its event's time")

func (s *Service) lists(scope event.Scope) *groupLists {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byScope[scope]
}

// Check opens a list operation: it must decrypt with the group's key and
// hold a valid operation.
func (s *Service) Check(e *event.Event) error {
	gl := s.lists(e.ScopeID())
	if gl == nil {
		return engine.Reject(engine.ReasonScope, fmt.Errorf("no lists of scope %s", e.ScopeID()))
	}
	_, err := s.open(gl, e)
	if errors.Is(err, crypto.ErrDecrypt) {
		return engine.Reject(engine.ReasonDecrypt, err)
	}
	if err != nil {
		return engine.Reject(engine.ReasonBody, err)
	}
	return nil
}

// Stored merges stored operations into their group's lists.
func (s *Service) Stored(evs []*event.Event, _ engine.Origin) {
	if len(evs) == 0 {
		return
	}
	if gl := s.lists(evs[0].ScopeID()); gl != nil {
		s.apply(gl, evs)
	}
}

func (s *Service) apply(gl *groupLists, evs []*event.Event) {
	for _, e := range evs {
		op, err := s.open(gl, e)
		if err != nil {
			s.log.Warn("stored list operation does not open", "id", e.ID, "err", err)
			continue
		}
		gl.mu.Lock()
		gl.doc.Apply(op)
		gl.mu.Unlock()
	}
}

// Serve has nothing to run: lists change only when people edit them.
func (s *Service) Serve(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// ErrNoList reports a list or item reference that matches nothing.
var ErrNoList = errors.New("no such list")

// group returns the lists of the group with the given ID (hex).
func (s *Service) group(id string) (*groupLists, error) {
	scope, err := s.groups.GroupScope(id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	gl := s.byGroup[scope]
	// Without a replica yet, the group is still being opened.
	if gl == nil || gl.r == nil {
		return nil, fmt.Errorf("lists: group %s is not kept here", id)
	}
	return gl, nil
}

// Lists returns the lists of a group (its ID in hex) as they read now.
func (s *Service) Lists(groupID string) ([]crdt.List, error) {
	gl, err := s.group(groupID)
	if err != nil {
		return nil, err
	}
	gl.mu.Lock()
	defer gl.mu.Unlock()
	return gl.doc.Lists(), nil
}

// Write signs and stores an operation on a group's lists (its ID in hex)
// and publishes it; the operation's clock is set here. It is durable when
// Write returns.
func (s *Service) Write(ctx context.Context, groupID string, op crdt.Op) error {
	gl, err := s.group(groupID)
	if err != nil {
		return err
	}
	_, err = gl.r.Write(ctx, func(pos engine.Position) (event.Body, error) {
		gl.mu.Lock()
		op.Stamp.Clock = gl.doc.Clock() + 1
		gl.mu.Unlock()
		pt, err := encodeOp(op)
		if err != nil {
			return event.Body{}, err
		}
		payload, err := s.groups.SealFor(gl.group, pt, ad(pos.Scope, s.id.PublicKey(), pos.Seq))
		if err != nil {
			return event.Body{}, err
		}
		b := pos.Body(Kind, payload)
		// Only if a member pushed the clock near the time: the event
		// then goes a little ahead, which receivers accept.
		b.Time = max(b.Time, int64(op.Stamp.Clock))
		return b, nil
	})
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	return nil
}

// NewID returns a random list or item ID.
func NewID() crdt.ID {
	var id crdt.ID
	rand.Read(id[:])
	return id
}
