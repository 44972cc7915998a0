package crdt_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"testing"

	"github.com/banyan-mesh/banyan/node/lists/crdt"
)

// replica is one person editing offline: it makes operations from what its
// own doc shows, as a user would.
type replica struct {
	doc    crdt.Doc
	author [32]byte
	seq    uint64
	rng    *rand.Rand
}

func newReplica(n byte, rng *rand.Rand) *replica {
	return &replica{author: [32]byte{n}, rng: rng}
}

func (r *replica) stamp() crdt.Stamp {
	r.seq++
	var ev [32]byte
	for i := range ev {
		ev[i] = byte(r.rng.UintN(256))
	}
	return crdt.Stamp{Clock: r.doc.Clock() + 1, Author: r.author, Seq: r.seq, Event: ev}
}

func (r *replica) newID() crdt.ID {
	var id crdt.ID
	for i := range id {
		id[i] = byte(r.rng.UintN(256))
	}
	return id
}

func ptr[T any](v T) *T { return &v }

// next makes one random operation and applies it locally.
func (r *replica) next(t testing.TB) crdt.Op {
	lists := r.doc.Lists()
	op := crdt.Op{Stamp: r.stamp()}
	switch k := r.rng.IntN(100); {
	case len(lists) == 0 || k < 5:
		op.Target, op.Text, op.Kind = r.newID(), ptr(fmt.Sprintf("list %d", r.rng.IntN(5))), ptr(crdt.Kind(1+r.rng.IntN(2)))
	case k < 7:
		op.Target, op.Delete = lists[r.rng.IntN(len(lists))].ID, true
	default:
		l := lists[r.rng.IntN(len(lists))]
		op.List = &l.ID
		if len(l.Items) == 0 || k < 40 {
			op.Target, op.Text, op.Pos = r.newID(), ptr(fmt.Sprintf("item %d", r.rng.IntN(1000))), ptr(r.place(t, l.Items, -1))
			break
		}
		i := r.rng.IntN(len(l.Items))
		op.Target = l.Items[i].ID
		switch k % 5 {
		case 0:
			op.Text = ptr(fmt.Sprintf("edited %d", r.rng.IntN(1000)))
		case 1:
			op.Done = ptr(!l.Items[i].Done)
		case 2, 3:
			op.Pos = ptr(r.place(t, l.Items, i))
		case 4:
			op.Delete = true
		}
	}
	r.doc.Apply(op)
	return op
}

// place returns a random position among items, leaving out item skip.
func (r *replica) place(t testing.TB, items []crdt.Item, skip int) string {
	if skip >= 0 {
		items = slices.Delete(slices.Clone(items), skip, skip+1)
	}
	at := r.rng.IntN(len(items) + 1)
	var a, b string
	if at > 0 {
		a = items[at-1].Pos
	}
	if at < len(items) {
		b = items[at].Pos
	}
	if a == b {
		// Concurrent inserts can share a position; go just after it.
		b = ""
		for _, it := range items[at:] {
			if it.Pos > a {
				b = it.Pos
				break
			}
		}
	}
	p, err := crdt.Between(a, b)
	if err != nil {
		t.Fatalf("between %q and %q: %v", a, b, err)
	}
	return p
}

// session runs three replicas that make n operations offline and now and
// then hear a random part of what the others wrote, in a random order; at
// the end each hears everything, in its own order.
func session(t testing.TB, seed uint64, n int) ([]*replica, []crdt.Op) {
	rng := rand.New(rand.NewPCG(seed, 7))
	rs := []*replica{newReplica(1, rng), newReplica(2, rng), newReplica(3, rng)}
	var all []crdt.Op
	for len(all) < n {
		r := rng.IntN(len(rs))
		if rng.IntN(4) == 0 && len(all) > 0 {
			// Hear a random handful, out of order, maybe twice.
			for range 1 + rng.IntN(8) {
				rs[r].doc.Apply(all[rng.IntN(len(all))])
			}
			continue
		}
		all = append(all, rs[r].next(t))
	}
	for _, r := range rs {
		for _, i := range rng.Perm(len(all)) {
			r.doc.Apply(all[i])
		}
	}
	return rs, all
}

// reference applies ops one by one in stamp order: the sequential meaning
// that every merge must agree with.
func reference(ops []crdt.Op) []crdt.List {
	sorted := slices.Clone(ops)
	slices.SortFunc(sorted, func(a, b crdt.Op) int { return a.Stamp.Compare(b.Stamp) })
	var d crdt.Doc
	for _, op := range sorted {
		d.Apply(op)
	}
	return d.Lists()
}

func TestConcurrentEditsConverge(t *testing.T) {
	for seed := range uint64(300) {
		rs, ops := session(t, seed, 200)
		want := reference(ops)
		for i, r := range rs {
			if got := r.doc.Lists(); !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d: replica %d differs from the stamp-order merge:\n got %+v\nwant %+v", seed, i, got, want)
			}
		}
		checkNothingLost(t, seed, ops, want)
	}
}

