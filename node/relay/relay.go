// Package relay is what a headless relay does beyond any node: it keeps
// the history of the groups that members register with it (RelayProtocol,
// PROTOCOL.md section 21) without their keys, through the engine's
// checks of signature, scope, kind, time and size only; it bounds what it
// keeps with total, per-group and per-author quotas and a retention age,
// evicting fairly and giving the disk space back; and it shows and exports
// what it keeps.
package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/store"
)

// GroupTopicPrefix starts the gossip topic of a group's scope
// (PROTOCOL.md section 8). Group chat names its topics the same way; the
// relay keeps groups without group chat, from the scope alone.
const GroupTopicPrefix = "/banyan/group/1/"

// Quotas bound what a relay keeps of registered groups. Zero fields take
// the defaults.
type Quotas struct {
	// Total bounds every registered group together, in bytes of
	// envelopes; Group each group; Author each author within a group.
	Total, Group, Author int64
	// Retention is how long events are kept; older ones are deleted and
	// not taken again.
	Retention time.Duration
	// MaxGroups bounds the groups registered.
	MaxGroups int
}

// DefaultQuotas are the quotas of a relay that is told nothing: sized for
// a small disk.
var DefaultQuotas = Quotas{
	Total: 2 << 30, Group: 256 << 20, Author: 64 << 20,
	Retention: 365 * 24 * time.Hour, MaxGroups: 1024,
}

func (q Quotas) withDefaults() Quotas {
	d := DefaultQuotas
	if q.Total > 0 {
		d.Total = q.Total
	}
	if q.Group > 0 {
		d.Group = q.Group
	}
	if q.Author > 0 {
		d.Author = q.Author
	}
	if q.Retention > 0 {
		d.Retention = q.Retention
	}
	if q.MaxGroups > 0 {
		d.MaxGroups = q.MaxGroups
	}
	return d
}

// Limiter bounds what each peer may send.
type Limiter interface {
	Allow(p peer.ID, class string, r mesh.Rate) bool
}

// Options configures New.
type Options struct {
	Store   *store.Store
	Engine  *engine.Engine
	Host    host.Host
	Limiter Limiter
	Quotas  Quotas
	Logger  *slog.Logger
	Now     func() time.Time
}

// requestRate is how often one peer may ask the relay anything: in a
// burst, a peer may register all the scopes it may.
var requestRate = mesh.Rate{Per: 1, Burst: 64}

// Service keeps the registered groups.
type Service struct {
	store   *store.Store
	eng     *engine.Engine
	host    host.Host
	limiter Limiter
	quotas  Quotas
	log     *slog.Logger
	now     func() time.Time
	regs    *store.Table
	// counts holds what each group held when the relay last stopped
	// cleanly: a restart then needs no scan of every group.
	counts  *store.Table
	started chan struct{}
	// wake tells the quota loop that something was stored; reclaim, that
	// a group was deleted.
	wake, reclaim chan struct{}
	// regMu serialises changes to the registrations.
	regMu sync.Mutex

	mu   sync.Mutex
	kept map[event.Scope]*group
	// counted is set once what the groups kept at start hold is counted.
	counted atomic.Bool
}

// group is a registered group's scope, as kept.
type group struct {
	r *engine.Replica
	// held is the scope's stored bytes; grown, what was stored since
	// the last check of its authors.
	held, grown int64
	// authors is what each author (by public key) holds, kept as events
	// are stored and read again after an eviction, so that a status needs
	// no scan of the group.
	authors map[string]*store.AuthorUsage
}

// add counts a stored event.
func (g *group) add(e *event.Event) {
	g.held += int64(len(e.Raw))
	g.grown += int64(len(e.Raw))
	u := g.authors[string(e.Author)]
	if u == nil {
		if g.authors == nil {
			g.authors = map[string]*store.AuthorUsage{}
		}
		u = &store.AuthorUsage{Author: e.Author, Oldest: e.Time, Newest: e.Time}
		g.authors[string(e.Author)] = u
	}
	u.Events++
	u.Bytes += int64(len(e.Raw))
	u.Oldest, u.Newest = min(u.Oldest, e.Time), max(u.Newest, e.Time)
}

// set replaces the group's counts with what a read of the store found.
func (g *group) set(authors []store.AuthorUsage) {
	g.held, g.authors = 0, make(map[string]*store.AuthorUsage, len(authors))
	for _, a := range authors {
		g.held += a.Bytes
		g.authors[string(a.Author)] = &a
	}
}

// registration is a group's record in the "relay-groups" table (key: the
// scope).
type registration struct {
	// By lists the peers that registered the group.
	By    []string  `json:"by"`
	Added time.Time `json:"added"`
}

