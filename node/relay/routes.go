package relay

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/store"
)

// Status is what a relay keeps, as GET /v1/relay shows it.
type Status struct {
	Groups []GroupStatus `json:"groups"`
	// Bytes is what the registered groups hold together.
	Bytes  int64      `json:"bytes"`
	Quotas QuotasInfo `json:"quotas"`
	// Disk is what the whole store takes on disk, as Badger counts it.
	Disk DiskInfo `json:"disk"`
	// Counting is set while the relay, just started, still counts what
	// the groups hold: until then their figures are too low.
	Counting bool `json:"counting,omitempty"`
}

// GroupStatus is one registered group.
type GroupStatus struct {
	Scope string `json:"scope"`
	// Registrants counts the peers that registered it.
	Registrants int       `json:"registrants"`
	Added       time.Time `json:"added"`
	Events      int       `json:"events"`
	Bytes       int64     `json:"bytes"`
	Authors     int       `json:"authors"`
	// HeaviestAuthor is the author (hex public key) holding the most, and
	// HeaviestBytes what they hold: the first to be evicted.
	HeaviestAuthor string `json:"heaviest_author,omitempty"`
	HeaviestBytes  int64  `json:"heaviest_bytes,omitempty"`
	// Oldest and Newest are the times of the oldest and newest events kept.
	Oldest *time.Time `json:"oldest,omitempty"`
	Newest *time.Time `json:"newest,omitempty"`
}

// QuotasInfo are the relay's quotas.
type QuotasInfo struct {
	Total     int64  `json:"total"`
	Group     int64  `json:"group"`
	Author    int64  `json:"author"`
	Retention string `json:"retention"`
	MaxGroups int    `json:"max_groups"`
}

// DiskInfo is the store's size on disk.
type DiskInfo struct {
	LSM  int64 `json:"lsm"`
	VLog int64 `json:"vlog"`
}

// Routes registers the relay's API:
//
//	GET /v1/relay                        Status
//	GET /v1/relay/groups/{scope}/export  the group's envelopes, oldest first, each as uvarint(length) || envelope
func (s *Service) Routes(srv *api.Server) {
	srv.Handle("GET /v1/relay", api.Get(srv, func(r *http.Request) (*Status, error) { return s.Status() }))
	srv.Handle("GET /v1/relay/groups/{scope}/export", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scope, err := ParseScope(r.PathValue("scope"))
		if err != nil {
			api.WriteError(w, api.BadRequest(err))
			return
		}
		if !s.keeps(scope) {
			api.WriteError(w, api.NotFound(fmt.Errorf("group %s is not registered here", scope)))
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", scope.String()+".banyan-relay"))
		if err := s.Export(scope, func(raw []byte) error {
			_, err := w.Write(append(binary.AppendUvarint(nil, uint64(len(raw))), raw...))
			return err
		}); err != nil {
			// The status line is gone: a cut-off export ends short.
			s.log.Warn("export", "scope", scope, "err", err)
		}
	}))
}

func (s *Service) keeps(scope event.Scope) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.kept[scope]
	return ok
}

// Status reports what the relay keeps, from the counts it keeps as events
// are stored: it reads no group's history.
func (s *Service) Status() (*Status, error) {
	regs, err := s.registrations()
	if err != nil {
		return nil, err
	}
	q := s.quotas
	out := &Status{Quotas: QuotasInfo{Total: q.Total, Group: q.Group, Author: q.Author, Retention: q.Retention.String(), MaxGroups: q.MaxGroups}}
	out.Disk.LSM, out.Disk.VLog = s.store.DiskSize()
	out.Counting = !s.counted.Load()
	for sc, reg := range regs {
		gs := GroupStatus{Scope: sc.String(), Registrants: len(reg.By), Added: reg.Added}
		authors, err := s.usage(sc)
		if err != nil {
			return nil, err
		}
		gs.Authors = len(authors)
		for i, a := range authors {
			gs.Events += a.Events
			gs.Bytes += a.Bytes
			oldest, newest := time.UnixMilli(a.Oldest).UTC(), time.UnixMilli(a.Newest).UTC()
			if gs.Oldest == nil || oldest.Before(*gs.Oldest) {
				gs.Oldest = &oldest
			}
			if gs.Newest == nil || newest.After(*gs.Newest) {
				gs.Newest = &newest
			}
			if i == 0 {
				gs.HeaviestAuthor, gs.HeaviestBytes = hex.EncodeToString(a.Author), a.Bytes
			}
		}
		out.Bytes += gs.Bytes
		out.Groups = append(out.Groups, gs)
	}
	slices.SortFunc(out.Groups, func(a, b GroupStatus) int { return cmp.Compare(a.Scope, b.Scope) })
	return out, nil
}

// usage returns what each author holds in a registered group.
func (s *Service) usage(sc event.Scope) ([]store.AuthorUsage, error) {
	s.mu.Lock()
	g := s.kept[sc]
	var out []store.AuthorUsage
	if g != nil {
		for _, a := range g.authors {
			out = append(out, *a)
		}
	}
	s.mu.Unlock()
	if g == nil {
		// A group this node is a member of is kept by group chat, outside
		// the quotas and not counted here: it is read.
		return s.store.ScopeAuthors(sc)
	}
	slices.SortFunc(out, func(a, b store.AuthorUsage) int {
		return cmp.Or(cmp.Compare(b.Bytes, a.Bytes), bytes.Compare(a.Author, b.Author))
	})
	return out, nil
}

// exportBatch is how many envelopes an export reads at once.
const exportBatch = 256

// Export hands every envelope the relay keeps of scope to fn, oldest
// first.
func (s *Service) Export(scope event.Scope, fn func(raw []byte) error) error {
	var ids []event.ID
	if err := s.store.ScopeItems(scope, nil, nil, func(_ uint64, id event.ID) { ids = append(ids, id) }); err != nil {
		return err
	}
	for len(ids) > 0 {
		n := min(len(ids), exportBatch)
		// Ghosts are listed but no longer stored: Events skips them.
		evs, err := s.store.Events(ids[:n])
		if err != nil {
			return err
		}
		for _, e := range evs {
			if err := fn(e.Raw); err != nil {
				return err
			}
		}
		ids = ids[n:]
	}
	return nil
}

// ParseScope reads a scope written in hex.
func ParseScope(s string) (event.Scope, error) {
	var sc event.Scope
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != event.ScopeSize {
		return sc, fmt.Errorf("%q is not a group scope (64 hex digits, as 'banyan relay status' shows)", s)
	}
	return event.Scope(b), nil
}
