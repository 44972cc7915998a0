package lists

import (
	"encoding/hex"
	"testing"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/node/lists/crdt"
)

func ptr[T any](v T) *T { return &v }

func TestDecodeOp(t *testing.T) {
	list := crdt.ID{7}
	good := []crdt.Op{
		{Stamp: crdt.Stamp{Clock: 1}, Target: crdt.ID{1}, Text: ptr("market"), Kind: ptr(crdt.Shopping)},
		{Stamp: crdt.Stamp{Clock: 2}, Target: crdt.ID{2}, List: &list, Text: ptr("rice"), Pos: ptr("V")},
		{Stamp: crdt.Stamp{Clock: 3}, Target: crdt.ID{2}, List: &list, Done: ptr(false)},
		{Stamp: crdt.Stamp{Clock: 4}, Target: crdt.ID{2}, List: &list, Delete: true},
	}
	for _, op := range good {
		b, err := encodeOp(op)
		if err != nil {
			t.Fatalf("%+v: %v", op, err)
		}
		got, err := decodeOp(b)
		if err != nil || got.Stamp.Clock != op.Stamp.Clock || got.Target != op.Target || got.Delete != op.Delete {
			t.Fatalf("round trip of %+v: %+v, %v", op, got, err)
		}
	}
	bad := map[string]any{
		"no clock":          map[int]any{2: make([]byte, 16), 4: "x"},
		"short target":      map[int]any{1: 1, 2: make([]byte, 15), 4: "x"},
		"short list":        map[int]any{1: 1, 2: make([]byte, 16), 3: make([]byte, 3), 4: "x"},
		"sets nothing":      map[int]any{1: 1, 2: make([]byte, 16)},
		"delete and text":   map[int]any{1: 1, 2: make([]byte, 16), 4: "x", 8: true},
		"explicit false":    map[int]any{1: 1, 2: make([]byte, 16), 4: "x", 8: false},
		"list with a pos":   map[int]any{1: 1, 2: make([]byte, 16), 7: "V"},
		"item with a kind":  map[int]any{1: 1, 2: make([]byte, 16), 3: make([]byte, 16), 5: 1},
		"unknown kind":      map[int]any{1: 1, 2: make([]byte, 16), 5: 9},
		"bad position":      map[int]any{1: 1, 2: make([]byte, 16), 3: make([]byte, 16), 7: "V0"},
		"line break":        map[int]any{1: 1, 2: make([]byte, 16), 4: "a\nb"},
		"unknown key":       map[int]any{1: 1, 2: make([]byte, 16), 4: "x", 9: 1},
		"long title":        map[int]any{1: 1, 2: make([]byte, 16), 4: string(make([]byte, MaxTitle+1))},
		"not a map":         []int{1, 2},
		"text of bad utf-8": map[int]any{1: 1, 2: make([]byte, 16), 4: "\xff"},
	}
	for name, v := range bad {
		b, err := crypto.CanonicalCBOR.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeOp(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// The same op in a longer encoding of its clock.
	if _, err := decodeOp([]byte{0xa2, 0x01, 0x18, 0x01, 0x02, 0x50}); err == nil {
		t.Error("non-canonical encoding accepted")
	}
}

func FuzzDecodeOp(f *testing.F) {
	list := crdt.ID{7}
	for _, op := range []crdt.Op{
		{Stamp: crdt.Stamp{Clock: 1}, Target: crdt.ID{1}, Text: ptr("market"), Kind: ptr(crdt.Todo)},
		{Stamp: crdt.Stamp{Clock: 9}, Target: crdt.ID{2}, List: &list, Text: ptr("rice"), Pos: ptr("V"), Done: ptr(true)},
		{Stamp: crdt.Stamp{Clock: 2}, Target: crdt.ID{2}, List: &list, Delete: true},
	} {
		b, err := encodeOp(op)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		op, err := decodeOp(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same bytes.
		again, err := encodeOp(op)
		if err != nil || string(again) != string(b) {
			t.Fatalf("decoded %x does not re-encode: %x, %v", b, again, err)
		}
	})
}

// The example of PROTOCOL.md section 19.2: ticking item 22…22 of list
// 07…07 at clock 5.
func TestTickVector(t *testing.T) {
	item, list := crdt.ID{}, crdt.ID{}
	for i := range item {
		item[i], list[i] = 0x22, 0x07
	}
	b, err := encodeOp(crdt.Op{Stamp: crdt.Stamp{Clock: 5}, Target: item, List: &list, Done: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	want := "a40105025022222222222222222222222222222222035007070707070707070707070707070707" + "06f5"
	if got := hex.EncodeToString(b); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