// New builds the service and keeps every registered group.
func New(opts Options) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	t, err := opts.Store.Table("relay-groups")
	if err != nil {
		return nil, err
	}
	counts, err := opts.Store.Table("relay-counts")
	if err != nil {
		return nil, err
	}
	s := &Service{
		store: opts.Store, eng: opts.Engine, host: opts.Host, limiter: opts.Limiter,
		quotas: opts.Quotas.withDefaults(), log: opts.Logger, now: opts.Now, regs: t, counts: counts,
		started: make(chan struct{}), wake: make(chan struct{}, 1), reclaim: make(chan struct{}, 1), kept: map[event.Scope]*group{},
	}
	err = t.Scan(store.Range{}, func(k, _ []byte) error {
		if len(k) != event.ScopeSize {
			return fmt.Errorf("relay group key of %d bytes", len(k))
		}
		return s.keep(event.Scope(k))
	})
	if err != nil {
		return nil, fmt.Errorf("relay groups: %w", err)
	}
	if err := s.loadCounts(); err != nil {
		return nil, fmt.Errorf("relay counts: %w", err)
	}
	return s, nil
}

// loadCounts takes what the groups held from the counts saved at the last
// clean stop, if there are counts for every group, and deletes them: after
// a crash they would be stale, and the groups are counted again.
func (s *Service) loadCounts() error {
	saved := map[event.Scope][]store.AuthorUsage{}
	err := s.counts.Scan(store.Range{}, func(k, v []byte) error {
		var us []store.AuthorUsage
		if err := json.Unmarshal(v, &us); err != nil {
			return fmt.Errorf("counts of %x: %w", k, err)
		}
		saved[event.Scope(k)] = us
		return nil
	})
	if err != nil {
		return err
	}
	if len(saved) == 0 {
		return nil
	}
	if err := s.counts.DeletePrefix(nil); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for sc := range s.kept {
		if _, ok := saved[sc]; !ok {
			return nil
		}
	}
	for sc, g := range s.kept {
		g.set(saved[sc])
		g.grown = g.held
	}
	s.counted.Store(true)
	return nil
}

// SaveCounts keeps what each group holds for the next start. The relay
// saves them when it stops; they are only right if nothing is stored
// after.
func (s *Service) SaveCounts() error {
	if !s.counted.Load() {
		return nil
	}
	s.mu.Lock()
	counts := make(map[event.Scope][]store.AuthorUsage, len(s.kept))
	for sc, g := range s.kept {
		us := make([]store.AuthorUsage, 0, len(g.authors))
		for _, a := range g.authors {
			us = append(us, *a)
		}
		counts[sc] = us
	}
	s.mu.Unlock()
	return s.store.Write(func(b *store.Batch) error {
		for sc, us := range counts {
			if err := b.PutJSON(s.counts, sc[:], us); err != nil {
				return err
			}
		}
		return nil
	})
}

// keep replicates a registered scope without opening it.
func (s *Service) keep(scope event.Scope) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.kept[scope]; ok {
		return nil
	}
	r, err := s.eng.Keep(engine.Spec{
		Scope: scope,
		Topic: GroupTopicPrefix + scope.String(),
		// A registered scope may be a group's, or its lists' or events'
		// (kept beside it): the relay cannot tell them apart.
		Kinds: event.GroupTopicKinds,
		Floor: s.floor,
		// No content check: the relay has no key. keeper only counts.
		Feature: keeper{s},
	})
	if errors.Is(err, engine.ErrKept) {
		// This relay is a member of the group too: group chat keeps it,
		// and checks what it can open.
		s.log.Info("a registered group is one of this node's own", "scope", scope)
		return nil
	}
	if err != nil {
		return fmt.Errorf("keep group %s: %w", scope, err)
	}
	// What it holds is counted when the relay serves (countAll): not
	// here, where it would hold up the node's start.
	s.kept[scope] = &group{r: r}
	return nil
}

// floor is the oldest position retention keeps.
func (s *Service) floor() store.Cursor {
	return store.Cursor{Time: s.now().Add(-s.quotas.Retention).UnixMilli()}
}

// keeper is the Feature of the registered scopes: it does not open
// events (it cannot) but counts what is stored, for the quotas.
type keeper struct{ s *Service }

func (keeper) Check(*event.Event) error { return nil }

