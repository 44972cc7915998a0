package profile

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
)

// CardProtocol answers with the public part of the node's profile (name
// and avatar), if its user chose to show it to people nearby: the asker
// opens a stream and reads uvarint(length) || card, a length of 0 meaning
// no card. A card is a signed event of KindCard that is never stored.
const CardProtocol protocol.ID = "/banyan/profile-card/1"

// KindCard is the event kind of a profile card.
const KindCard event.Kind = 25

// cardRate is how often one peer may ask for this node's card.
var cardRate = mesh.Rate{Per: 1, Burst: 5}

// Limits of the cards this node keeps of people nearby.
const (
	maxCards  = 256
	cardWait  = 5 * time.Second
	cardFresh = time.Minute
)

// Limiter bounds how often a peer may ask for something.
type Limiter interface {
	Allow(p peer.ID, class string, r mesh.Rate) bool
}

// cards are the cards fetched from people nearby, kept a minute.
type cards struct {
	mu sync.Mutex
	m  map[peer.ID]card
}

type card struct {
	f  *Fields
	at time.Time
}

// ErrNoCard reports a peer that shows no card.
var ErrNoCard = errors.New("they do not show their profile to people nearby")

// serveCard answers one request for this node's card.
func (s *Service) serveCard(st network.Stream) {
	if s.limiter != nil && !s.limiter.Allow(st.Conn().RemotePeer(), string(CardProtocol), cardRate) {
		st.Reset()
		return
	}
	defer st.Close()
	st.SetDeadline(time.Now().Add(10 * time.Second))
	var raw []byte
	if s.public() {
		if r, err := s.record(s.id.PeerID()); err == nil {
			raw = s.signCard(&Fields{Name: r.Name, Avatar: r.Avatar})
		}
	}
	st.Write(append(binary.AppendUvarint(nil, uint64(len(raw))), raw...))
}

func (s *Service) signCard(f *Fields) []byte {
	payload, err := Encode(f)
	if err != nil {
		return nil
	}
	scope := ScopeOf(s.id.PublicKey())
	e, err := event.Sign(s.id, event.Body{Scope: scope[:], Seq: 1, Time: time.Now().UnixMilli(), Kind: KindCard, Payload: payload})
	if err != nil {
		return nil
	}
	return e.Raw
}

// ParseCard checks a card that peer p sent: an event of KindCard signed
// by p, in p's profile scope, with a name and an avatar at most.
func ParseCard(p peer.ID, raw []byte) (*Fields, error) {
	e, err := event.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("card: %w", err)
	}
	pub, err := crypto.PublicKeyFromPeerID(p)
	if err != nil {
		return nil, fmt.Errorf("card: %w", err)
	}
	switch {
	case !e.SameAuthor(pub):
		return nil, errors.New("card: signed by someone else")
	case e.Kind != KindCard || e.ScopeID() != ScopeOf(pub):
		return nil, errors.New("card: not a profile card")
	}
	f, err := Decode(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("card: %w", err)
	}
	if f.Bio != "" || f.Place != "" || f.Private != nil {
		return nil, errors.New("card: more than a name and an avatar")
	}
	return f, nil
}

// Card returns the card of a connected peer, asked for at most once a
// minute.
func (s *Service) Card(ctx context.Context, p peer.ID) (*Fields, error) {
	s.cards.mu.Lock()
	c, ok := s.cards.m[p]
	s.cards.mu.Unlock()
	if ok && time.Since(c.at) < cardFresh {
		if c.f == nil {
			return nil, ErrNoCard
		}
		return c.f, nil
	}
	f, err := s.fetchCard(ctx, p)
	if err != nil && !errors.Is(err, ErrNoCard) {
		return nil, err
	}
	s.cards.mu.Lock()
	defer s.cards.mu.Unlock()
	if len(s.cards.m) >= maxCards {
		for q := range s.cards.m {
			delete(s.cards.m, q)
			break
		}
	}
	s.cards.m[p] = card{f: f, at: time.Now()}
	return f, err
}

func (s *Service) fetchCard(ctx context.Context, p peer.ID) (*Fields, error) {
	if s.host == nil || s.host.Network().Connectedness(p) != network.Connected {
		return nil, fmt.Errorf("%s is not nearby", p)
	}
	ctx, cancel := context.WithTimeout(network.WithNoDial(ctx, "profile card"), cardWait)
	defer cancel()
	st, err := s.host.NewStream(ctx, p, CardProtocol)
	if err != nil {
		return nil, fmt.Errorf("ask %s for its profile card: %w", p, err)
	}
	defer st.Close()
	st.SetDeadline(time.Now().Add(cardWait))
	r := bufio.NewReader(st)
	n, err := binary.ReadUvarint(r)
	switch {
	case err != nil || n > event.MaxEnvelopeSize:
		return nil, fmt.Errorf("ask %s for its profile card: bad answer", p)
	case n == 0:
		return nil, ErrNoCard
	}
	raw := make([]byte, n)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("ask %s for its profile card: %w", p, err)
	}
	return ParseCard(p, raw)
}

// public reports whether the user shows their card to people nearby.
func (s *Service) public() bool {
	ok, err := s.settings.Has([]byte("public"))
	return err == nil && ok
}

// SetPublic chooses whether people nearby may see this node's name and
// avatar.
func (s *Service) SetPublic(on bool) error {
	if on {
		return s.settings.Put([]byte("public"), []byte{1})
	}
	return s.settings.Delete([]byte("public"))
}
