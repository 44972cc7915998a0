package store_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/banyan-mesh/banyan/store"
)

func mustTable(t testing.TB, s *store.Store, name string) *store.Table {
	t.Helper()
	tb, err := s.Table(name)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestTablePutGetScanDelete(t *testing.T) {
	s, _ := openTemp(t)
	tb := mustTable(t, s, "things")
	if _, err := tb.Get([]byte("missing")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(missing) = %v, want ErrNotFound", err)
	}
	for i := range 10 {
		if err := tb.Put(fmt.Appendf(nil, "k%02d", i), fmt.Appendf(nil, "v%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tb.Put([]byte("other"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if v, err := tb.Get([]byte("k03")); err != nil || string(v) != "v3" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	var keys []string
	scan := func(r store.Range) []string {
		keys = nil
		if err := tb.Scan(r, func(k, _ []byte) error { keys = append(keys, string(k)); return nil }); err != nil {
			t.Fatal(err)
		}
		return keys
	}
	if got := scan(store.Range{Prefix: []byte("k")}); len(got) != 10 || got[0] != "k00" || got[9] != "k09" {
		t.Fatalf("forward scan = %v", got)
	}
	if got := scan(store.Range{Prefix: []byte("k"), Reverse: true}); len(got) != 10 || got[0] != "k09" {
		t.Fatalf("reverse scan = %v", got)
	}
	if got := scan(store.Range{Prefix: []byte("k"), From: []byte("k05")}); !slices.Equal(got, []string{"k05", "k06", "k07", "k08", "k09"}) {
		t.Fatalf("scan from k05 = %v", got)
	}
	if got := scan(store.Range{Prefix: []byte("k"), From: []byte("k05"), Reverse: true}); !slices.Equal(got, []string{"k04", "k03", "k02", "k01", "k00"}) {
		t.Fatalf("reverse scan before k05 = %v", got)
	}
	n := 0
	if err := tb.Scan(store.Range{}, func(k, _ []byte) error {
		if n++; n == 3 {
			return store.ErrStop
		}
		return nil
	}); err != nil || n != 3 {
		t.Fatalf("stopped scan: n=%d, %v", n, err)
	}
	if err := tb.Delete([]byte("k00")); err != nil {
		t.Fatal(err)
	}
	if ok, err := tb.Has([]byte("k00")); err != nil || ok {
		t.Fatalf("Has(deleted) = %v, %v", ok, err)
	}
	if err := tb.DeletePrefix([]byte("k")); err != nil {
		t.Fatal(err)
	}
	if got := scan(store.Range{}); !slices.Equal(got, []string{"other"}) {
		t.Fatalf("after DeletePrefix: %v", got)
	}
}

func TestTablesAreSeparate(t *testing.T) {
	// Tables share the key space with events and with each other; one
	// table's scan never sees another's rows.
	s, _ := openTemp(t)
	a := newAuthor(t, randomScope(t))
	for i := range 5 {
		mustPut(t, s, a.next(int64(i), "m"), store.PutOptions{})
	}
	x, y := mustTable(t, s, "x"), mustTable(t, s, "y")
	if err := x.Put([]byte("k"), []byte("in x")); err != nil {
		t.Fatal(err)
	}
	if err := y.Put([]byte("k"), []byte("in y")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tb   *store.Table
		want string
	}{{x, "in x"}, {y, "in y"}} {
		var got []string
		if err := tc.tb.Scan(store.Range{}, func(_, v []byte) error { got = append(got, string(v)); return nil }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, []string{tc.want}) {
			t.Fatalf("table %s holds %q", tc.tb.Name(), got)
		}
	}
	if _, err := s.Table("x"); err == nil {
		t.Fatal("a table was opened twice")
	}
	if _, err := s.Table("Bad Name"); err == nil {
		t.Fatal("a table name with spaces and capitals was accepted")
	}
}

type record struct {
	Name string `json:"name"`
	N    int    `json:"n"`
}

func TestJSONRecords(t *testing.T) {
	s, _ := openTemp(t)
	tb := mustTable(t, s, "records")
	for i, name := range []string{"family", "school", "ünïcode 村"} {
		if err := store.PutJSON(tb, []byte{byte(i)}, record{Name: name, N: i}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := store.GetJSON[record](tb, []byte{1})
	if err != nil || r.Name != "school" || r.N != 1 {
		t.Fatalf("GetJSON = %+v, %v", r, err)
	}
	all, err := store.ListJSON[record](tb, nil)
	if err != nil || len(all) != 3 || all[2].Name != "ünïcode 村" {
		t.Fatalf("ListJSON = %v, %v", all, err)
	}
	if _, err := store.GetJSON[record](tb, []byte{9}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetJSON(missing) = %v", err)
	}
}

// A batch writes everything or nothing, and a logged record appears on
// the arrival log in order with events, with its current value.
func TestBatchAndLoggedRecords(t *testing.T) {
	s, _ := openTemp(t)
	tb := mustTable(t, s, "notes")
	boom := errors.New("boom")
	err := s.Write(func(b *store.Batch) error {
		if err := b.Put(tb, []byte("a"), []byte("1")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("failed batch = %v", err)
	}
	if ok, _ := tb.Has([]byte("a")); ok {
		t.Fatal("a failed batch wrote something")
	}
	au := newAuthor(t, randomScope(t))
	mustPut(t, s, au.next(1, "first"), store.PutOptions{})
	wake := s.Notify()
	err = s.Write(func(b *store.Batch) error {
		if err := b.Put(tb, []byte("a"), []byte("v1")); err != nil {
			return err
		}
		return b.Log(tb, []byte("a"))
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-wake:
	default:
		t.Fatal("logging a record did not wake readers")
	}
	mustPut(t, s, au.next(2, "second"), store.PutOptions{})
	// The record changes: readers see its value as it is now.
	if err := tb.Put([]byte("a"), []byte("v2")); err != nil {
		t.Fatal(err)
	}
	arr, err := s.ArrivalsSince(0, 10)
	if err != nil || len(arr) != 3 {
		t.Fatalf("ArrivalsSince = %d entries, %v", len(arr), err)
	}
	if arr[0].Event == nil || arr[2].Event == nil || arr[1].Event != nil {
		t.Fatalf("arrival kinds out of order: %+v", arr)
	}
	if arr[1].Table != "notes" || string(arr[1].Key) != "a" || string(arr[1].Value) != "v2" {
		t.Fatalf("logged record = %s %q %q", arr[1].Table, arr[1].Key, arr[1].Value)
	}
	if err := tb.Delete([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if arr, err := s.ArrivalsSince(0, 10); err != nil || len(arr) != 2 {
		t.Fatalf("after deleting the record the log has %d entries (%v), want 2", len(arr), err)
	}
}

// Table prefixes are recorded: reopened, a table finds its records again,
// whatever order the tables are opened in.
func TestCatalogSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	for _, name := range []string{"one", "two", "three"} {
		if err := mustTable(t, s, name).Put([]byte("k"), []byte(name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, dir)
	defer s.Close()
	for _, name := range []string{"three", "one", "four", "two"} {
		v, err := mustTable(t, s, name).Get([]byte("k"))
		if name == "four" {
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("new table holds %q, %v", v, err)
			}
			continue
		}
		if err != nil || string(v) != name {
			t.Fatalf("table %s after reopen = %q, %v", name, v, err)
		}
	}
}

// A store written before tables had a catalog (one-letter prefixes, and
// private messages on the arrival log by their ID) opens with its records
// where they were.
func TestMigrateFromFormat0(t *testing.T) {
	dir := t.TempDir()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	dmID := bytes.Repeat([]byte{7}, 16)
	dmKey := append([]byte("dPEER\x00"), append(binary.BigEndian.AppendUint64(nil, 1<<63+5), dmID...)...)
	err = db.Update(func(txn *badger.Txn) error {
		for k, v := range map[string]string{
			"g" + string(bytes.Repeat([]byte{1}, 16)): `{"name":"family"}`,
			"cPEER":            `{"state":"accepted"}`,
			string(dmKey):      `{"text":"hello"}`,
			"x" + string(dmID): string(dmKey),
			"l" + string(binary.BigEndian.AppendUint64(nil, 1)): "d" + string(dmID),
			"qarrival": string(binary.BigEndian.AppendUint64(nil, 1)),
		} {
			if err := txn.Set([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for round := range 2 { // the second open finds the store migrated
		s := openAt(t, dir)
		groups, contacts, dms := mustTable(t, s, "groups"), mustTable(t, s, "contacts"), mustTable(t, s, "dms")
		if v, err := groups.Get(bytes.Repeat([]byte{1}, 16)); err != nil || string(v) != `{"name":"family"}` {
			t.Fatalf("round %d: group record = %q, %v", round, v, err)
		}
		if v, err := contacts.Get([]byte("PEER")); err != nil || string(v) != `{"state":"accepted"}` {
			t.Fatalf("round %d: contact record = %q, %v", round, v, err)
		}
		// The message index names the record by its key in the table.
		if ref, err := mustTable(t, s, "dm-ids").Get(dmID); err != nil || !bytes.Equal(ref, dmKey[1:]) {
			t.Fatalf("round %d: dm index = %q, %v", round, ref, err)
		} else if v, err := dms.Get(ref); err != nil || string(v) != `{"text":"hello"}` {
			t.Fatalf("round %d: indexed dm = %q, %v", round, v, err)
		}
		arr, err := s.ArrivalsSince(0, 10)
		if err != nil || len(arr) != 1 || arr[0].Table != dms.Name() || string(arr[0].Value) != `{"text":"hello"}` {
			t.Fatalf("round %d: arrival log = %+v, %v", round, arr, err)
		}
		// New tables do not collide with the old letters.
		fresh := mustTable(t, s, fmt.Sprintf("fresh-%d", round))
		if err := fresh.Put([]byte("k"), []byte("v")); err != nil {
			t.Fatal(err)
		}
		if v, err := groups.Get(bytes.Repeat([]byte{1}, 16)); err != nil || string(v) != `{"name":"family"}` {
			t.Fatalf("round %d: a new table overwrote the groups: %q, %v", round, v, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
