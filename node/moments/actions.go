package moments

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/store"
)

// ErrNotMine reports an attempt to delete someone else's moment.
var ErrNotMine = errors.New("only its author can delete a moment")

// ShareText posts text alone as a moment and returns its ID (the diary
// shares entries this way).
func (s *Service) ShareText(ctx context.Context, text string) (string, error) {
	p, err := s.Post(ctx, text, nil)
	if err != nil {
		return "", err
	}
	return p.ID.String(), nil
}

// Post shares a moment (a text, a JPEG of at most 32 KiB, or both) with
// this node's contacts as they are now. It is durable when Post returns.
func (s *Service) Post(ctx context.Context, text string, image []byte) (*Post, error) {
	body := &postBody{Text: text, Image: image}
	if err := body.check(); err != nil {
		return nil, err
	}
	pt, err := enc.Marshal(body)
	if err != nil {
		return nil, err
	}
	// Whoever stopped being a contact since the last change must not get
	// this one: the audience is brought up to date first.
	aud, err := s.audience(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.writeSealed(ctx, ScopeOf(s.id.PublicKey()), KindPost, aud.Epoch, aud.Key, pt)
	if err != nil {
		return nil, err
	}
	if err := s.rec.setReadMark(store.CursorOf(e)); err != nil {
		s.log.Warn("mark read", "err", err)
	}
	return s.rec.post(e.ID)
}

// React likes, unlikes or comments on a moment, under the moment's key.
func (s *Service) React(ctx context.Context, post *Post, typ uint8, text string) (*Reaction, error) {
	body := &reactionBody{Post: post.ID[:], Type: typ, Text: text}
	if err := body.check(); err != nil {
		return nil, err
	}
	pt, err := enc.Marshal(body)
	if err != nil {
		return nil, err
	}
	scope := ScopeOf(post.Author)
	key, ok := s.rec.key(scope, post.Epoch)
	if !ok {
		return nil, fmt.Errorf("react: no key for moment %s", post.ID)
	}
	e, err := s.writeSealed(ctx, scope, KindReaction, post.Epoch, key, pt)
	if err != nil {
		return nil, err
	}
	return &Reaction{ID: e.ID, Post: post.ID, Author: e.Author, Time: e.Time, Type: typ, Text: text}, nil
}

// writeSealed writes a post or reaction to this node's chain in scope,
// sealed with key and bound to its position.
func (s *Service) writeSealed(ctx context.Context, scope event.Scope, kind event.Kind, epoch uint64, key [crypto.KeySize]byte, pt []byte) (*event.Event, error) {
	k, ok := s.replica(scope)
	if !ok {
		return nil, fmt.Errorf("moments of %s are not kept here", scope)
	}
	e, err := k.r.Write(ctx, func(pos engine.Position) (event.Body, error) {
		box, err := crypto.Seal(key, pt, boxAD(pos.Scope[:], s.id.PublicKey(), pos.Seq, kind))
		if err != nil {
			return event.Body{}, err
		}
		payload, err := enc.Marshal(&sealedPayload{Epoch: epoch, Box: box})
		if err != nil {
			return event.Body{}, err
		}
		return pos.Body(kind, payload), nil
	})
	if err != nil {
		return nil, fmt.Errorf("moments: %w", err)
	}
	return e, nil
}

// Delete withdraws one of this node's moments: a signed deletion goes to
// the contacts, whose nodes drop the moment and its reactions.
func (s *Service) Delete(ctx context.Context, post *Post) error {
	if !bytes.Equal(post.Author, s.id.PublicKey()) {
		return ErrNotMine
	}
	payload, err := enc.Marshal(&deletePayload{Post: post.ID[:], Time: post.Time})
	if err != nil {
		return err
	}
	k, _ := s.replica(ScopeOf(s.id.PublicKey()))
	if _, err := k.r.Write(ctx, func(pos engine.Position) (event.Body, error) {
		return pos.Body(KindDelete, payload), nil
	}); err != nil {
		return fmt.Errorf("delete moment: %w", err)
	}
	return nil
}

// Find returns a moment by ID, in full or a unique prefix of at least
// event.MinPrefix hex digits.
func (s *Service) Find(ref string) (*Post, error) {
	ref = strings.ToLower(strings.TrimSpace(ref))
	if id, err := event.ParseID(ref); err == nil {
		return s.rec.post(id)
	}
	if !event.IsIDPrefix(ref) {
		return nil, fmt.Errorf("%q is not a moment ID: give the ID, or its first %d characters or more, as 'banyan moments feed' shows them", ref, event.MinPrefix)
	}
	return s.rec.findPost(ref)
}

// Feed returns a page of moments, newest first, and the cursor of the
// next page.
func (s *Service) Feed(before store.Cursor, limit int) ([]*Post, store.Cursor, error) {
	return s.rec.feed(before, limit)
}

// MarkRead marks the feed read up to c, or up to its newest moment when c
// is zero. The mark never moves back.
func (s *Service) MarkRead(c store.Cursor) error {
	if c.IsZero() {
		ps, _, err := s.rec.feed(store.Cursor{}, 1)
		if err != nil || len(ps) == 0 {
			return err
		}
		c = ps[0].cursor()
	}
	return s.rec.setReadMark(c)
}

// ShortID is how many hex digits of a moment's ID the command line shows.
const ShortID = 12
