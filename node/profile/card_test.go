package profile_test

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/node/profile"
)

// People nearby who are not contacts see nothing of a profile until its
// owner chooses to show them, and then only the name and the avatar.
func TestCardShownNearbyOnlyWhenChosen(t *testing.T) {
	a := nodetest.Start(t, "")
	early := nodetest.Start(t, "", a.Info())
	late := nodetest.Start(t, "", a.Info())
	ctx := context.Background()
	name, bio := "Asha of the lower well", "my door is the blue one"
	if _, err := profile.NewClient(a.Client(t)).Set(ctx, profile.SetProfile{Name: &name, Bio: &bio, Avatar: pngOf(t, 300, 200)}); err != nil {
		t.Fatal(err)
	}
	got, err := profile.NewClient(early.Client(t)).Of(ctx, a.ID().String())
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "" || got.Avatar != "" || got.Nearby {
		t.Errorf("before a chose to show it, a stranger sees %+v", got)
	}
	on := true
	mine, err := profile.NewClient(a.Client(t)).Set(ctx, profile.SetProfile{Public: &on})
	if err != nil {
		t.Fatal(err)
	}
	if !mine.Public || mine.Name != name {
		t.Fatalf("after choosing: %+v", mine)
	}
	got, err = profile.NewClient(late.Client(t)).Of(ctx, a.ID().String())
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != name || got.Avatar == "" || !got.Nearby || got.Bio != "" || got.Person.Name != "" {
		t.Errorf("a stranger sees %+v; want the name and avatar only, and no name given to them", got)
	}
	if found := nodetest.ScanFor(t, late, map[string][]byte{"bio": []byte(bio), "name": []byte(name)}); len(found) > 0 {
		t.Errorf("the stranger's store holds a's %v", found)
	}
}

// A card that is not what its sender's node would send is refused: signed
// by someone else, with more than a name and an avatar, or not a card.
func TestForgedCardsRefused(t *testing.T) {
	n := nodetest.Start(t, "")
	raw, self := rawPeerWith(t, n)
	other, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	card := func(id *crypto.Identity, kind event.Kind, f *profile.Fields) []byte {
		payload, err := profile.Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		scope := profile.ScopeOf(id.PublicKey())
		e, err := event.Sign(id, event.Body{Scope: scope[:], Seq: 1, Time: time.Now().UnixMilli(), Kind: kind, Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		return e.Raw
	}
	for name, c := range map[string][]byte{
		"signed by someone else": card(other, profile.KindCard, &profile.Fields{Name: "not me"}),
		"with a bio":             card(self, profile.KindCard, &profile.Fields{Name: "me", Bio: "secret"}),
		"not a card":             card(self, profile.Kind, &profile.Fields{Name: "me"}),
		"garbage":                []byte("hello"),
	} {
		if _, err := profile.ParseCard(raw.ID(), c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Through the wire: the raw peer answers with a card signed by
	// someone else.
	forged := card(other, profile.KindCard, &profile.Fields{Name: "Mayor"})
	raw.SetStreamHandler(profile.CardProtocol, func(st network.Stream) {
		defer st.Close()
		st.Write(append(binary.AppendUvarint(nil, uint64(len(forged))), forged...))
	})
	got, err := profile.NewClient(n.Client(t)).Of(context.Background(), raw.ID().String())
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "" || got.Nearby {
		t.Errorf("a forged card was shown: %+v", got)
	}
	if f, err := profile.ParseCard(raw.ID(), card(self, profile.KindCard, &profile.Fields{Name: "me"})); err != nil || f.Name != "me" {
		t.Errorf("the sender's own card: %+v, %v", f, err)
	}
}

func FuzzParseCard(f *testing.F) {
	id, err := crypto.NewIdentity()
	if err != nil {
		f.Fatal(err)
	}
	payload, _ := profile.Encode(&profile.Fields{Name: "Asha"})
	scope := profile.ScopeOf(id.PublicKey())
	e, err := event.Sign(id, event.Body{Scope: scope[:], Seq: 1, Time: 1767225600000, Kind: profile.KindCard, Payload: payload})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(e.Raw)
	f.Fuzz(func(t *testing.T, raw []byte) {
		if c, err := profile.ParseCard(id.PeerID(), raw); err == nil && (c.Bio != "" || c.Place != "") {
			t.Fatalf("a card with more than a name and an avatar: %+v", c)
		}
	})
}
