// Package crdt is the replicated data type behind shared lists: a set of
// lists and their items, each with an ID, whose fields are last-writer-wins
// registers, ordered by fractional positions, and removed by tombstones.
// Applying the same operations in any order, any number of times, gives the
// same document. It does no I/O: the lists feature feeds it decoded events.
package crdt

import (
	"bytes"
	"cmp"
	"slices"
)

// IDSize is the size of a list's or an item's ID.
const IDSize = 16

// ID names a list or an item: random, chosen by whoever creates it.
type ID [IDSize]byte

// Stamp orders operations: a Lamport clock, then the author's key and
// sequence number, then the event's ID, so that two different operations
// never tie (an author who forks its chain still gets one order).
type Stamp struct {
	Clock  uint64
	Author [32]byte
	Seq    uint64
	Event  [32]byte
}

// Compare orders stamps: the greater one wins a field.
func (s Stamp) Compare(o Stamp) int {
	if c := cmp.Compare(s.Clock, o.Clock); c != 0 {
		return c
	}
	if c := bytes.Compare(s.Author[:], o.Author[:]); c != 0 {
		return c
	}
	if c := cmp.Compare(s.Seq, o.Seq); c != 0 {
		return c
	}
	return bytes.Compare(s.Event[:], o.Event[:])
}

// Kind says what a list is for; it changes only how it is shown.
type Kind uint8

// List kinds.
const (
	Todo     Kind = 1
	Shopping Kind = 2
)

// Op is one operation: it sets some fields of one list or item. A field
// left nil is not touched. An op with List set is about an item of that
// list; without, about a list.
type Op struct {
	Stamp  Stamp
	Target ID
	List   *ID
	Text   *string // a list's title or an item's text
	Kind   *Kind   // lists only
	Done   *bool   // items only
	Pos    *string // items only: a fractional position (Between)
	Delete bool    // a tombstone: the target is gone for good
}

type register[T any] struct {
	v T
	s Stamp
	// set is false until some op has set the field.
	set bool
}

// offer sets the register if s wins over what it holds.
func (r *register[T]) offer(v *T, s Stamp) {
	if v == nil || (r.set && s.Compare(r.s) <= 0) {
		return
	}
	r.v, r.s, r.set = *v, s, true
}

type object struct {
	list    register[ID]
	text    register[string]
	kind    register[Kind]
	done    register[bool]
	pos     register[string]
	deleted bool
	item    bool
}

// Doc is a replica of a scope's lists. The zero value is empty and ready.
type Doc struct {
	objs  map[ID]*object
	clock uint64
}

// Clock returns the highest clock seen; a new operation takes Clock()+1,
// so that it wins over everything its author has seen.
func (d *Doc) Clock() uint64 { return d.clock }

// Apply merges one operation. Applying is commutative, associative and
// idempotent: a field holds the value of the greatest stamp that set it,
// and a tombstone is permanent.
func (d *Doc) Apply(op Op) {
	if d.objs == nil {
		d.objs = map[ID]*object{}
	}
	d.clock = max(d.clock, op.Stamp.Clock)
	o := d.objs[op.Target]
	if o == nil {
		o = &object{}
		d.objs[op.Target] = o
	}
	if op.Delete {
		// A tombstone keeps only that the target existed, so that late
		// edits do not bring it back, and its last text, to say what
		// was removed.
		*o = object{deleted: true, item: o.item || op.List != nil, text: o.text}
		return
	}
	if o.deleted {
		return
	}
	o.item = o.item || op.List != nil
	o.list.offer(op.List, op.Stamp)
	o.text.offer(op.Text, op.Stamp)
	o.kind.offer(op.Kind, op.Stamp)
	o.done.offer(op.Done, op.Stamp)
	o.pos.offer(op.Pos, op.Stamp)
}

// List is a list as it reads now.
type List struct {
	ID    ID
	Title string
	Kind  Kind
	Items []Item
}

// Item is an item as it reads now.
type Item struct {
	ID   ID
	Text string
	Done bool
	Pos  string
}

// Lists returns the live lists in order of title (then ID), each with its live
// items in order of position (then ID, where two share one).
func (d *Doc) Lists() []List {
	byList := map[ID][]Item{}
	var out []List
	for id, o := range d.objs {
		if o.deleted || !o.text.set {
			continue
		}
		if o.item {
			if o.list.set {
				byList[o.list.v] = append(byList[o.list.v], Item{ID: id, Text: o.text.v, Done: o.done.v, Pos: o.pos.v})
			}
			continue
		}
		out = append(out, List{ID: id, Title: o.text.v, Kind: cmp.Or(o.kind.v, Todo)})
	}
	for i := range out {
		items := byList[out[i].ID]
		slices.SortFunc(items, func(a, b Item) int {
			return cmp.Or(cmp.Compare(a.Pos, b.Pos), bytes.Compare(a.ID[:], b.ID[:]))
		})
		out[i].Items = items
	}
	slices.SortFunc(out, func(a, b List) int {
		return cmp.Or(cmp.Compare(a.Title, b.Title), bytes.Compare(a.ID[:], b.ID[:]))
	})
	return out
}

// Text returns the title of a list or the text of an item, in constant
// time, and whether it is live. A removed one reads as it last read here,
// which depends on what this replica had heard when it was removed: for
// saying what was removed, never for the lists themselves.
func (d *Doc) Text(id ID) (text string, live bool) {
	o := d.objs[id]
	if o == nil || !o.text.set {
		return "", false
	}
	return o.text.v, !o.deleted
}

// Deleted says whether id is tombstoned.
func (d *Doc) Deleted(id ID) bool {
	o := d.objs[id]
	return o != nil && o.deleted
}

// Len returns how many lists and items (tombstones too) the doc holds.
func (d *Doc) Len() int { return len(d.objs) }
