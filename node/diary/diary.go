// Package diary is a private diary: dated entries that never leave the
// node. They are not events: no scope, no topic, nothing the engine or a
// sync could carry. Each entry is sealed under a key derived from the
// identity before it is stored, and search decrypts entries in memory
// rather than keeping an index whose words would be readable on disk. The
// package also holds the diary's API routes and command-line commands.
package diary

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/node/content"
	"github.com/banyan-mesh/banyan/store"
)

// DateLayout is how an entry's date is written.
const DateLayout = "2006-01-02"

// Entry is one diary entry.
type Entry struct {
	ID string `json:"id"`
	// Date is the day the entry is about (DateLayout), which the writer
	// chooses; Written when it was written.
	Date    string    `json:"date"`
	Text    string    `json:"text"`
	Written time.Time `json:"written"`
}

// Moments shares a text with this person's contacts as a moment (package
// moments), returning the moment's ID.
type Moments interface {
	ShareText(ctx context.Context, text string) (string, error)
}

// Options configures New.
type Options struct {
	Identity *crypto.Identity
	Store    *store.Store
	Logger   *slog.Logger
	Now      func() time.Time
	// Moments, if set, lets an entry be shared as a moment.
	Moments Moments
}

// Service keeps the diary.
type Service struct {
	moments Moments
	t       *store.Table
	key     [crypto.KeySize]byte
	log     *slog.Logger
	now     func() time.Time
}

// New opens the diary's table ("diary": entry ID -> sealed entry).
func New(opts Options) (*Service, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	t, err := opts.Store.Table("diary")
	if err != nil {
		return nil, err
	}
	key, err := opts.Identity.LocalKey("diary")
	if err != nil {
		return nil, err
	}
	return &Service{t: t, key: key, log: opts.Logger, now: opts.Now, moments: opts.Moments}, nil
}

// ad binds a sealed entry to its ID, so that entries cannot be swapped.
func ad(id []byte) []byte { return append([]byte("banyan/diary/v1\x00"), id...) }

// Add writes an entry for date (DateLayout; empty for today).
func (s *Service) Add(date, text string) (*Entry, error) {
	if err := content.CheckText(text); err != nil {
		return nil, err
	}
	now := s.now()
	if date == "" {
		date = now.Format(DateLayout)
	}
	if _, err := time.Parse(DateLayout, date); err != nil {
		return nil, fmt.Errorf("date %q: write it as 2026-12-24", date)
	}
	id := make([]byte, 16)
	rand.Read(id)
	e := &Entry{ID: hex.EncodeToString(id), Date: date, Text: text, Written: now.UTC()}
	pt, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("diary: %w", err)
	}
	sealed, err := crypto.Seal(s.key, pt, ad(id))
	if err != nil {
		return nil, fmt.Errorf("diary: %w", err)
	}
	if err := s.t.Put(id, sealed); err != nil {
		return nil, err
	}
	return e, nil
}

// ErrNotShared reports a diary that cannot share: the node has no moments.
var ErrNotShared = errors.New("diary entries cannot be shared as moments here")

// Share posts the entry with the given ID, or a unique start of it, as a
// moment for this person's contacts; the entry stays in the diary. It
// returns the entry and the moment's ID.
func (s *Service) Share(ctx context.Context, ref string) (*Entry, string, error) {
	if s.moments == nil {
		return nil, "", ErrNotShared
	}
	e, err := s.find(ref)
	if err != nil {
		return nil, "", err
	}
	id, err := s.moments.ShareText(ctx, e.Text)
	if err != nil {
		return nil, "", fmt.Errorf("share diary entry: %w", err)
	}
	return e, id, nil
}

// find returns the entry whose ID is ref or starts with it, if only one
// does.
func (s *Service) find(ref string) (*Entry, error) {
	ref = strings.ToLower(strings.TrimSpace(ref))
	if ref == "" {
		return nil, fmt.Errorf("%w: give its ID", ErrNoEntry)
	}
	all, err := s.List("", 0)
	if err != nil {
		return nil, err
	}
	var found *Entry
	for i := range all {
		if strings.HasPrefix(all[i].ID, ref) {
			if found != nil {
				return nil, fmt.Errorf("%q starts more than one diary entry's ID: give more of it", ref)
			}
			found = &all[i]
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%w %q", ErrNoEntry, ref)
	}
	return found, nil
}

// ErrNoEntry reports an entry ID that matches nothing.
var ErrNoEntry = errors.New("no such diary entry")

// Delete deletes an entry by ID.
func (s *Service) Delete(id string) error {
	b, err := hex.DecodeString(id)
	if err != nil || len(b) != 16 {
		return fmt.Errorf("%w %q", ErrNoEntry, id)
	}
	if has, err := s.t.Has(b); err != nil || !has {
		return cmp.Or(err, fmt.Errorf("%w %q", ErrNoEntry, id))
	}
	return s.t.Delete(b)
}

// List returns up to limit (0: every) entries whose text holds every word of query
// (ignoring case; an empty query matches all), newest date first.
func (s *Service) List(query string, limit int) ([]Entry, error) {
	words := strings.Fields(strings.ToLower(query))
	var out []Entry
	err := s.t.Scan(store.Range{}, func(k, v []byte) error {
		pt, err := crypto.Open(s.key, v, ad(k))
		if err != nil {
			// Written under another identity (a copied store): not ours.
			s.log.Warn("diary entry does not open", "id", hex.EncodeToString(k))
			return nil
		}
		var e Entry
		if err := json.Unmarshal(pt, &e); err != nil {
			return fmt.Errorf("diary entry: %w", err)
		}
		text := strings.ToLower(e.Text)
		if !slices.ContainsFunc(words, func(w string) bool { return !strings.Contains(text, w) }) {
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Entry) int {
		return cmp.Or(-strings.Compare(a.Date, b.Date), -a.Written.Compare(b.Written), bytes.Compare([]byte(a.ID), []byte(b.ID)))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
