package events_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/events"
	"github.com/banyan-mesh/banyan/node/nodetest"
)

// An event posted to contacts reaches them and nobody else: they answer
// it, its author edits it and the latest version shows everywhere; a
// connected stranger holds none of it, and a contact's edit or
// cancellation is refused.
func TestEventToContacts(t *testing.T) {
	ctx := context.Background()
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	stranger := nodetest.Start(t, "", a.Info(), b.Info())
	nodetest.Befriend(t, a, b)
	start := time.Now().Add(48 * time.Hour).Truncate(time.Millisecond)
	title, about := "mango picking at the lower orchard", "bring baskets and a ladder"
	ev := must[*events.EventInfo](t)(client(t, a).CreateForContacts(ctx, events.CreateEvent{Title: title, Start: start, Description: about}))
	if !ev.Contacts || !ev.Mine || ev.GroupID != "" {
		t.Fatalf("created %+v", ev)
	}
	nodetest.Eventually(t, 30*time.Second, "the event on b's schedule", func() (bool, string) {
		es, err := client(t, b).Schedule(ctx)
		return err == nil && len(es) == 1 && es[0].ID == ev.ID && es[0].Contacts && es[0].Description == about, fmt.Sprint(es, err)
	})
	must[*events.EventInfo](t)(client(t, b).RSVP(ctx, ev.ID[:8], "going"))
	nodetest.Eventually(t, 30*time.Second, "b's answer on a", func() (bool, string) {
		es, err := client(t, a).Schedule(ctx)
		return err == nil && len(es) == 1 && len(es[0].Going) == 1 && es[0].Going[0].PeerID == b.ID().String(), fmt.Sprint(es, err)
	})

	if _, err := client(t, b).Edit(ctx, ev.ID, events.CreateEvent{Title: "not yours", Start: start}); !api.IsStatus(err, 403) {
		t.Fatalf("b edited a's event: %v", err)
	}
	later := start.Add(time.Hour)
	for _, v := range []string{"mango picking, moved", "mango picking at the upper orchard"} {
		got := must[*events.EventInfo](t)(client(t, a).Edit(ctx, ev.ID, events.CreateEvent{Title: v, Start: later, Place: "upper orchard"}))
		if got.Title != v || got.ID != ev.ID || !got.Start.Equal(later) || got.Description != "" {
			t.Fatalf("edited to %q, reads %+v", v, got)
		}
	}
	nodetest.Eventually(t, 30*time.Second, "the latest version on b, with b's answer", func() (bool, string) {
		es, err := client(t, b).Schedule(ctx)
		ok := err == nil && len(es) == 1 && es[0].Title == "mango picking at the upper orchard" && es[0].Place == "upper orchard" &&
			es[0].Start.Equal(later) && es[0].You == "going"
		return ok, fmt.Sprint(es, err)
	})

	if es := must[[]events.EventInfo](t)(client(t, stranger).Schedule(ctx)); len(es) != 0 {
		t.Fatalf("the stranger's schedule shows %+v", es)
	}
	if found := nodetest.ScanFor(t, stranger, map[string][]byte{"title": []byte(title), "about": []byte(about), "edit": []byte("upper orchard")}); len(found) > 0 {
		t.Errorf("the stranger holds the %v", found)
	}
	if ok, _ := stranger.Store().HasEvent(mustID(t, ev.ID)); ok {
		t.Error("the stranger holds the event's envelope")
	}
}

// An edit of a group's event reaches the members, and of several versions
// the one with the greatest (time, id) wins on every node, whatever order
// they arrive in.
func TestEditInAGroup(t *testing.T) {
	ctx := context.Background()
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	g := nodetest.JoinAll(t, []*nodetest.Node{a, b})
	start := time.Now().Add(72 * time.Hour).Truncate(time.Millisecond)
	ev := must[*events.EventInfo](t)(client(t, a).Create(ctx, g.Name, events.CreateEvent{Title: "well repair", Start: start}))
	nodetest.Eventually(t, 30*time.Second, "the event on b", func() (bool, string) {
		es, err := client(t, b).Events(ctx, g.Name)
		return err == nil && len(es) == 1, fmt.Sprint(es, err)
	})
	// Edits made while b is away arrive together by sync.
	b.Stop()
	for i := range 3 {
		must[*events.EventInfo](t)(client(t, a).Edit(ctx, ev.ID, events.CreateEvent{Title: fmt.Sprintf("well repair, version %d", i+2), Start: start}))
	}
	b = nodetest.Start(t, b.Home, a.Info())
	nodetest.Eventually(t, 30*time.Second, "the last version on b", func() (bool, string) {
		es, err := client(t, b).Events(ctx, g.Name)
		return err == nil && len(es) == 1 && es[0].ID == ev.ID && es[0].Title == "well repair, version 4", fmt.Sprint(es, err)
	})
}

func mustID(t *testing.T, s string) event.ID {
	t.Helper()
	id, err := event.ParseID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
