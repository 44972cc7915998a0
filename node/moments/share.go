package moments

import (
	"context"
	"fmt"
	"sync"

	"github.com/banyan-mesh/banyan/crypto"
)

// Other features share with the same audience as moments (events to
// contacts): their payloads are sealed as a post's, {1: epoch, 2: box},
// under the owner's audience key, with an ad of their own.

// SealForContacts brings this node's audience up to date and returns a
// function that seals a plaintext under its key, for whoever is a contact
// now.
func (s *Service) SealForContacts(ctx context.Context) (func(pt, ad []byte) ([]byte, error), error) {
	aud, err := s.audience(ctx)
	if err != nil {
		return nil, err
	}
	own := s.id.PublicKey()
	return func(pt, ad []byte) ([]byte, error) { return s.sealUnder(own, aud.Epoch, pt, ad) }, nil
}

// sealUnder seals a plaintext under the key of owner's audience at epoch.
func (s *Service) sealUnder(owner []byte, epoch uint64, pt, ad []byte) ([]byte, error) {
	key, ok := s.rec.key(ScopeOf(owner), epoch)
	if !ok {
		return nil, fmt.Errorf("moments: no audience key of epoch %d", epoch)
	}
	box, err := crypto.Seal(key, pt, ad)
	if err != nil {
		return nil, err
	}
	return enc.Marshal(&sealedPayload{Epoch: epoch, Box: box})
}

// SealLike seals a plaintext under the audience key that sealed payload,
// a payload of owner's: an answer to a contact's event goes under the
// event's key, as a reaction goes under its moment's.
func (s *Service) SealLike(owner, payload, pt, ad []byte) ([]byte, error) {
	p, err := decodeSealed(payload)
	if err != nil {
		return nil, err
	}
	return s.sealUnder(owner, p.Epoch, pt, ad)
}

// OpenFromContact opens a payload sealed by SealForContacts on owner's
// node. known is false if this node has not got the key of its epoch;
// otherwise it fails with crypto.ErrDecrypt if the box does not open, or
// with a decoding error.
func (s *Service) OpenFromContact(owner, payload, ad []byte) (pt []byte, known bool, err error) {
	p, err := decodeSealed(payload)
	if err != nil {
		return nil, true, err
	}
	key, ok := s.rec.key(ScopeOf(owner), p.Epoch)
	if !ok {
		return nil, false, nil
	}
	pt, err = crypto.Open(key, p.Box, ad)
	return pt, true, err
}

// KeysChanged returns a channel closed the next time this node learns an
// audience key: what was kept sealed under it may open now.
func (s *Service) KeysChanged() <-chan struct{} { return s.keysChanged.wait() }

// signal is a channel closed and replaced at every change.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func (g *signal) wait() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch == nil {
		g.ch = make(chan struct{})
	}
	return g.ch
}

func (g *signal) notify() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch != nil {
		close(g.ch)
		g.ch = nil
	}
}
