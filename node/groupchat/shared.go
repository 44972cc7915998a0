package groupchat

import (
	"encoding/hex"
	"fmt"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
)

// What other features that live in a group (lists, events) use of it:
// they keep scopes of their own, sealed with the group's key, and follow
// the groups this node joins and leaves.

// WatchGroups calls fn for every group this node is in now, then for each
// group it joins (in true) or leaves (in false), with the group's scope and
// ID in hex. fn runs without the service's lock held, so it may call back.
func (s *Service) WatchGroups(fn func(scope event.Scope, id string, in bool)) {
	s.mu.Lock()
	s.watchers = append(s.watchers, fn)
	now := make(map[event.Scope]string, len(s.joined))
	for scope, j := range s.joined {
		now[scope] = hex.EncodeToString(j.g.ID[:])
	}
	s.mu.Unlock()
	for scope, id := range now {
		fn(scope, id, true)
	}
}

// tell tells the watchers that this node joined or left a group.
func (s *Service) tell(g *Group, in bool) {
	s.mu.Lock()
	ws := s.watchers
	s.mu.Unlock()
	for _, fn := range ws {
		fn(g.Scope(), hex.EncodeToString(g.ID[:]), in)
	}
}

// SealFor seals plaintext with the key of the group whose scope is given,
// bound to ad, for another feature's event in that group.
func (s *Service) SealFor(scope event.Scope, plaintext, ad []byte) ([]byte, error) {
	g, ok := s.ByScope(scope)
	if !ok {
		return nil, fmt.Errorf("seal: %w %s", ErrNoGroup, scope)
	}
	return crypto.Seal(g.Key, plaintext, ad)
}

// OpenFor reverses SealFor; it fails with crypto.ErrDecrypt for what the
// group's key and ad do not open.
func (s *Service) OpenFor(scope event.Scope, sealed, ad []byte) ([]byte, error) {
	g, ok := s.ByScope(scope)
	if !ok {
		return nil, fmt.Errorf("open: %w %s", ErrNoGroup, scope)
	}
	return crypto.Open(g.Key, sealed, ad)
}
