package events_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/events"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/node/people"
)

func TestMain(m *testing.M) { nodetest.VerifyNoLeaks(m) }

func client(t *testing.T, n *nodetest.Node) events.Client { return events.NewClient(n.Client(t)) }

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// Three members answer an event, and change their minds, while apart; when
// they meet, every node shows each member's latest answer.
func TestRSVPsMerge(t *testing.T) {
	ctx := context.Background()
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	c := nodetest.Start(t, "", a.Info())
	nodes := []*nodetest.Node{a, b, c}
	g := nodetest.JoinAll(t, nodes)
	start := time.Now().Add(30 * time.Minute).Truncate(time.Millisecond)
	ev := must[*events.EventInfo](t)(client(t, a).Create(ctx, g.Name, events.CreateEvent{Title: "harvest feast", Start: start, Place: "the school"}))
	if !ev.Start.Equal(start) || ev.Title != "harvest feast" || !ev.Mine {
		t.Fatalf("created %+v", ev)
	}
	for _, n := range nodes {
		nodetest.Eventually(t, 20*time.Second, "the event everywhere", func() (bool, string) {
			es, err := client(t, n).Schedule(ctx)
			return err == nil && len(es) == 1 && es[0].ID == ev.ID, fmt.Sprint(es, err)
		})
	}
	for _, n := range nodes {
		n.Stop()
	}
	said := [][]string{{"going", "maybe"}, {"going"}, {"not-going", "maybe", "going"}}
	for i, n := range nodes {
		n = nodetest.Start(t, n.Home)
		nodes[i] = n
		for _, answer := range said[i] {
			got := must[*events.EventInfo](t)(client(t, n).RSVP(ctx, ev.ID[:8], answer))
			if got.You != answer {
				t.Fatalf("node %d answered %s, shows %q", i, answer, got.You)
			}
		}
		n.Stop()
	}
	a = nodetest.Start(t, nodes[0].Home)
	b = nodetest.Start(t, nodes[1].Home, a.Info())
	c = nodetest.Start(t, nodes[2].Home, a.Info())
	nodes = []*nodetest.Node{a, b, c}
	want := map[string]string{a.ID().String(): "maybe", b.ID().String(): "going", c.ID().String(): "going"}
	for i, n := range nodes {
		nodetest.Eventually(t, 30*time.Second, "every latest answer everywhere", func() (bool, string) {
			es, err := client(t, n).Events(ctx, g.Name)
			if err != nil || len(es) != 1 {
				return false, fmt.Sprint(es, err)
			}
			got := map[string]string{}
			for answer, ps := range map[string][]string{"going": peerIDs(es[0].Going), "maybe": peerIDs(es[0].Maybe), "not-going": peerIDs(es[0].NotGoing)} {
				for _, p := range ps {
					got[p] = answer
				}
			}
			return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprintf("node %d: %v", i, got)
		})
	}
	if es := must[[]events.EventInfo](t)(client(t, b).Schedule(ctx)); len(es) != 1 || es[0].You != "going" || !es[0].Soon {
		t.Fatalf("b's schedule: %+v", es)
	}
}

func peerIDs(ps []people.Person) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.PeerID)
	}
	slices.Sort(out)
	return out
}

var errFound = errors.New("found")

// An event the user goes to that starts within the hour is announced once
// on the event stream as a reminder; one the user declined is not, and
// leaves the schedule.
func TestReminders(t *testing.T) {
	ctx := context.Background()
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	g := nodetest.JoinAll(t, []*nodetest.Node{a, b})
	cl := client(t, a)
	declined := must[*events.EventInfo](t)(client(t, b).Create(ctx, g.Name, events.CreateEvent{Title: "meeting", Start: time.Now().Add(40 * time.Minute)}))
	nodetest.Eventually(t, 20*time.Second, "b's meeting on a", func() (bool, string) {
		es, err := cl.Events(ctx, g.Name)
		return err == nil && len(es) == 1, fmt.Sprint(es, err)
	})
	must[*events.EventInfo](t)(cl.RSVP(ctx, declined.ID, "not-going"))
	soon := must[*events.EventInfo](t)(cl.Create(ctx, g.Name, events.CreateEvent{Title: "dinner", Start: time.Now().Add(20 * time.Minute)}))
	later := must[*events.EventInfo](t)(cl.Create(ctx, g.Name, events.CreateEvent{Title: "wedding", Start: time.Now().Add(72 * time.Hour)}))

	reminded := func() map[string]int {
		seen := map[string]int{}
		sctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		a.Client(t).Events(sctx, 0, func(ev api.Event) error {
			var e events.EventInfo
			if ev.Type == events.StreamReminder && ev.Decode(&e) == nil {
				seen[e.Title]++
			}
			return nil
		})
		return seen
	}
	nodetest.Eventually(t, 20*time.Second, "a reminder of dinner", func() (bool, string) {
		got := reminded()
		return got["dinner"] == 1, fmt.Sprint(got)
	})
	// Restarted, the node does not remind again.
	a.Stop()
	a = nodetest.Start(t, a.Home, b.Info())
	nodetest.Eventually(t, 20*time.Second, "the schedule after a restart", func() (bool, string) {
		es, err := client(t, a).Schedule(ctx)
		return err == nil && len(es) == 2, fmt.Sprint(es, err)
	})
	got := reminded()
	if got["dinner"] != 1 || got["meeting"] != 0 || got["wedding"] != 0 {
		t.Fatalf("reminders %v, want dinner once", got)
	}
	es := must[[]events.EventInfo](t)(client(t, a).Schedule(ctx))
	if es[0].ID != soon.ID || !es[0].Soon || es[1].ID != later.ID || es[1].Soon {
		t.Fatalf("schedule %+v", es)
	}
}

// Whoever posted an event can call it off, and nobody else: it leaves
// every schedule, and a group's events show it cancelled.
func TestCancel(t *testing.T) {
	ctx := context.Background()
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	g := nodetest.JoinAll(t, []*nodetest.Node{a, b})
	ev := must[*events.EventInfo](t)(client(t, a).Create(ctx, g.Name, events.CreateEvent{Title: "market day", Start: time.Now().Add(48 * time.Hour)}))
	nodetest.Eventually(t, 20*time.Second, "the event on b", func() (bool, string) {
		es, err := client(t, b).Schedule(ctx)
		return err == nil && len(es) == 1, fmt.Sprint(es, err)
	})
	_, err := client(t, b).Cancel(ctx, ev.ID)
	if !api.IsStatus(err, 403) {
		t.Fatalf("b cancelled a's event: %v", err)
	}
	got := must[*events.EventInfo](t)(client(t, a).Cancel(ctx, ev.ID))
	if !got.Cancelled {
		t.Fatalf("cancelled event reads %+v", got)
	}
	nodetest.Eventually(t, 20*time.Second, "the event off b's schedule", func() (bool, string) {
		es, err := client(t, b).Schedule(ctx)
		return err == nil && len(es) == 0, fmt.Sprint(es, err)
	})
	if es := must[[]events.EventInfo](t)(client(t, b).Events(ctx, g.Name)); len(es) != 1 || !es[0].Cancelled {
		t.Fatalf("b's group events: %+v", es)
	}
}
