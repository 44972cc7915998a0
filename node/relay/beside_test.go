package relay_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/banyan-mesh/banyan/node/events"
	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/lists"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/node/relay"
	"github.com/banyan-mesh/banyan/store"
)

// A group registered with a relay is kept there with its lists and its
// events, all sealed: a member who is never online with the author gets
// the shopping list and the event from the relay alone, and the relay's
// store holds none of their text.
func TestRelayKeepsListsAndEvents(t *testing.T) {
	ctx := context.Background()
	r := startRelay(t, nil, relay.Quotas{})
	a := nodetest.Start(t, "", r.Info())
	g, err := a.Groups().Create("family")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Groups().AddRelay(ctx, g, fullAddr(t, r)); err != nil {
		t.Fatal(err)
	}
	title, item, what := "for the wedding", "twelve kilos of rice", "the wedding of Anan and Mali"
	ls := lists.NewClient(a.Client(t))
	l, err := ls.Create(ctx, g.Name, title, "shopping")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ls.Add(ctx, g.Name, l.ID, item); err != nil {
		t.Fatal(err)
	}
	if _, err := events.NewClient(a.Client(t)).Create(ctx, g.Name, events.CreateEvent{Title: what, Start: time.Now().Add(96 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	listScope, _ := lists.Scope(a.Groups(), g.Scope())
	eventScope, _ := events.Scope(a.Groups(), g.Scope())
	nodetest.Eventually(t, 20*time.Second, "the relay to keep the list and the event", func() (bool, string) {
		nl, err1 := r.Store().CountAfter(listScope, store.Cursor{})
		ne, err2 := r.Store().CountAfter(eventScope, store.Cursor{})
		return nl == 2 && ne == 1, fmt.Sprint(nl, ne, err1, err2)
	})
	invite := a.Groups().Invite(g).String()
	a.Stop()

	b := nodetest.Start(t, "", r.Info())
	in, err := groupchat.ParseInvite(invite)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Groups().Join(ctx, in); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 30*time.Second, "B to get the list and the event from the relay", func() (bool, string) {
		got, err := lists.NewClient(b.Client(t)).Lists(ctx, g.Name)
		es, err2 := events.NewClient(b.Client(t)).Events(ctx, g.Name)
		ok := err == nil && err2 == nil && len(got) == 1 && len(got[0].Items) == 1 && got[0].Items[0].Text == item &&
			len(es) == 1 && es[0].Title == what
		return ok, fmt.Sprint(got, es, err, err2)
	})
	if b.Host().Network().Connectedness(a.ID()) == network.Connected {
		t.Fatal("A and B were connected")
	}
	if found := nodetest.ScanFor(t, r, map[string][]byte{"title": []byte(title), "item": []byte(item), "event": []byte(what)}); len(found) > 0 {
		t.Fatalf("the relay's store holds the %v", found)
	}
}
