package wallet

import (
	"testing"

	"github.com/banyan-mesh/banyan/crypto/event"
)

func TestReferrers(t *testing.T) {
	r := newReferrers()
	id := func(b byte) (x event.ID) {
		x[0], x[31] = b, ^b
		return x
	}
	payment, envelope, claim := id(1), id(2), id(3)
	if r.any(payment) {
		t.Fatal("an empty index has a referrer")
	}
	receipt := &node{id: id(10), en: entry{Ref: payment, extra: noExtra}}
	r.add(receipt)
	// Many entries may refer to one: each is found, once.
	var claims []*node
	for i := range 1000 {
		c := &node{en: entry{Ref: envelope, extra: noExtra}}
		c.id[0], c.id[1], c.id[2] = 20, byte(i), byte(i>>8)
		claims = append(claims, c)
		r.add(c)
	}
	// A settlement refers to its envelope and to each claim.
	settle := &node{id: id(30), en: entry{Ref: envelope, extra: &extra{refs: []event.ID{envelope, claim}}}}
	r.add(settle)
	none := &node{id: id(40), en: entry{extra: noExtra}}
	r.add(none)

	collect := func(x event.ID) map[*node]int {
		got := map[*node]int{}
		for n := range r.of(x) {
			got[n]++
		}
		return got
	}
	if got := collect(payment); len(got) != 1 || got[receipt] != 1 {
		t.Errorf("referrers of the payment: %v, want the receipt once", got)
	}
	got := collect(envelope)
	if len(got) != len(claims)+1 || got[settle] != 1 {
		t.Errorf("the envelope has %d referrers (the settlement %d times), want %d and once", len(got), got[settle], len(claims)+1)
	}
	for _, c := range claims {
		if got[c] != 1 {
			t.Fatalf("claim %x yielded %d times, want once", c.id[:3], got[c])
		}
	}
	if got := collect(claim); len(got) != 1 || got[settle] != 1 {
		t.Errorf("referrers of the claim: %v, want the settlement once", got)
	}
	if r.any(event.ID{}) || r.any(id(99)) || !r.any(claim) || !r.any(envelope) {
		t.Error("any is wrong")
	}
	// A loop that stops early stops the iteration.
	n := 0
	for range r.of(envelope) {
		if n++; n == 3 {
			break
		}
	}
	if n != 3 {
		t.Errorf("stopped after %d, want 3", n)
	}
}
