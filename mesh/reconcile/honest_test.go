package reconcile

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// simSide is one side of a reconciliation simulated message by message,
// with the session's rules: what it last sent bounds what it accepts.
type simSide struct {
	set              memSet
	floor            Bound
	sentFP, sentIDs  int
	listed           map[event.ID]bool
	pushed, wanted   map[event.ID]bool
	reply            []Range
	replyFloor       Bound
	need             []event.ID
	requestsReceived int
}

func newSimSide(set memSet, floor Bound) *simSide {
	return &simSide{set: set, floor: floor, listed: map[event.ID]bool{}, pushed: map[event.ID]bool{}, wanted: map[event.ID]bool{}}
}

func counts(rs []Range) (fp, ids int) {
	for _, r := range rs {
		if r.Mode == ModeFingerprint {
			fp++
		}
		ids += len(r.IDs)
	}
	return fp, ids
}

// send records what the side sends this turn and returns it.
func (s *simSide) send() (msg []Range, floor Bound, wants []event.ID) {
	msg, floor, wants = s.reply, s.replyFloor, s.need
	s.sentFP, s.sentIDs = counts(msg)
	for _, r := range msg {
		for _, id := range r.IDs {
			s.listed[id] = true
		}
	}
	s.reply, s.need = nil, nil
	return msg, floor, wants
}

// receive checks the peer's turn against this side's rules, then answers
// it as the session does.
func (s *simSide) receive(t *testing.T, msg []Range, floor Bound, wants []event.ID) {
	t.Helper()
	if len(wants) > s.sentIDs {
		t.Fatalf("%d ids wanted after %d were listed", len(wants), s.sentIDs)
	}
	for _, id := range wants {
		if s.wanted[id] || s.pushed[id] || !s.listed[id] {
			t.Fatalf("id %x wanted twice, after it was sent, or never listed", id[:4])
		}
		s.wanted[id] = true
	}
	if msg == nil {
		return
	}
	c := (&scopeState{sentFP: s.sentFP}).newCheck()
	if err := c.begin(floor); err != nil {
		t.Fatal(err)
	}
	if err := c.add(msg); err != nil {
		t.Fatalf("the Go node sent a message it refuses: %v", err)
	}
	if err := c.done(); err != nil {
		t.Fatalf("the Go node sent a message it refuses: %v", err)
	}
	if floor.Compare(s.floor) < 0 {
		reply, err := Start(s.set, s.floor)
		if err != nil {
			t.Fatal(err)
		}
		s.reply, s.replyFloor = reply, s.floor
		return
	}
	res, err := Process(s.set, floor, msg)
	if err != nil {
		t.Fatal(err)
	}
	s.reply, s.replyFloor = res.Reply, floor
	if s.reply == nil && !allSkip(msg) && !(nothingListed(msg) && len(res.Have) == 0) {
		s.reply = []Range{{Upper: Bound{Inf: true}, Mode: ModeSkip}}
	}
	for _, id := range res.Have {
		if s.pushed[id] || s.wanted[id] {
			t.Fatalf("id %x pushed twice", id[:4])
		}
		s.pushed[id] = true
	}
	s.need = res.Need
}

func randomSets(rng *rand.Rand) (a, b memSet, fa, fb Bound, name string) {
	common, onlyA, onlyB := rng.IntN(3000), rng.IntN(400), rng.IntN(400)
	switch rng.IntN(4) {
	case 0:
		onlyA, onlyB = 0, 0
	case 1:
		common = rng.IntN(40)
	}
	n := common + onlyA + onlyB
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
	a = newSet(append(slices.Clone(c), as...))
	b = newSet(append(slices.Clone(c), bs...))
	// Sometimes a floor on one side or both: the bound at one of its
	// items.
	floorOf := func(s memSet) (memSet, Bound) {
		if len(s) == 0 || rng.IntN(3) > 0 {
			return s, Bound{}
		}
		i := rng.IntN(len(s))
		f := BoundAt(s[i])
		if rng.IntN(2) == 0 {
			f = Bound{Time: s[i].Time}
		}
		kept, _ := s.Items(f, Bound{Inf: true})
		return memSet(kept), f
	}
	a, fa = floorOf(a)
	b, fb = floorOf(b)
	return a, b, fa, fb, fmt.Sprintf("common %d, only a %d, only b %d, floors %v %v", common, onlyA, onlyB, fa.Time, fb.Time)
}

