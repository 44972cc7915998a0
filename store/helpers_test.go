package store_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"slices"
	"testing"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/store"
)

var quietLogger = slog.New(slog.DiscardHandler)

// openAt opens a store in dir; the caller closes it.
func openAt(t testing.TB, dir string) *store.Store {
	t.Helper()
	s, err := store.Open(store.Options{Dir: dir, Logger: quietLogger})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

// openTemp opens a store in a fresh directory and closes it at cleanup.
func openTemp(t testing.TB) (*store.Store, string) {
	t.Helper()
	dir := t.TempDir()
	s := openAt(t, dir)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, dir
}

func newIdentity(t testing.TB) *crypto.Identity {
	t.Helper()
	id, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func randomScope(t testing.TB) event.Scope {
	t.Helper()
	var s event.Scope
	if _, err := rand.Read(s[:]); err != nil {
		t.Fatal(err)
	}
	return s
}

// author signs a chain of events in one scope with correct Seq and Prev.
type author struct {
	t     testing.TB
	id    *crypto.Identity
	scope event.Scope
	seq   uint64
	prev  event.ID
}

func newAuthor(t testing.TB, scope event.Scope) *author {
	return &author{t: t, id: newIdentity(t), scope: scope}
}

// in returns an author with the same identity writing in another scope.
func (a *author) in(scope event.Scope) *author {
	return &author{t: a.t, id: a.id, scope: scope}
}

// next signs the author's next event at time ms.
func (a *author) next(ms int64, payload string) *event.Event {
	a.t.Helper()
	a.seq++
	b := event.Body{
		Scope:   a.scope[:],
		Seq:     a.seq,
		Time:    ms,
		Kind:    event.KindGroupMessage,
		Payload: []byte(payload),
	}
	if a.seq > 1 {
		prev := a.prev // a copy: the event keeps the slice
		b.Prev = prev[:]
	}
	e, err := event.Sign(a.id, b)
	if err != nil {
		a.t.Fatalf("Sign: %v", err)
	}
	a.prev = e.ID
	return e
}

func mustPut(t testing.TB, s *store.Store, e *event.Event, opts store.PutOptions) uint64 {
	t.Helper()
	added, arrival, err := s.PutEvent(e, opts)
	if err != nil {
		t.Fatalf("PutEvent: %v", err)
	}
	if !added {
		t.Fatalf("PutEvent(%s): not added", e.ID)
	}
	return arrival
}

// historyOrder sorts events the way History promises: by (time, ID).
func historyOrder(evs []*event.Event) []*event.Event {
	out := slices.Clone(evs)
	slices.SortFunc(out, func(a, b *event.Event) int {
		if a.Time != b.Time {
			if a.Time < b.Time {
				return -1
			}
			return 1
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	return out
}

func ids(evs []*event.Event) []event.ID {
	out := make([]event.ID, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func assertSameEvent(t testing.TB, got, want *event.Event) {
	t.Helper()
	if got == nil {
		t.Fatalf("event %s missing", want.ID)
	}
	if got.ID != want.ID || !bytes.Equal(got.Raw, want.Raw) || !bytes.Equal(got.Sig, want.Sig) {
		t.Fatalf("event %s: got ID %s, raw equal %v", want.ID, got.ID, bytes.Equal(got.Raw, want.Raw))
	}
	if !bytes.Equal(got.Author, want.Author) || !bytes.Equal(got.Scope, want.Scope) || got.Seq != want.Seq ||
		!bytes.Equal(got.Prev, want.Prev) || got.Time != want.Time || got.Kind != want.Kind ||
		!bytes.Equal(got.Payload, want.Payload) {
		t.Fatalf("event %s: body %+v, want %+v", want.ID, got.Body, want.Body)
	}
}

// writeRandomAndClose stores n events of one author in a store opened at
// dir, with texts of size random bytes (random, so that they do not
// compress), 500 to a batch, and closes it.
func writeRandomAndClose(t testing.TB, dir string, n, size int) (*author, []*event.Event) {
	t.Helper()
	s := openAt(t, dir)
	a := newAuthor(t, randomScope(t))
	all := make([]*event.Event, 0, n)
	for i := range n {
		b := make([]byte, size)
		rand.Read(b)
		all = append(all, a.next(1_700_000_000_000+int64(i), hex.EncodeToString(b)))
	}
	for i := 0; i < len(all); i += 500 {
		if _, err := s.PutEvents(all[i:min(i+500, len(all))], store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return a, all
}

// putAgain puts evs, as a sync that brings them back would, and returns
// how many the store took as new.
func putAgain(t testing.TB, s *store.Store, evs []*event.Event) int {
	t.Helper()
	res, err := s.PutEvents(evs, store.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	added := 0
	for _, arrival := range res {
		if arrival != 0 {
			added++
		}
	}
	return added
}