// checkNothingLost checks every live item and list against the operations:
// each field holds what its last writer wrote, and nothing that was added
// and never deleted is missing.
func checkNothingLost(t *testing.T, seed uint64, ops []crdt.Op, lists []crdt.List) {
	type last struct {
		text, pos    *string
		done         *bool
		list         *crdt.ID
		ts, tp, td   crdt.Stamp
		tl           crdt.Stamp
		deleted, add bool
	}
	objs := map[crdt.ID]*last{}
	for _, op := range ops {
		o := objs[op.Target]
		if o == nil {
			o = &last{}
			objs[op.Target] = o
		}
		o.deleted = o.deleted || op.Delete
		if op.Text != nil && op.Stamp.Compare(o.ts) > 0 {
			o.text, o.ts = op.Text, op.Stamp
		}
		if op.Pos != nil && op.Stamp.Compare(o.tp) > 0 {
			o.pos, o.tp = op.Pos, op.Stamp
		}
		if op.Done != nil && op.Stamp.Compare(o.td) > 0 {
			o.done, o.td = op.Done, op.Stamp
		}
		if op.List != nil && op.Stamp.Compare(o.tl) > 0 {
			o.list, o.tl = op.List, op.Stamp
		}
	}
	seen := map[crdt.ID]bool{}
	for _, l := range lists {
		seen[l.ID] = true
		if o := objs[l.ID]; o.deleted || *o.text != l.Title {
			t.Fatalf("seed %d: list %x reads %q, last written %q (deleted %v)", seed, l.ID, l.Title, *o.text, o.deleted)
		}
		for _, it := range l.Items {
			seen[it.ID] = true
			o := objs[it.ID]
			if o.deleted || *o.text != it.Text || *o.pos != it.Pos || *o.list != l.ID || (o.done != nil && *o.done != it.Done) {
				t.Fatalf("seed %d: item %x = %+v does not hold its last writes", seed, it.ID, it)
			}
		}
	}
	for id, o := range objs {
		live := !o.deleted && o.text != nil
		if o.list != nil {
			live = live && !objs[*o.list].deleted
		}
		if live && !seen[id] {
			t.Fatalf("seed %d: %x was added, never deleted, and is missing", seed, id)
		}
	}
}

func TestApplyIsIdempotent(t *testing.T) {
	_, ops := session(t, 42, 300)
	var once, twice crdt.Doc
	for _, op := range ops {
		once.Apply(op)
		twice.Apply(op)
		twice.Apply(op)
	}
	for _, op := range slices.Backward(ops) {
		twice.Apply(op)
	}
	if !reflect.DeepEqual(once.Lists(), twice.Lists()) {
		t.Fatal("applying operations again changed the document")
	}
	if len(once.Lists()) == 0 {
		t.Fatal("the session made no lists")
	}
}

func TestTombstoneIsPermanent(t *testing.T) {
	var d crdt.Doc
	list, item := crdt.ID{1}, crdt.ID{2}
	d.Apply(crdt.Op{Stamp: crdt.Stamp{Clock: 1}, Target: list, Text: ptr("shopping")})
	// The edit comes after the delete by stamp, but the delete arrived
	// first: the item stays deleted.
	d.Apply(crdt.Op{Stamp: crdt.Stamp{Clock: 3}, Target: item, List: &list, Delete: true})
	d.Apply(crdt.Op{Stamp: crdt.Stamp{Clock: 4}, Target: item, List: &list, Text: ptr("rice"), Pos: ptr("V")})
	d.Apply(crdt.Op{Stamp: crdt.Stamp{Clock: 2}, Target: item, List: &list, Text: ptr("oil"), Pos: ptr("V")})
	if got := d.Lists(); len(got) != 1 || len(got[0].Items) != 0 {
		t.Fatalf("deleted item is back: %+v", got)
	}
	if !d.Deleted(item) {
		t.Fatal("item not tombstoned")
	}
	if _, live := d.Text(item); live {
		t.Fatal("a deleted item is live")
	}
	if title, ok := d.Text(list); !ok || title != "shopping" {
		t.Fatalf("the list reads %q, %v", title, ok)
	}
}

func TestBetweenKeepsOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var ps []string
	for range 2000 {
		at := rng.IntN(len(ps) + 1)
		if rng.IntN(3) == 0 {
			at = 0 // many inserts at the front lengthen positions
		}
		var a, b string
		if at > 0 {
			a = ps[at-1]
		}
		if at < len(ps) {
			b = ps[at]
		}
		p, err := crdt.Between(a, b)
		if err != nil {
			t.Fatalf("between %q and %q: %v", a, b, err)
		}
		if !crdt.ValidPos(p) || p <= a || (b != "" && p >= b) {
			t.Fatalf("between %q and %q gave %q", a, b, p)
		}
		ps = slices.Insert(ps, at, p)
	}
	for _, bad := range [][2]string{{"b", "a"}, {"a", "a"}, {"a0", ""}, {"", "a-"}} {
		if _, err := crdt.Between(bad[0], bad[1]); err == nil {
			t.Errorf("between %q and %q: no error", bad[0], bad[1])
		}
	}
}

// BenchmarkMerge10k merges 10,000 operations made concurrently by three
// replicas that never met, in a random order, into a fresh replica.
func BenchmarkMerge10k(b *testing.B) {
	_, ops := session(b, 99, 10_000)
	rng := rand.New(rand.NewPCG(3, 4))
	rng.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })
	merge := func() *crdt.Doc {
		var d crdt.Doc
		for _, op := range ops {
			d.Apply(op)
		}
		if len(d.Lists()) == 0 {
			b.Fatal("no lists")
		}
		return &d
	}
	// What the merged document keeps in memory, beside what merging
	// allocates on the way.
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	d := merge()
	runtime.GC()
	runtime.ReadMemStats(&after)
	kept, objects := after.HeapAlloc-before.HeapAlloc, d.Len()
	runtime.KeepAlive(d)
	b.ReportAllocs()
	for b.Loop() {
		merge()
	}
	b.ReportMetric(float64(kept), "kept-B")
	b.ReportMetric(float64(objects), "objects")
}
