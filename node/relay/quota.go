package relay

import (
	"maps"
	"slices"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// Eviction brings a group over its quota down to 9/10 of it (and the
// relay, over its total, to 9/10 of that), so that a full group is not
// scanned again for every event stored.
const (
	slackNum, slackDen = 9, 10
)

func slack(q int64) int64 { return q / slackDen * slackNum }

// Enforce applies the quotas now: every author of a group that grew by a
// quarter of the author quota since it was last looked at is brought
// down to that quota, every group over its quota to below it, and, if
// the relay holds more than its total, the heaviest groups are cut to one
// level, each losing the oldest events of its heaviest authors. Evicted events become ghosts,
// never taken back; the disk space is given back at once. It returns how
// many events were evicted.
func (s *Service) Enforce() (int, error) {
	if !s.counted.Load() {
		if err := s.countAll(); err != nil {
			return 0, err
		}
	}
	q := s.quotas
	s.mu.Lock()
	type due struct {
		scope event.Scope
		g     *group
	}
	var check []due
	for sc, g := range s.kept {
		if g.held > q.Group || g.grown >= q.Author/4 {
			check = append(check, due{sc, g})
		}
	}
	s.mu.Unlock()
	evicted := 0
	for _, d := range check {
		target := q.Group
		if s.held(d.g) > q.Group {
			target = slack(q.Group)
		}
		n, err := s.store.EvictAuthors(d.scope, target, q.Author)
		evicted += n
		if err != nil {
			return evicted, err
		}
		if err := s.recount(d.scope, d.g); err != nil {
			return evicted, err
		}
	}
	n, err := s.enforceTotal()
	evicted += n
	if err != nil {
		return evicted, err
	}
	if evicted > 0 {
		s.log.Info("quota: evicted the oldest events of the heaviest authors", "events", evicted)
		s.store.Reclaim()
	}
	return evicted, nil
}

// Usage returns how many groups the relay keeps, what they hold together
// and the quota for them all: cheap, for metrics.
func (s *Service) Usage() (groups int, held, quota int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.kept {
		held += g.held
	}
	return len(s.kept), held, s.quotas.Total
}

func (s *Service) held(g *group) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return g.held
}

// countAll counts what every kept group holds, and has each checked by
// the next Enforce.
func (s *Service) countAll() error {
	s.mu.Lock()
	kept := maps.Clone(s.kept)
	s.mu.Unlock()
	for sc, g := range kept {
		authors, err := s.store.ScopeAuthors(sc)
		if err != nil {
			return err
		}
		s.mu.Lock()
		g.set(authors)
		g.grown = g.held
		s.mu.Unlock()
	}
	s.counted.Store(true)
	return nil
}

// recount reads a group's stored bytes again after an eviction.
func (s *Service) recount(scope event.Scope, g *group) error {
	authors, err := s.store.ScopeAuthors(scope)
	if err != nil {
		return err
	}
	s.mu.Lock()
	g.set(authors)
	g.grown = 0
	s.mu.Unlock()
	return nil
}

// enforceTotal brings a relay over its total down to 9/10 of it, the
// heaviest groups first: they are cut to one level, the most each may
// hold so that all fit, and within each the heaviest authors first.
func (s *Service) enforceTotal() (int, error) {
	s.mu.Lock()
	var total int64
	helds := make([]int64, 0, len(s.kept))
	for _, g := range s.kept {
		total += g.held
		helds = append(helds, g.held)
	}
	if total <= s.quotas.Total {
		s.mu.Unlock()
		return 0, nil
	}
	lvl := level(helds, slack(s.quotas.Total))
	over := map[event.Scope]*group{}
	for sc, g := range s.kept {
		if g.held > lvl {
			over[sc] = g
		}
	}
	s.mu.Unlock()
	evicted := 0
	for sc, g := range over {
		n, err := s.store.EvictAuthors(sc, max(lvl, 1), s.quotas.Author)
		evicted += n
		if err != nil {
			return evicted, err
		}
		if err := s.recount(sc, g); err != nil {
			return evicted, err
		}
	}
	return evicted, nil
}

// level returns the most each of helds may keep so that together they
// keep at most target: the largest such level.
func level(helds []int64, target int64) int64 {
	sum := func(l int64) (n int64) {
		for _, h := range helds {
			n += min(h, l)
		}
		return n
	}
	lo, hi := int64(0), slices.Max(helds)
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if sum(mid) <= target {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// expire deletes what is older than the retention, in every group.
func (s *Service) expire() {
	s.mu.Lock()
	scopes := make([]event.Scope, 0, len(s.kept))
	for sc := range s.kept {
		scopes = append(scopes, sc)
	}
	s.mu.Unlock()
	minTime := s.floor().Time
	deleted := 0
	for _, sc := range scopes {
		n, _, err := s.store.Prune(sc, minTime, 0)
		if err != nil {
			s.log.Warn("retention", "scope", sc, "err", err)
			continue
		}
		deleted += n
		s.mu.Lock()
		g := s.kept[sc]
		s.mu.Unlock()
		if n > 0 && g != nil {
			if err := s.recount(sc, g); err != nil {
				s.log.Warn("retention", "scope", sc, "err", err)
			}
		}
	}
	if deleted > 0 {
		s.log.Info("retention: deleted old events", "events", deleted)
		s.store.Reclaim()
	}
}
