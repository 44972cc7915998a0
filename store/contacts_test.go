package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/store"
)

func TestContactsSessionsAndDMs(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	// Events and arrival numbers share the store with contacts; listing
	// contacts must see contacts only.
	a := newAuthor(t, randomScope(t))
	mustPut(t, s, a.next(1, "x"), store.PutOptions{})
	p1, p2 := newIdentity(t).PeerID(), newIdentity(t).PeerID()
	for _, c := range []*store.Contact{
		{ID: p1, Bundle: []byte{1}, State: store.ContactAccepted, Nickname: "mei"},
		{ID: p2, Bundle: []byte{2}, State: store.ContactPending},
	} {
		if err := s.PutContact(c); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := s.Contacts()
	if err != nil || len(cs) != 2 {
		t.Fatalf("Contacts = %v, %v", cs, err)
	}
	if c, err := s.Contact(p1); err != nil || c.Nickname != "mei" {
		t.Fatalf("Contact = %+v, %v", c, err)
	}

	if _, err := s.Session(p1); err != store.ErrNotFound {
		t.Fatalf("missing session: %v", err)
	}
	if err := s.PutSession(p1, []byte("state")); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Session(p1); err != nil || string(st) != "state" {
		t.Fatalf("Session = %q, %v", st, err)
	}

	base := time.UnixMilli(1_700_000_000_000).UTC()
	var ids [][store.DMIDSize]byte
	for i := range 25 {
		m := &store.DM{Peer: p1, Text: "m", Time: base.Add(time.Duration(i) * time.Second), Out: i%2 == 0}
		m.ID[0] = byte(i + 1)
		if err := s.PutDM(m); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	other := &store.DM{Peer: p2, Text: "elsewhere", Time: base}
	other.ID[0] = 0xee
	if err := s.PutDM(other); err != nil {
		t.Fatal(err)
	}
	// Pages walk the conversation newest first, each oldest first.
	var got [][store.DMIDSize]byte
	before := time.Time{}
	for {
		page, err := s.DMs(p1, before, 10)
		if err != nil {
			t.Fatal(err)
		}
		for i := len(page) - 1; i >= 0; i-- {
			got = append(got, page[i].ID)
		}
		if len(page) < 10 {
			break
		}
		before = page[0].Time
	}
	slices.Reverse(got)
	if !slices.Equal(got, ids) {
		t.Fatalf("paging returned %d messages, want the 25 in order", len(got))
	}
	// Updating a message keeps one record.
	m, err := s.DMByID(ids[3])
	if err != nil {
		t.Fatal(err)
	}
	m.Status = "read"
	if err := s.PutDM(m); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.DMs(p1, time.Time{}, 100); len(all) != 25 {
		t.Fatalf("%d messages after an update, want 25", len(all))
	}
	// Every write of a message is in the arrival log, for event streams.
	arr, err := s.ArrivalsSince(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	dms := 0
	for _, a := range arr {
		if a.DM != nil {
			dms++
		}
	}
	if dms != 27 {
		t.Fatalf("%d private-message entries in the arrival log, want 27", dms)
	}
	// All of it survives a restart.
	s.Close()
	s = openAt(t, dir)
	defer s.Close()
	if cs, err := s.Contacts(); err != nil || len(cs) != 2 {
		t.Fatalf("after reopen: %v, %v", cs, err)
	}
	if m, err := s.DMByID(ids[3]); err != nil || m.Status != "read" {
		t.Fatalf("after reopen: %+v, %v", m, err)
	}
}
