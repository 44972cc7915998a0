package reconcile

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// memSet is a Set held in a sorted slice.
type memSet []Item

func (s memSet) Items(lo, hi Bound) ([]Item, error) {
	i := sort.Search(len(s), func(i int) bool { return !lo.Below(s[i]) })
	j := sort.Search(len(s), func(j int) bool { return !hi.Below(s[j]) })
	if j < i {
		return nil, nil
	}
	return s[i:j], nil
}

func newSet(items []Item) memSet {
	s := slices.Clone(items)
	slices.SortFunc(s, Item.Compare)
	return memSet(s)
}

func item(rng *rand.Rand, n int) Item {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rng.Uint64())
	// Few distinct times, so equal times (and ID-prefix bounds) are common.
	return Item{Time: uint64(1000 + rng.IntN(n/4+1)), ID: event.ID(sha256.Sum256(b[:]))}
}

// twoSets returns two sets with common items in common, and onlyA and
// onlyB items of their own, drawn in that order with item(rng, n).
func twoSets(rng *rand.Rand, n, common, onlyA, onlyB int) (a, b memSet) {
	var c, as, bs []Item
	for range common {
		c = append(c, item(rng, n))
	}
	for range onlyA {
		as = append(as, item(rng, n))
	}
	for range onlyB {
		bs = append(bs, item(rng, n))
	}
	return newSet(append(slices.Clone(c), as...)), newSet(append(slices.Clone(c), bs...))
}

// run reconciles a (initiator) with b and returns what each side found it
// has that the other lacks, and the number of messages exchanged.
func run(t *testing.T, a, b memSet) (aHave, bHave []event.ID, msgs int) {
	t.Helper()
	floor := Bound{}
	msg, err := Start(a, floor)
	if err != nil {
		t.Fatal(err)
	}
	sides := []memSet{b, a}
	have := [2][]event.ID{}
	need := [2][]event.ID{}
	for turn := 0; msg != nil; turn++ {
		if turn > 100 {
			t.Fatal("reconciliation does not terminate")
		}
		msgs++
		res, err := Process(sides[turn%2], floor, msg)
		if err != nil {
			t.Fatal(err)
		}
		have[turn%2] = append(have[turn%2], res.Have...)
		need[turn%2] = append(need[turn%2], res.Need...)
		msg = res.Reply
	}
	// What one side needs the other has: both views must agree.
	bHave = append(have[0], need[1]...)
	aHave = append(have[1], need[0]...)
	return dedup(aHave), dedup(bHave), msgs
}

func dedup(ids []event.ID) []event.ID {
	slices.SortFunc(ids, func(x, y event.ID) int { return slices.Compare(x[:], y[:]) })
	return slices.Compact(ids)
}

func minus(a, b memSet) []event.ID {
	in := map[event.ID]bool{}
	for _, it := range b {
		in[it.ID] = true
	}
	var out []event.ID
	for _, it := range a {
		if !in[it.ID] {
			out = append(out, it.ID)
		}
	}
	return dedup(out)
}

func TestReconcileFindsExactDifference(t *testing.T) {
	for _, tc := range []struct{ common, onlyA, onlyB int }{
		{0, 0, 0}, {0, 5, 0}, {0, 0, 5}, {10, 0, 0}, {1000, 0, 0},
		{1000, 1, 0}, {1000, 0, 1}, {1000, 17, 23}, {5000, 3000, 0},
		{0, 3000, 2000}, {20000, 100, 100}, {33, 0, 0}, {32, 1, 1},
	} {
		t.Run(fmt.Sprintf("%d/%d/%d", tc.common, tc.onlyA, tc.onlyB), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.common), uint64(tc.onlyA*7+tc.onlyB)))
			a, b := twoSets(rng, tc.common+tc.onlyA+tc.onlyB, tc.common, tc.onlyA, tc.onlyB)
			aHave, bHave, msgs := run(t, a, b)
			if !slices.Equal(aHave, minus(a, b)) {
				t.Errorf("a has %d the b lacks, reconciliation found %d", len(minus(a, b)), len(aHave))
			}
			if !slices.Equal(bHave, minus(b, a)) {
				t.Errorf("b has %d the a lacks, reconciliation found %d", len(minus(b, a)), len(bHave))
			}
			if tc.onlyA == 0 && tc.onlyB == 0 && msgs != 1 {
				t.Errorf("equal sets took %d messages, want 1", msgs)
			}
		})
	}
}

func TestReconcileFloor(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var old, recent []Item
	for range 100 {
		it := item(rng, 400)
		it.Time = 10
		old = append(old, it)
	}
	for range 50 {
		recent = append(recent, item(rng, 400))
	}
	a := newSet(append(slices.Clone(old), recent...))
	b := newSet(recent)
	floor := Bound{Time: 100}
	msg, err := Start(a, floor)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Process(b, floor, msg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Reply != nil || len(res.Have)+len(res.Need) != 0 {
		t.Fatalf("sets equal above the floor were not found equal: %+v", res)
	}
}

func TestBoundBetween(t *testing.T) {
	a := Item{Time: 5, ID: event.ID{1, 2, 3}}
	b := Item{Time: 5, ID: event.ID{1, 2, 4}}
	c := Item{Time: 6, ID: event.ID{0}}
	for _, pair := range [][2]Item{{a, b}, {b, c}, {a, c}} {
		bd := between(pair[0], pair[1])
		if !bd.Below(pair[0]) || bd.Below(pair[1]) {
			t.Errorf("bound %+v does not separate %v and %v", bd, pair[0], pair[1])
		}
	}
	if len(between(a, b).Prefix) != 3 || len(between(b, c).Prefix) != 0 {
		t.Error("bounds are not minimal")
	}
}
