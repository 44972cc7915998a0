package people

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto"
)

type fakeSource map[peer.ID]Names

func (f fakeSource) Names(p peer.ID) Names { return f[p] }

func newPeer(t *testing.T) (peer.ID, []byte) {
	t.Helper()
	id, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return id.PeerID(), id.PublicKey()
}

func TestPerson(t *testing.T) {
	me, _ := newPeer(t)
	alice, alicePub := newPeer(t)
	bob, _ := newPeer(t)
	carol, _ := newPeer(t)
	stranger, _ := newPeer(t)
	contacts := fakeSource{
		alice: {Nickname: "alice", Claimed: "Alice Smith"},
		bob:   {Claimed: "bob"},
	}
	profiles := fakeSource{
		bob:   {Claimed: "Robert"},
		carol: {Claimed: "carol"},
		alice: {Claimed: "the mayor"},
	}
	d := New(me)
	d.Add(contacts)
	d.Add(profiles)
	short := func(p peer.ID) string { return "…" + p.String()[len(p.String())-8:] }
	tests := []struct {
		name string
		p    peer.ID
		want Person
	}{
		{"me", me, Person{PeerID: me.String(), Short: short(me), Me: true, Label: "you"}},
		// The user's nickname wins over every claimed name.
		{"contact", alice, Person{PeerID: alice.String(), Name: "alice", Short: short(alice), Label: "alice"}},
		// A claimed name is marked and carries the short ID; the first
		// source's claim wins.
		{"claimed", bob, Person{PeerID: bob.String(), Name: "bob", Unverified: true, Short: short(bob), Label: "~bob (" + short(bob) + ")"}},
		{"profile only", carol, Person{PeerID: carol.String(), Name: "carol", Unverified: true, Short: short(carol), Label: "~carol (" + short(carol) + ")"}},
		{"nobody", stranger, Person{PeerID: stranger.String(), Short: short(stranger), Label: short(stranger)}},
	}
	for _, tc := range tests {
		if got := d.Person(tc.p); got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
	if got := d.Key(alicePub); got.Label != "alice" {
		t.Errorf("by key: %+v", got)
	}
	if got := d.Key([]byte{1, 2, 3}); got.Label != "010203" || got.PeerID != "" {
		t.Errorf("a key that is no person's: %+v", got)
	}
	var none *Directory
	if got := none.Person(alice); got.Label != short(alice) {
		t.Errorf("nil directory: %+v", got)
	}
	if Short("12D3KooWNQpGQh5xZCv8NgEBd3BxAP9TBu9r5J2eEeoknDY51CPc") != "…nDY51CPc" || Short("abc") != "abc" {
		t.Error("Short")
	}
}
