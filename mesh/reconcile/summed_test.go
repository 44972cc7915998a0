package reconcile

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"testing"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// sumSet is a memSet that keeps the sum below each position. With noise
// set, a share of its answers are wrong, as a store's sums are for a
// moment when the set changes between two reads.
type sumSet struct {
	memSet
	prefix []Sum
	noise  *rand.Rand
	calls  int
}

func newSumSet(s memSet) *sumSet {
	p := make([]Sum, len(s)+1)
	for i, it := range s {
		p[i+1] = p[i]
		p[i+1].Add(it.ID)
	}
	return &sumSet{memSet: s, prefix: p}
}

func (s *sumSet) lie() bool { return s.noise != nil && s.noise.IntN(4) == 0 }

func (s *sumSet) Below(b Bound) (Sum, bool, error) {
	s.calls++
	i := sort.Search(len(s.memSet), func(i int) bool { return !b.Below(s.memSet[i]) })
	sum := s.prefix[i]
	if s.lie() {
		switch s.noise.IntN(3) {
		case 0:
			return Sum{}, false, nil
		case 1:
			sum.Count += uint64(s.noise.IntN(3))
		default:
			sum = s.prefix[s.noise.IntN(len(s.prefix))]
		}
	}
	return sum, true, nil
}

func (s *sumSet) At(r uint64) (prev, it Item, below Sum, ok bool, err error) {
	s.calls++
	if r == 0 || r >= uint64(len(s.memSet)) {
		return Item{}, Item{}, Sum{}, false, nil
	}
	if s.lie() {
		r = uint64(1 + s.noise.IntN(len(s.memSet)-1))
	}
	return s.memSet[r-1], s.memSet[r], s.prefix[r], true, nil
}

// exchange reconciles a (initiator) with b and returns every message, and
// what each side found the other lacks.
func exchange(t *testing.T, a, b Set) (msgs [][]Range, have, need [2][]event.ID) {
	t.Helper()
	msg, err := Start(a, Bound{})
	if err != nil {
		t.Fatal(err)
	}
	sides := []Set{b, a}
	for turn := 0; msg != nil; turn++ {
		if turn > 100 {
			t.Fatal("reconciliation does not terminate")
		}
		if err := checkMessage(Bound{}, msg); err != nil {
			t.Fatalf("turn %d: malformed message: %v", turn, err)
		}
		msgs = append(msgs, msg)
		res, err := Process(sides[turn%2], Bound{}, msg)
		if err != nil {
			t.Fatal(err)
		}
		have[turn%2] = append(have[turn%2], res.Have...)
		need[turn%2] = append(need[turn%2], res.Need...)
		msg = res.Reply
	}
	for i := range have {
		slices.SortFunc(have[i], func(x, y event.ID) int { return slices.Compare(x[:], y[:]) })
		slices.SortFunc(need[i], func(x, y event.ID) int { return slices.Compare(x[:], y[:]) })
	}
	return msgs, have, need
}

// Sums make the very messages that reading the items makes.
func TestSummedSameMessages(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct{ common, onlyA, onlyB int }{
		{minSummed, 0, 0}, {30000, 0, 0}, {30000, 1, 0}, {20000, 50, 70}, {20000, 3000, 0}, {9000, 9000, 9000}, {100, 9000, 0},
	} {
		t.Run(fmt.Sprintf("%d+%d+%d", tc.common, tc.onlyA, tc.onlyB), func(t *testing.T) {
			n := tc.common + tc.onlyA + tc.onlyB
			pa, pb := twoSets(rng, n, tc.common, tc.onlyA, tc.onlyB)
			sa, sb := newSumSet(pa), newSumSet(pb)
			wantMsgs, wantHave, wantNeed := exchange(t, pa, pb)
			gotMsgs, gotHave, gotNeed := exchange(t, sa, sb)
			if !reflect.DeepEqual(gotMsgs, wantMsgs) {
				t.Fatalf("messages differ with sums: %d messages, want %d", len(gotMsgs), len(wantMsgs))
			}
			if !reflect.DeepEqual(gotHave, wantHave) || !reflect.DeepEqual(gotNeed, wantNeed) {
				t.Fatal("sums found other differences than the items")
			}
			// What only a holds, a offers or b asks for; and the other way.
			onlyA, onlyB := distinct(gotHave[1], gotNeed[0]), distinct(gotHave[0], gotNeed[1])
			if onlyA != tc.onlyA || onlyB != tc.onlyB {
				t.Fatalf("found %d and %d missing, want %d and %d", onlyA, onlyB, tc.onlyA, tc.onlyB)
			}
			if n >= minSummed && sa.calls == 0 {
				t.Fatal("the sums were not used")
			}
		})
	}
}

// Sums that are wrong for a moment cost messages, never a wrong result
// nor a malformed message.
func TestSummedNoise(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for round := range 6 {
		pa, pb := twoSets(rng, 12000, 12000, round*37, round*11)
		_, wantHave, wantNeed := exchange(t, pa, pb)
		sa, sb := newSumSet(pa), newSumSet(pb)
		sa.noise, sb.noise = rand.New(rand.NewPCG(uint64(round), 1)), rand.New(rand.NewPCG(uint64(round), 2))
		_, gotHave, gotNeed := exchange(t, sa, sb)
		if !reflect.DeepEqual(gotHave, wantHave) || !reflect.DeepEqual(gotNeed, wantNeed) {
			t.Fatalf("round %d: noisy sums found other differences than the items", round)
		}
	}
}

func distinct(lists ...[]event.ID) int {
	seen := map[event.ID]bool{}
	for _, l := range lists {
		for _, id := range l {
			seen[id] = true
		}
	}
	return len(seen)
}
