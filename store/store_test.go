package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/store"
)

func testGroup(t *testing.T, name string, b byte) *store.Group {
	t.Helper()
	key, err := crypto.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	g := &store.Group{Name: name, Key: key, Joined: time.Date(2025, 6, 1, 12, 0, 0, int(b), time.UTC)}
	for i := range g.ID {
		g.ID[i] = b
	}
	return g
}

func assertGroup(t *testing.T, got, want *store.Group) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || got.Key != want.Key ||
		!got.Joined.Equal(want.Joined) || got.ReadUpTo != want.ReadUpTo {
		t.Fatalf("group = %+v, want %+v", got, want)
	}
}

func TestGroups(t *testing.T) {
	s, _ := openTemp(t)
	if gs, err := s.Groups(); err != nil || len(gs) != 0 {
		t.Fatalf("Groups on an empty store = %v, %v", gs, err)
	}
	var missing [crypto.GroupIDSize]byte
	if _, err := s.Group(missing); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Group(missing) = %v, want ErrNotFound", err)
	}

	g1 := testGroup(t, "family", 1)
	g2 := testGroup(t, "school", 2)
	g3 := testGroup(t, "ünïcode 村", 3)
	for _, g := range []*store.Group{g1, g2, g3} {
		if err := s.PutGroup(g); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Group(g2.ID)
	if err != nil {
		t.Fatal(err)
	}
	assertGroup(t, got, g2)
	if got.Scope() != crypto.GroupScope(g2.ID, g2.Key) {
		t.Fatal("Group.Scope is not GroupScope(ID, Key)")
	}

	// Replace.
	g2.Name = "school (renamed)"
	g2.ReadUpTo = store.Cursor{Time: 5, ID: event.ID{1}}.String()
	if err := s.PutGroup(g2); err != nil {
		t.Fatal(err)
	}
	got, err = s.Group(g2.ID)
	if err != nil {
		t.Fatal(err)
	}
	assertGroup(t, got, g2)

	list, err := s.Groups()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("Groups = %d groups, want 3", len(list))
	}
	byID := map[[crypto.GroupIDSize]byte]*store.Group{}
	for _, g := range list {
		byID[g.ID] = g
	}
	for _, want := range []*store.Group{g1, g2, g3} {
		g, ok := byID[want.ID]
		if !ok {
			t.Fatalf("Groups is missing %q", want.Name)
		}
		assertGroup(t, g, want)
	}

	if err := s.DeleteGroup(g1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Group(g1.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Group(deleted) = %v, want ErrNotFound", err)
	}
	list, err = s.Groups()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("Groups after delete = %d, want 2", len(list))
	}
	for _, g := range list {
		if g.ID == g1.ID {
			t.Fatal("deleted group still listed")
		}
	}
	if err := s.DeleteGroup(missing); err != nil {
		t.Fatalf("DeleteGroup(missing) = %v", err)
	}
}

