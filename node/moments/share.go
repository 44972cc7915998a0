package moments

import (
	"context"
	"errors"
	"sync"

	"github.com/banyan-mesh/banyan/crypto"
)

// ErrNoKey reports a payload sealed under an audience key this node does
// not hold (yet, or ever: it was not in that audience).
var ErrNoKey = errors.New("audience key not known here")

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
	return func(pt, ad []byte) ([]byte, error) { return s.SealUnder(own, aud.Epoch, pt, ad) }, nil
}

// SealUnder seals a plaintext under the key of owner's audience at
// epoch, which this node must hold (an answer to a contact's event is
// sealed with the key of the event's epoch, as a reaction is).
func (s *Service) SealUnder(owner []byte, epoch uint64, pt, ad []byte) ([]byte, error) {
	key, ok := s.rec.key(ScopeOf(owner), epoch)
	if !ok {
		return nil, ErrNoKey
	}
	box, err := crypto.Seal(key, pt, ad)
	if err != nil {
		return nil, err
	}
	return enc.Marshal(&sealedPayload{Epoch: epoch, Box: box})
}

// EpochOf returns the epoch of a payload sealed for contacts.
func EpochOf(payload []byte) (uint64, error) {
	p, err := decodeSealed(payload)
	if err != nil {
		return 0, err
	}
	return p.Epoch, nil
}

// OpenFromContact opens a payload sealed by SealForContacts on owner's
// node. It fails with ErrNoKey if this node has not got that epoch's key,
// crypto.ErrDecrypt if the box does not open, or a decoding error.
func (s *Service) OpenFromContact(owner []byte, payload, ad []byte) ([]byte, error) {
	p, err := decodeSealed(payload)
	if err != nil {
		return nil, err
	}
	key, ok := s.rec.key(ScopeOf(owner), p.Epoch)
	if !ok {
		return nil, ErrNoKey
	}
	return crypto.Open(key, p.Box, ad)
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