// Every message and want the Go node sends is one it accepts: the rules
// never refuse an honest peer.
func TestHonestMessagesKeepTheRules(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for range 300 {
		a, b, fa, fb, name := randomSets(rng)
		t.Run(name, func(t *testing.T) {
			sa, sb := newSimSide(a, fa), newSimSide(b, fb)
			msg, err := Start(a, fa)
			if err != nil {
				t.Fatal(err)
			}
			sa.reply, sa.replyFloor = msg, fa
			sides := [2]*simSide{sa, sb}
			for turn := 0; ; turn++ {
				if turn > maxTurns {
					t.Fatal("no end in sight")
				}
				from, to := sides[turn%2], sides[(turn+1)%2]
				msg, floor, wants := from.send()
				if msg == nil && len(wants) == 0 && turn > 0 {
					break
				}
				to.receive(t, msg, floor, wants)
			}
		})
	}
}

// Honest syncs between two nodes over the wire: they converge, record each
// other as holding the scope, and neither refuses anything.
func TestHonestSyncsOverTheWire(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for i := range 12 {
		a, b, fa, fb, name := randomSets(rng)
		t.Run(name, func(t *testing.T) {
			sc := scopeOf(i)
			mk := func(s memSet, f Bound) *testStore {
				st := newTestStore()
				ts := &testScope{floor: f, envs: map[event.ID][]byte{}}
				st.scopes[sc] = ts
				for _, it := range s {
					// The same item becomes the same event on both sides.
					raw, it2 := fakeEnvelope(it.Time, 100+int(it.ID[0]), binary.LittleEndian.Uint64(it.ID[:]))
					if f.Below(it2) {
						continue
					}
					ts.envs[it2.ID] = raw
					ts.items = append(ts.items, it2)
				}
				slices.SortFunc(ts.items, Item.Compare)
				// A second scope only this side keeps.
				st.addScope(scopeOf(100+i), 40, 100, rng.Uint64())
				return st
			}
			na, nb := startNode(t, mk(a, fa)), startNode(t, mk(b, fb))
			connect(t, na.h, nb.h)
			stats, err := na.s.SyncPeer(t.Context(), nb.h.ID())
			if err != nil {
				t.Fatal(err)
			}
			high := fa
			if fb.Compare(fa) > 0 {
				high = fb
			}
			above := func(st *testStore) []event.ID {
				st.mu.Lock()
				defer st.mu.Unlock()
				items, _ := st.scopes[sc].items.Items(high, Bound{Inf: true})
				var out []event.ID
				for _, it := range items {
					out = append(out, it.ID)
				}
				return dedup(out)
			}
			if ia, ib := above(na.st), above(nb.st); !slices.Equal(ia, ib) {
				t.Errorf("after the sync: %d and %d events above the higher floor", len(ia), len(ib))
			}
			for _, n := range []*node{na, nb} {
				if c := n.s.Counters(); len(c.Malformed) > 0 || c.Refused > 0 {
					t.Errorf("an honest sync was refused: %+v", c)
				}
			}
			// Each side records the other as holding the scope if the
			// reconciliation ran from its own floor.
			if fb.Compare(fa) >= 0 {
				waitFor(t, "the responder to record the sync", func() bool { return nb.st.syncedWith(sc, na.h.ID()) })
			}
			if fb.Compare(fa) <= 0 && !na.st.syncedWith(sc, nb.h.ID()) {
				t.Errorf("the initiator did not record the responder as holding the scope (%d rounds)", stats.Rounds)
			}
		})
	}
}

// split describes items with bounds that strictly increase and end at the
// range's upper bound, and ID lists of at most idListMax IDs.
func TestSplitKeepsTheRules(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{0, 1, 31, 32, 33, 100, 1000, 5000} {
		var items []Item
		for range n {
			items = append(items, item(rng, n))
		}
		set := newSet(items)
		for _, upper := range []Bound{{Inf: true}, {Time: ^uint64(0)}} {
			rs := split(set, upper)
			msg := rs
			if !upper.Inf {
				msg = append(slices.Clone(rs), Range{Upper: Bound{Inf: true}})
			}
			if err := checkMessage(Bound{}, msg); err != nil {
				t.Errorf("%d items up to %v: %v", n, upper, err)
			}
			if rs[len(rs)-1].Upper.Compare(upper) != 0 || len(rs) > branches {
				t.Errorf("%d items: %d ranges ending at %v", n, len(rs), rs[len(rs)-1].Upper)
			}
		}
	}
}