func TestGroupsDoNotMixWithEvents(t *testing.T) {
	// Groups and peers share the key space with events; listing one table
	// must not read another's rows.
	s, _ := openTemp(t)
	a := newAuthor(t, randomScope(t))
	for i := range 5 {
		mustPut(t, s, a.next(int64(i), "m"), store.PutOptions{})
	}
	if err := s.PutGroup(testGroup(t, "g", 9)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPeer(&store.Peer{ID: newIdentity(t).PeerID()}); err != nil {
		t.Fatal(err)
	}
	if gs, err := s.Groups(); err != nil || len(gs) != 1 {
		t.Fatalf("Groups = %d, %v; want 1", len(gs), err)
	}
	if ps, err := s.Peers(); err != nil || len(ps) != 1 {
		t.Fatalf("Peers = %d, %v; want 1", len(ps), err)
	}
}

func TestPeers(t *testing.T) {
	s, _ := openTemp(t)
	if ps, err := s.Peers(); err != nil || len(ps) != 0 {
		t.Fatalf("Peers on an empty store = %v, %v", ps, err)
	}
	seen := time.Date(2025, 7, 1, 8, 30, 0, 0, time.UTC)
	p1 := &store.Peer{ID: newIdentity(t).PeerID(), Addrs: []string{"/ip4/192.168.1.5/tcp/4001", "/ip4/192.168.1.5/udp/4001/quic-v1"}, LastSeen: seen}
	p2 := &store.Peer{ID: newIdentity(t).PeerID(), Addrs: []string{"not a multiaddr", "/ip6/::1/tcp/9"}, LastSeen: seen.Add(time.Hour)}
	for _, p := range []*store.Peer{p1, p2} {
		if err := s.PutPeer(p); err != nil {
			t.Fatal(err)
		}
	}
	// Replace p1 with fresher addresses.
	p1.Addrs = []string{"/ip4/10.0.0.7/tcp/4001"}
	p1.LastSeen = seen.Add(2 * time.Hour)
	if err := s.PutPeer(p1); err != nil {
		t.Fatal(err)
	}

	list, err := s.Peers()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("Peers = %d entries, want 2", len(list))
	}
	byID := map[string]*store.Peer{}
	for _, p := range list {
		byID[p.ID.String()] = p
	}
	for _, want := range []*store.Peer{p1, p2} {
		got, ok := byID[want.ID.String()]
		if !ok {
			t.Fatalf("peer %s missing", want.ID)
		}
		if got.ID != want.ID || !slices.Equal(got.Addrs, want.Addrs) || !got.LastSeen.Equal(want.LastSeen) {
			t.Fatalf("peer = %+v, want %+v", got, want)
		}
	}

	ai := byID[p2.ID.String()].AddrInfo()
	if ai.ID != p2.ID {
		t.Fatalf("AddrInfo ID = %s", ai.ID)
	}
	if len(ai.Addrs) != 1 || ai.Addrs[0].String() != "/ip6/::1/tcp/9" {
		t.Fatalf("AddrInfo addrs = %v, want only the parseable one", ai.Addrs)
	}
	if ai := byID[p1.ID.String()].AddrInfo(); len(ai.Addrs) != 1 || ai.Addrs[0].String() != p1.Addrs[0] {
		t.Fatalf("AddrInfo(p1) addrs = %v", ai.Addrs)
	}
}

