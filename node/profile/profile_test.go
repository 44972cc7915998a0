package profile_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/node/profile"
	"github.com/banyan-mesh/banyan/store"
)

func TestMain(m *testing.M) { nodetest.VerifyNoLeaks(m) }

func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A profile reaches the author's contacts, names the author on every
// screen (marked as chosen by them), and reaches nobody else; a nickname
// the user gives still wins over it.
func TestProfileReachesContactsOnly(t *testing.T) {
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	stranger := nodetest.Start(t, "", a.Info())
	nodetest.Befriend(t, a, b)
	cl := profile.NewClient(a.Client(t))
	name, bio := "Asha of the lower well", "I mend nets and bicycles"
	in := profile.SetProfile{Name: &name, Bio: &bio, Avatar: pngOf(t, 900, 600)}
	mine, err := cl.Set(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if mine.Name != name || mine.Avatar == "" || !mine.Mine {
		t.Fatalf("own profile after set: %+v", mine)
	}
	nodetest.Eventually(t, 20*time.Second, "b to get a's profile", func() (bool, string) {
		r, err := b.Profiles().Profile(a.ID())
		return err == nil && r.Name == name && r.Bio == bio && len(r.Avatar) > 0, fmt.Sprint(r, err)
	})
	got, err := profile.NewClient(b.Client(t)).Of(context.Background(), a.ID().String())
	if err != nil {
		t.Fatal(err)
	}
	if want := "~" + name + " (" + got.Person.Short + ")"; got.Person.Label != want || !got.Person.Unverified {
		t.Errorf("b shows a as %+v, want label %q", got.Person, want)
	}
	c, err := b.DMs().Contact(a.ID())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.DMs().SetNickname(c, "auntie"); err != nil {
		t.Fatal(err)
	}
	if got, _ := profile.NewClient(b.Client(t)).Of(context.Background(), "auntie"); got == nil || got.Person.Label != "auntie" || got.Name != name {
		t.Errorf("after the nickname b shows a as %+v", got)
	}
	// The stranger is connected to a the whole time but is no contact.
	if found := nodetest.ScanFor(t, stranger, map[string][]byte{"name": []byte(name), "bio": []byte(bio)}); len(found) > 0 {
		t.Errorf("the stranger's store holds a's %v", found)
	}
	if _, err := stranger.Profiles().Profile(a.ID()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the stranger knows a's profile: %v", err)
	}
}

// rawPeer is a libp2p host that speaks no Banyan but the direct stream.
func rawPeer(t *testing.T, target *nodetest.Node) host.Host {
	t.Helper()
	h, _ := rawPeerWith(t, target)
	return h
}

// rawPeerWith is rawPeer, with the identity of its host.
func rawPeerWith(t *testing.T, target *nodetest.Node) (host.Host, *crypto.Identity) {
	t.Helper()
	return nodetest.RawHost(t, target)
}

func profileEvent(t *testing.T, id *crypto.Identity, seq uint64, at int64, f *profile.Fields) *event.Event {
	t.Helper()
	payload, err := profile.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	scope := profile.ScopeOf(id.PublicKey())
	b := event.Body{Scope: scope[:], Seq: seq, Time: at, Kind: profile.Kind, Payload: payload}
	if seq > 1 {
		b.Prev = make([]byte, event.IDSize)
	}
	e, err := event.Sign(id, b)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Whatever order versions of a profile arrive in, the latest (by time,
// then ID) is the one kept, and the older ones are not kept at all.
func TestLatestProfileWinsInEveryOrder(t *testing.T) {
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	nodetest.Befriend(t, a, b)
	aid, err := a.Home.Identity(nil)
	if err != nil {
		t.Fatal(err)
	}
	nodetest.WaitKeeps(t, b, profile.ScopeOf(aid.PublicKey()))
	raw := rawPeer(t, b)
	orders := [][]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	base := time.Now().Add(-time.Hour).UnixMilli()
	for round, order := range orders {
		// Each round is later than the one before; within it, versions 1
		// and 2 share a time, so the event ID decides between them.
		at := base + int64(round)*1000
		var evs []*event.Event
		for v := range 3 {
			evs = append(evs, profileEvent(t, aid, uint64(100+3*round+v), at+int64(min(v, 1)), &profile.Fields{Name: fmt.Sprintf("round %d version %d", round, v)}))
		}
		want := slices.MaxFunc(evs, func(x, y *event.Event) int { return store.CursorOf(x).Compare(store.CursorOf(y)) })
		for _, i := range order {
			if err := mesh.SendDirect(context.Background(), raw, mesh.DirectProtocol, b.ID(), evs[i].Raw); err != nil {
				t.Fatalf("round %d: %v %v", round, err, b.Stats().Rejected())
			}
		}
		r, err := b.Profiles().Profile(a.ID())
		if err != nil {
			t.Fatal(err)
		}
		if r.ID != want.ID {
			t.Errorf("order %v: b keeps %q, want the latest %x", order, r.Name, want.ID[:4])
		}
		kept, _, err := b.Store().History(profile.ScopeOf(aid.PublicKey()), store.Cursor{}, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(kept) != 1 || kept[0].ID != want.ID {
			t.Errorf("order %v: b stores %d versions of a's profile, want only the latest", order, len(kept))
		}
	}
}

// The bio and place travel sealed to the contacts; name and avatar do
// not. A contact added later reads them too: the profile is sealed again
// for the new audience.
func TestBioAndPlaceSealedToContacts(t *testing.T) {
	ctx := context.Background()
	// Periodic syncs an hour apart: what opens the bio must come at once.
	hourly := func(o *node.Options) { o.SyncInterval = time.Hour }
	a := nodetest.StartWith(t, "", hourly)
	b := nodetest.StartWith(t, "", hourly, a.Info())
	nodetest.Befriend(t, a, b)
	name, bio, place := "Asha", "I keep the key of the school", "the house behind the well"
	if _, err := profile.NewClient(a.Client(t)).Set(ctx, profile.SetProfile{Name: &name, Bio: &bio, Place: &place}); err != nil {
		t.Fatal(err)
	}
	// a writes the audience key that opens the bio when b becomes a
	// contact, which can be before b follows a's moments topic: then
	// gossip misses b, and the sync b asks for on following a's moments
	// brings it (within seconds: a sync soon after another waits until
	// reconcile.MinInterval has passed).
	nodetest.Eventually(t, 20*time.Second, "b to read a's bio and place", func() (bool, string) {
		r, err := b.Profiles().Profile(a.ID())
		return err == nil && r.Name == name && r.Bio == bio && r.Place == place && !r.Sealed, fmt.Sprint(r, err)
	})
	// What is on the wire, and in every store's events, is sealed; only
	// the opened records hold the text.
	for _, n := range []*nodetest.Node{a, b} {
		if found := nodetest.ScanFor(t, n, map[string][]byte{"bio": []byte(bio), "place": []byte(place)}, "profiles"); len(found) > 0 {
			t.Errorf("a profile event holds the %v in clear", found)
		}
		if found := nodetest.ScanFor(t, n, map[string][]byte{"name": []byte(name)}, "profiles"); len(found) == 0 {
			t.Error("the scan does not find the name, which is in clear")
		}
	}
	c := nodetest.StartWith(t, "", hourly, a.Info())
	nodetest.Befriend(t, a, c)
	nodetest.Eventually(t, 20*time.Second, "the new contact to read a's bio", func() (bool, string) {
		r, err := c.Profiles().Profile(a.ID())
		return err == nil && r.Bio == bio && r.Place == place, fmt.Sprint(r, err)
	})
}
