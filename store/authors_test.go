package store_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/store"
)

// An author over the per-author quota loses their own oldest events; a
// scope over its quota then loses the oldest events of its heaviest
// author, again and again, so that a quiet author keeps everything.
func TestEvictAuthors(t *testing.T) {
	s, _ := openTemp(t)
	scope := randomScope(t)
	quiet, loud, flood := newAuthor(t, scope), newAuthor(t, scope), newAuthor(t, scope)
	var quietEvs, loudEvs, floodEvs []*event.Event
	for i := range 5 {
		e := quiet.next(int64(1000+i), "quiet")
		mustPut(t, s, e, store.PutOptions{})
		quietEvs = append(quietEvs, e)
	}
	for i := range 20 {
		e := loud.next(int64(1000+i), "loud")
		mustPut(t, s, e, store.PutOptions{})
		loudEvs = append(loudEvs, e)
	}
	for i := range 60 {
		e := flood.next(int64(2000+i), "flood")
		mustPut(t, s, e, store.PutOptions{})
		floodEvs = append(floodEvs, e)
	}
	per := int64(len(floodEvs[0].Raw))
	// Each author may hold 30 events; the scope 40.
	n, err := s.EvictAuthors(scope, 40*per, 30*per)
	if err != nil {
		t.Fatal(err)
	}
	kept := func(evs []*event.Event) (k int) {
		for _, e := range evs {
			if has, _ := s.HasEvent(e.ID); has {
				k++
			}
		}
		return k
	}
	if k := kept(quietEvs); k != 5 {
		t.Fatalf("the quiet author kept %d of 5", k)
	}
	// The flood is cut to about 30 for the author quota, then the
	// heaviest of the loud and the flood is taken from until the scope
	// fits: they end about even.
	kl, kf := kept(loudEvs), kept(floodEvs)
	if n != 80-kl-kf || kf > 30 || kl < 12 || kf-kl > 2 || kl-kf > 2 {
		t.Fatalf("evicted %d; loud kept %d of 20, flood %d of 60", n, kl, kf)
	}
	if has, _ := s.HasEvent(floodEvs[59].ID); !has {
		t.Fatal("the flood's newest event went before its oldest")
	}
	if ghost, _ := s.IsGhost(scope, floodEvs[0].Time, floodEvs[0].ID); !ghost {
		t.Fatal("an evicted event is not a ghost")
	}
	us, err := s.ScopeAuthors(scope)
	if err != nil || len(us) != 3 {
		t.Fatalf("ScopeAuthors = %v, %v", us, err)
	}
	if !bytes.Equal(us[2].Author, quiet.id.PublicKey()) || us[2].Events != 5 || us[2].Oldest != 1000 || us[2].Newest != 1004 {
		t.Fatalf("the quiet author's usage: %+v", us[2])
	}
	var sum int64
	for _, u := range us {
		sum += u.Bytes
	}
	if total, _ := s.ScopeBytes(scope); total != sum || total > 40*per {
		t.Fatalf("authors hold %d, scope %d, quota %d", sum, total, 40*per)
	}
}

// ScopeEvents yields every event of the scope once, in ID order whatever
// order they were stored in, without other scopes' events or evicted ones,
// and stops at fn's error.
func TestScopeEvents(t *testing.T) {
	s, _ := openTemp(t)
	scope := randomScope(t)
	authors := []*author{newAuthor(t, scope), newAuthor(t, scope), newAuthor(t, scope)}
	var all []*event.Event
	for i := range 30 {
		all = append(all, authors[i%3].next(int64(1000-i), "m"))
	}
	for i := len(all) - 1; i >= 0; i-- {
		mustPut(t, s, all[i], store.PutOptions{})
	}
	// Enough of another scope's events that some of the scope's are
	// neighbours in ID order and some are far apart (stepped to, sought).
	other := newAuthor(t, randomScope(t))
	for i := range 300 {
		mustPut(t, s, other.next(int64(5+i), "noise"), store.PutOptions{})
	}
	// The oldest events of the first author go.
	if _, err := s.EvictAuthors(scope, 0, 8*int64(len(all[0].Raw))); err != nil {
		t.Fatal(err)
	}
	var got []*event.Event
	if err := s.ScopeEvents(scope, func(e *event.Event) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	held := map[event.ID]*event.Event{}
	for _, e := range all {
		if has, _ := s.HasEvent(e.ID); has {
			held[e.ID] = e
		}
	}
	if len(got) != len(held) || len(held) == len(all) {
		t.Fatalf("ScopeEvents gave %d events, %d held of %d", len(got), len(held), len(all))
	}
	for i, e := range got {
		assertSameEvent(t, e, held[e.ID])
		if i > 0 && bytes.Compare(got[i-1].ID[:], e.ID[:]) >= 0 {
			t.Fatalf("event %s after %s", e.ID, got[i-1].ID)
		}
	}
	// A damaged envelope is left out; the others still come.
	if err := s.DamageEvent(got[1].ID); err != nil {
		t.Fatal(err)
	}
	var again []event.ID
	if err := s.ScopeEvents(scope, func(e *event.Event) error { again = append(again, e.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(again) != len(got)-1 || slices.Contains(again, got[1].ID) {
		t.Fatalf("after damage to one envelope, ScopeEvents gave %d of %d events", len(again), len(got))
	}
	stop := errors.New("stop")
	n := 0
	if err := s.ScopeEvents(scope, func(*event.Event) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("ScopeEvents after an error: %d calls, %v", n, err)
	}
}
