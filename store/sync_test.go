package store_test

import (
	"slices"
	"testing"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/store"
)

func TestMissingCountsGapsInChains(t *testing.T) {
	s, _ := openTemp(t)
	scope := randomScope(t)
	a, b := newAuthor(t, scope), newAuthor(t, scope)
	var aEvents []*event.Event
	for i := range 10 {
		aEvents = append(aEvents, a.next(int64(i), "a"))
	}
	// a's 3rd and 7th are missing; b's first two never arrived (a late
	// joiner cannot know of them).
	for i, e := range aEvents {
		if i != 2 && i != 6 {
			mustPut(t, s, e, store.PutOptions{})
		}
	}
	b.next(1, "b")
	b.next(2, "b")
	mustPut(t, s, b.next(3, "b"), store.PutOptions{})
	n, err := s.Missing(scope)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("Missing = %d, want 2", n)
	}
	mustPut(t, s, aEvents[2], store.PutOptions{})
	mustPut(t, s, aEvents[6], store.PutOptions{})
	if n, _ := s.Missing(scope); n != 0 {
		t.Fatalf("Missing after the gaps filled = %d", n)
	}
}

func TestPrune(t *testing.T) {
	s, _ := openTemp(t)
	scope, other := randomScope(t), randomScope(t)
	a := newAuthor(t, scope)
	var all []*event.Event
	for i := range 50 {
		e := a.next(int64(1000+i), "some text to take space")
		mustPut(t, s, e, store.PutOptions{})
		all = append(all, e)
	}
	o := newAuthor(t, other)
	mustPut(t, s, o.next(1, "elsewhere"), store.PutOptions{})

	// By age: everything before time 1010 goes.
	n, floor, err := s.Prune(scope, 1010, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n != 10 || floor != store.CursorOf(all[10]) {
		t.Fatalf("pruned %d, floor %+v; want 10 and the 11th event", n, floor)
	}
	// By size: keep at most a fifth of what is left.
	size, err := s.ScopeBytes(scope)
	if err != nil {
		t.Fatal(err)
	}
	quota := size / 5
	keep, used := 0, int64(0)
	for i := len(all) - 1; i >= 0 && used+int64(len(all[i].Raw)) <= quota; i-- {
		used += int64(len(all[i].Raw))
		keep++
	}
	if _, _, err := s.Prune(scope, 0, quota); err != nil {
		t.Fatal(err)
	}
	left, _, err := s.History(scope, store.Cursor{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if keep < 5 || !slices.Equal(ids(left), ids(all[len(all)-keep:])) {
		t.Fatalf("after the quota %d events left, want the newest %d", len(left), keep)
	}
	for _, e := range all[:len(all)-keep] {
		if has, _ := s.HasEvent(e.ID); has {
			t.Fatalf("pruned event %s still stored", e.ID)
		}
	}
	if got, _, _ := s.History(other, store.Cursor{}, 10); len(got) != 1 {
		t.Fatal("pruning one scope touched another")
	}
	if n, _ := s.Missing(scope); n != 0 {
		t.Fatalf("pruning made %d events look missing", n)
	}
}
