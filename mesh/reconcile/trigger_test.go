package reconcile

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestDueMergesRequests(t *testing.T) {
	s := New(nil, Options{})
	p, q := peer.ID("p"), peer.ID("q")
	now := time.Now()

	s.wanted[p] = true
	if got := s.due(); len(got) != 1 || got[0] != p {
		t.Fatalf("a first urgent request: due = %v", got)
	}
	// p's sync has just started: another request waits for MinInterval.
	s.lastStart[p] = now
	s.wanted[p] = true
	if got := s.due(); len(got) != 0 {
		t.Fatalf("a request right after a sync: due = %v", got)
	}
	s.lastStart[p] = now.Add(-MinInterval)
	if got := s.due(); len(got) != 1 {
		t.Fatalf("after MinInterval: due = %v", got)
	}
	// A running sync absorbs requests.
	s.running[q] = true
	s.wanted[q] = true
	if got := s.due(); len(got) != 0 {
		t.Fatalf("while running: due = %v", got)
	}

	// Lazy requests: after MinInterval, but one per LazyInterval.
	r := peer.ID("r")
	s.lastStart[r] = now.Add(-MinInterval)
	s.wanted[r] = false
	if got := s.due(); len(got) != 1 || got[0] != r {
		t.Fatalf("a first lazy request: due = %v", got)
	}
	s.lastStart[r] = now.Add(-2 * MinInterval)
	s.wanted[r] = false
	if got := s.due(); len(got) != 0 {
		t.Fatalf("a second lazy request within LazyInterval: due = %v", got)
	}
	// An urgent request is not held back by the lazy interval.
	s.wanted[r] = true
	if got := s.due(); len(got) != 1 {
		t.Fatalf("an urgent request after a lazy one: due = %v", got)
	}
}

func TestTriggerNowIgnoresInterval(t *testing.T) {
	s := New(nil, Options{})
	p := peer.ID("p")
	s.lastStart[p] = time.Now()
	s.TriggerNow(p)
	if got := <-s.trigger; got != p {
		t.Fatalf("triggered %v", got)
	}
	s.wanted[p] = true
	if got := s.due(); len(got) != 1 {
		t.Fatalf("a sync asked for now waits for the interval: due = %v", got)
	}
}