// TestReopen checks durability across a restart: everything written before
// Close is there after Open, and arrival numbers keep increasing.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	scope := randomScope(t)
	a, b := newAuthor(t, scope), newAuthor(t, randomScope(t))
	var events []*event.Event
	var lastArrival uint64
	for i := range 40 {
		w := a
		if i%4 == 0 {
			w = b
		}
		e := w.next(int64(i), "before restart")
		events = append(events, e)
		lastArrival = mustPut(t, s, e, store.PutOptions{Local: i%5 == 0})
	}
	g := testGroup(t, "village", 7)
	if err := s.PutGroup(g); err != nil {
		t.Fatal(err)
	}
	p := &store.Peer{ID: newIdentity(t).PeerID(), Addrs: []string{"/ip4/10.1.1.1/tcp/1"}, LastSeen: time.Unix(1_750_000_000, 0)}
	if err := s.PutPeer(p); err != nil {
		t.Fatal(err)
	}
	histBefore, _, err := s.History(scope, store.Cursor{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	arrBefore, err := s.ArrivalsSince(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	for round := range 2 {
		s = openAt(t, dir)
		for _, e := range events {
			got, err := s.Event(e.ID)
			if err != nil {
				t.Fatalf("round %d: event lost: %v", round, err)
			}
			assertSameEvent(t, got, e)
		}
		hist, _, err := s.History(scope, store.Cursor{}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(hist), ids(histBefore)) {
			t.Fatalf("round %d: history changed across restart", round)
		}
		arr, err := s.ArrivalsSince(0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(arr) < len(arrBefore) {
			t.Fatalf("round %d: arrival log has %d entries, had %d", round, len(arr), len(arrBefore))
		}
		for i := range arrBefore {
			if arr[i].Seq != arrBefore[i].Seq || arr[i].Event.ID != arrBefore[i].Event.ID {
				t.Fatalf("round %d: arrival %d changed across restart", round, i)
			}
		}
		if seq, id, err := s.Head(scope, a.id.PublicKey()); err != nil || seq != a.seq || id != a.prev {
			t.Fatalf("round %d: Head = %d, %s, %v; want %d, %s", round, seq, id, err, a.seq, a.prev)
		}
		gotG, err := s.Group(g.ID)
		if err != nil {
			t.Fatalf("round %d: group lost: %v", round, err)
		}
		assertGroup(t, gotG, g)
		ps, err := s.Peers()
		if err != nil || len(ps) != 1 || ps[0].ID != p.ID || !slices.Equal(ps[0].Addrs, p.Addrs) {
			t.Fatalf("round %d: peers = %v, %v", round, ps, err)
		}
		// Duplicates are still recognised after the restart.
		if added, _, err := s.PutEvent(events[0], store.PutOptions{}); err != nil || added {
			t.Fatalf("round %d: re-put of a stored event = %v, %v", round, added, err)
		}

		// New arrivals continue after the old ones.
		for i := range 3 {
			e := a.next(int64(1000+round*10+i), "after restart")
			events = append(events, e)
			arrival := mustPut(t, s, e, store.PutOptions{Local: i == 0})
			if arrival <= lastArrival {
				t.Fatalf("round %d: arrival %d after restart is not after %d", round, arrival, lastArrival)
			}
			lastArrival = arrival
		}
		histBefore, _, err = s.History(scope, store.Cursor{}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		arrBefore, err = s.ArrivalsSince(0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("round %d: Close: %v", round, err)
		}
	}
}

func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	second, err := store.Open(store.Options{Dir: dir, Logger: quietLogger})
	if err == nil {
		second.Close()
		t.Fatal("second Open of an open directory succeeded")
	}
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the directory", err)
	}
	// The first store is unaffected and, once closed, frees the directory.
	a := newAuthor(t, randomScope(t))
	mustPut(t, s, a.next(1, "m"), store.PutOptions{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, dir)
	if n, err := s.CountAfter(a.scope, store.Cursor{}); err != nil || n != 1 {
		t.Fatalf("CountAfter after reopen = %d, %v", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenCorrupt(t *testing.T) {
	junk := []byte("this is not a badger file \x00\x01\x02\xff\xfe garbage garbage garbage garbage")

	// A real store, then damaged.
	populated := func(t *testing.T) string {
		dir := t.TempDir()
		s := openAt(t, dir)
		a := newAuthor(t, randomScope(t))
		for i := range 20 {
			mustPut(t, s, a.next(int64(i), "m"), store.PutOptions{Local: true})
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	damage := func(name string, content []byte) func(t *testing.T) string {
		return func(t *testing.T) string {
			dir := populated(t)
			if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
				t.Fatal(err)
			}
			return dir
		}
	}
	// A fresh directory holding only junk files.
	junkDir := func(names ...string) func(t *testing.T) string {
		return func(t *testing.T) string {
			dir := t.TempDir()
			for _, n := range names {
				if err := os.WriteFile(filepath.Join(dir, n), junk, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			return dir
		}
	}

	tests := []struct {
		name string
		dir  func(t *testing.T) string
	}{
		{"garbage MANIFEST", damage("MANIFEST", junk)},
		{"MANIFEST with bad magic", damage("MANIFEST", []byte("Bdgx\x00\x00\x00\x08"))},
		{"MANIFEST of unknown version", damage("MANIFEST", []byte("Bdgr\x00\x00\x00\x63"))},
		// Right header, then a record whose checksum does not match.
		{"MANIFEST with bad checksum", damage("MANIFEST", []byte("Bdgr\x00\x00\x00\x08\x00\x00\x00\x04\x00\x00\x00\x00abcd"))},
		// Right header, then a record longer than the file.
		{"MANIFEST with oversize record", damage("MANIFEST", []byte("Bdgr\x00\x00\x00\x08\x7f\x00\x00\x00\x00\x00\x00\x00"))},
		{"garbage KEYREGISTRY", damage("KEYREGISTRY", junk)},
		{"only a junk MANIFEST", junkDir("MANIFEST")},
		{"junk MANIFEST and tables", junkDir("MANIFEST", "000001.sst", "000001.vlog", "KEYREGISTRY")},
		{"data directory is a file", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "file")
			if err := os.WriteFile(p, junk, 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir(t)
			s, err := store.Open(store.Options{Dir: dir, Logger: quietLogger})
			if err == nil {
				s.Close()
				t.Fatal("Open of a damaged directory succeeded")
			}
			if s != nil {
				t.Fatal("Open returned a store with an error")
			}
			if errors.Is(err, store.ErrLocked) {
				t.Fatalf("damage reported as a lock: %v", err)
			}
		})
	}
}