func (k keeper) Stored(evs []*event.Event, _ engine.Origin) {
	s := k.s
	s.mu.Lock()
	for _, e := range evs {
		if g := s.kept[e.ScopeID()]; g != nil {
			g.add(e)
		}
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Started is closed once the relay answers RelayProtocol.
func (s *Service) Started() <-chan struct{} { return s.started }

// Serve answers registrations and enforces the quotas and the retention
// until ctx is done.
func (s *Service) Serve(ctx context.Context) error {
	mesh.HandleRelay(s.host, s.handle)
	defer s.host.RemoveStreamHandler(mesh.RelayProtocol)
	close(s.started)
	// Counting reads every group's index: done now, not before the
	// node answers, and only if the counts of the last clean stop are
	// not there.
	if !s.counted.Load() {
		if err := s.countAll(); err != nil {
			return err
		}
	}
	defer func() {
		if err := s.SaveCounts(); err != nil {
			s.log.Warn("save relay counts", "err", err)
		}
	}()
	// Quotas are enforced shortly after events are stored, at most once a
	// second (each check reads the group's index); retention every ten
	// minutes.
	quota := time.NewTicker(time.Second)
	defer quota.Stop()
	retention := time.NewTicker(10 * time.Minute)
	defer retention.Stop()
	s.expire()
	dirty := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
			dirty = true
			continue
		case <-quota.C:
			if !dirty {
				continue
			}
			dirty = false
			if _, err := s.Enforce(); err != nil {
				s.log.Warn("enforce quotas", "err", err)
			}
		case <-retention.C:
			s.expire()
		case <-s.reclaim:
			s.store.Reclaim()
		}
	}
}

// handle answers one request of RelayProtocol.
func (s *Service) handle(from peer.ID, op mesh.RelayOp, scope event.Scope) (bool, []event.Scope) {
	if s.limiter != nil && !s.limiter.Allow(from, string(mesh.RelayProtocol), requestRate) {
		return false, nil
	}
	var err error
	switch op {
	case mesh.RelayAdd:
		err = s.Register(from, scope)
	case mesh.RelayRemove:
		err = s.Unregister(from, scope)
	case mesh.RelayList:
		var scopes []event.Scope
		scopes, err = s.registeredBy(from)
		return err == nil, scopes
	}
	if err != nil && !errors.Is(err, errRefused) {
		s.log.Warn("relay request", "peer", from, "op", op, "err", err)
	}
	return err == nil, nil
}

// errRefused is a registration beyond the relay's bounds.
var errRefused = errors.New("refused")

// Register records that peer p asks the relay to keep scope, and keeps it.
func (s *Service) Register(p peer.ID, scope event.Scope) error {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	all, err := s.registrations()
	if err != nil {
		return err
	}
	reg, ok := all[scope]
	switch {
	case ok && slices.Contains(reg.By, p.String()):
		return nil
	case !ok && len(all) >= s.quotas.MaxGroups:
		return fmt.Errorf("%d groups registered: %w", len(all), errRefused)
	}
	n := 0
	for _, r := range all {
		if slices.Contains(r.By, p.String()) {
			n++
		}
	}
	if n >= mesh.MaxRelayScopes {
		return fmt.Errorf("peer %s registered %d groups: %w", p, n, errRefused)
	}
	if !ok {
		reg = &registration{Added: s.now().UTC()}
	}
	reg.By = append(reg.By, p.String())
	if err := store.PutJSON(s.regs, scope[:], reg); err != nil {
		return err
	}
	if !ok {
		s.log.Info("group registered", "scope", scope, "by", p)
	}
	return s.keep(scope)
}

// Unregister withdraws peer p's registration of scope. When nobody is
// left who asked for it, the relay stops keeping the group and deletes
// what it held of it.
func (s *Service) Unregister(p peer.ID, scope event.Scope) error {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	reg, err := store.GetJSON[registration](s.regs, scope[:])
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	reg.By = slices.DeleteFunc(reg.By, func(b string) bool { return b == p.String() })
	if len(reg.By) > 0 {
		return store.PutJSON(s.regs, scope[:], reg)
	}
	s.mu.Lock()
	g := s.kept[scope]
	delete(s.kept, scope)
	s.mu.Unlock()
	if err := s.regs.Delete(scope[:]); err != nil {
		return err
	}
	if g == nil {
		// One of this node's own groups: group chat keeps it.
		return nil
	}
	g.r.Close()
	s.log.Info("group unregistered: its history is deleted here", "scope", scope)
	if err := s.store.DeleteScope(scope); err != nil {
		return err
	}
	// Giving the space back can take a while: not while the peer waits.
	select {
	case s.reclaim <- struct{}{}:
	default:
	}
	return nil
}

func (s *Service) registrations() (map[event.Scope]*registration, error) {
	out := map[event.Scope]*registration{}
	err := s.regs.Scan(store.Range{}, func(k, v []byte) error {
		var r registration
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("relay group %x: %w", k, err)
		}
		out[event.Scope(k)] = &r
		return nil
	})
	return out, err
}

// registeredBy lists the scopes p registered.
func (s *Service) registeredBy(p peer.ID) ([]event.Scope, error) {
	all, err := s.registrations()
	if err != nil {
		return nil, err
	}
	var out []event.Scope
	for sc, r := range all {
		if slices.Contains(r.By, p.String()) {
			out = append(out, sc)
		}
	}
	slices.SortFunc(out, func(a, b event.Scope) int { return slices.Compare(a[:], b[:]) })
	return out, nil
}
