package lists_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/lists"
	"github.com/banyan-mesh/banyan/node/lists/crdt"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/store"
)

func TestMain(m *testing.M) { nodetest.VerifyNoLeaks(m) }

func client(t *testing.T, n *nodetest.Node) lists.Client { return lists.NewClient(n.Client(t)) }

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func texts(l *lists.ListInfo) []string {
	var out []string
	for _, it := range l.Items {
		mark := ""
		if it.Done {
			mark = "+"
		}
		out = append(out, mark+it.Text)
	}
	return out
}

// scopeEvents reads every stored list operation of a group's lists on n.
func scopeEvents(t *testing.T, n *nodetest.Node, g *groupchat.Group) []*event.Event {
	t.Helper()
	scope, ok := lists.Scope(n.Groups(), nodetest.GroupOn(t, n, g).Scope())
	if !ok {
		t.Fatal("no lists scope")
	}
	evs, _, err := n.Store().History(scope, store.Cursor{}, 100000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// Three people edit a shared shopping list while none of them can reach
// the others; when they meet, every node shows the same list, and every
// edit is in it.
func TestOfflineEditsMerge(t *testing.T) {
	ctx := context.Background()
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	c := nodetest.Start(t, "", a.Info())
	nodes := []*nodetest.Node{a, b, c}
	g := nodetest.JoinAll(t, nodes)
	l := must[*lists.ListInfo](t)(client(t, a).Create(ctx, g.Name, "market", "shopping"))
	for _, item := range []string{"rice", "oil", "soap"} {
		must[*lists.ListInfo](t)(client(t, a).Add(ctx, g.Name, l.ID, item))
	}
	for _, n := range nodes {
		nodetest.Eventually(t, 20*time.Second, "the list everywhere", func() (bool, string) {
			got, err := client(t, n).List(ctx, g.Name, "market")
			return err == nil && len(got.Items) == 3, fmt.Sprint(got, err)
		})
	}
	for _, n := range nodes {
		n.Stop()
	}

	// Each alone: the others are down, so nothing reaches anyone.
	rng := rand.New(rand.NewPCG(15, 5))
	var added []string
	edits := []func(cl lists.Client){
		func(cl lists.Client) {
			must[*lists.ListInfo](t)(cl.Edit(ctx, g.Name, "market", "rice", lists.EditItem{Done: ptr(true)}))
			must[*lists.ListInfo](t)(cl.Edit(ctx, g.Name, "market", "soap", lists.EditItem{Position: ptr(1)}))
		},
		func(cl lists.Client) {
			must[*lists.ListInfo](t)(cl.Edit(ctx, g.Name, "market", "oil", lists.EditItem{Text: ptr("palm oil")}))
			must[*lists.ListInfo](t)(cl.Remove(ctx, g.Name, "market", "soap"))
		},
		func(cl lists.Client) {
			must[*lists.ListInfo](t)(cl.Edit(ctx, g.Name, "market", "rice", lists.EditItem{Text: ptr("brown rice")}))
			must[*lists.ListInfo](t)(cl.Create(ctx, g.Name, "chores", "todo"))
			must[*lists.ListInfo](t)(cl.Add(ctx, g.Name, "chores", "fix the fence"))
		},
	}
	for i, n := range nodes {
		n = nodetest.Start(t, n.Home)
		nodes[i] = n
		cl := client(t, n)
		edits[i](cl)
		// And a handful of random edits, from what this node shows.
		for k := range 6 {
			cur := must[*lists.ListInfo](t)(cl.List(ctx, g.Name, "market"))
			item := strconv.Itoa(1 + rng.IntN(len(cur.Items)))
			switch rng.IntN(3) {
			case 0:
				added = append(added, fmt.Sprintf("thing %d from %d", k, i))
				must[*lists.ListInfo](t)(cl.Add(ctx, g.Name, "market", added[len(added)-1]))
			case 1:
				must[*lists.ListInfo](t)(cl.Edit(ctx, g.Name, "market", item, lists.EditItem{Position: ptr(1 + rng.IntN(len(cur.Items)))}))
			case 2:
				must[*lists.ListInfo](t)(cl.Edit(ctx, g.Name, "market", item, lists.EditItem{Done: ptr(rng.IntN(2) == 0)}))
			}
		}
		if got := n.Host().Network().Peers(); len(got) != 0 {
			t.Fatalf("node %d is not alone: %v", i, got)
		}
		n.Stop()
	}

	// They meet.
	a = nodetest.Start(t, nodes[0].Home)
	b = nodetest.Start(t, nodes[1].Home, a.Info())
	c = nodetest.Start(t, nodes[2].Home, a.Info())
	nodes = []*nodetest.Node{a, b, c}
	var want []crdt.List
	nodetest.Eventually(t, 30*time.Second, "the same lists on every node", func() (bool, string) {
		var evs []*event.Event
		for _, n := range nodes {
			evs = append(evs, scopeEvents(t, n, g)...)
		}
		want = merged(t, a, g, evs)
		for i, n := range nodes {
			got := must[[]crdt.List](t)(n.Lists().Lists(hexID(g)))
			if !reflect.DeepEqual(got, want) {
				return false, fmt.Sprintf("node %d: %d lists, want %d", i, len(got), len(want))
			}
		}
		return true, ""
	})
	market := must[*lists.ListInfo](t)(client(t, c).List(ctx, g.Name, "market"))
	got := texts(market)
	for _, w := range []string{"+brown rice", "palm oil"} {
		if !slices.Contains(got, w) {
			t.Errorf("market lacks %q: %q", w, got)
		}
	}
	if slices.ContainsFunc(got, func(s string) bool { return s == "soap" || s == "+soap" }) {
		t.Errorf("removed soap is back: %q", got)
	}
	for _, w := range added {
		if !slices.Contains(got, w) && !slices.Contains(got, "+"+w) {
			t.Errorf("market lacks %q, added offline: %q", w, got)
		}
	}
	chores := must[*lists.ListInfo](t)(client(t, b).List(ctx, g.Name, "chores"))
	if !slices.Equal(texts(chores), []string{"fix the fence"}) {
		t.Errorf("chores = %q", texts(chores))
	}
}

// merged is the stamp-order merge of every operation the nodes hold: what
// each of them must show.
func merged(t *testing.T, n *nodetest.Node, g *groupchat.Group, evs []*event.Event) []crdt.List {
	t.Helper()
	seen := map[event.ID]bool{}
	var ops []crdt.Op
	for _, e := range evs {
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		op, err := lists.OpenOp(n.Groups(), nodetest.GroupOn(t, n, g).Scope(), e)
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, op)
	}
	slices.SortFunc(ops, func(a, b crdt.Op) int { return a.Stamp.Compare(b.Stamp) })
	var d crdt.Doc
	for _, op := range ops {
		d.Apply(op)
	}
	return d.Lists()
}

func ptr[T any](v T) *T { return &v }

func hexID(g *groupchat.Group) string { return fmt.Sprintf("%x", g.ID) }

// Lists travel and are stored sealed: no store, a member's or a
// non-member's, holds an item's text, and a non-member holds nothing of
// the lists at all.
func TestListsAreSealed(t *testing.T) {
	ctx := context.Background()
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	outsider := nodetest.Start(t, "", a.Info())
	g := nodetest.JoinAll(t, []*nodetest.Node{a, b})
	must[*lists.ListInfo](t)(client(t, a).Create(ctx, g.Name, "secret-plans", "todo"))
	must[*lists.ListInfo](t)(client(t, a).Add(ctx, g.Name, "secret-plans", "mangoes-for-the-feast"))
	nodetest.Eventually(t, 20*time.Second, "b to get the item", func() (bool, string) {
		l, err := client(t, b).List(ctx, g.Name, "secret-plans")
		return err == nil && len(l.Items) == 1, fmt.Sprint(l, err)
	})
	needles := map[string][]byte{"title": []byte("secret-plans"), "item": []byte("mangoes-for-the-feast")}
	for name, n := range map[string]*nodetest.Node{"a": a, "b": b, "outsider": outsider} {
		if found := nodetest.ScanFor(t, n, needles); len(found) != 0 {
			t.Errorf("%s's store holds %v in the clear", name, found)
		}
	}
	evs := scopeEvents(t, a, g)
	if len(evs) != 2 {
		t.Fatalf("a holds %d list operations, want 2", len(evs))
	}
	for _, e := range evs {
		if has, err := outsider.Store().HasEvent(e.ID); has || err != nil {
			t.Fatalf("the outsider holds a list operation (%v)", err)
		}
	}
}

// Every edit appears on the event stream, saying what it did to what.
func TestEditsOnTheStream(t *testing.T) {
	ctx := context.Background()
	a := nodetest.Start(t, "")
	g, err := a.Groups().Create("family")
	if err != nil {
		t.Fatal(err)
	}
	cl := client(t, a)
	must[*lists.ListInfo](t)(cl.Create(ctx, g.Name, "market", "shopping"))
	must[*lists.ListInfo](t)(cl.Add(ctx, g.Name, "market", "rice"))
	must[*lists.ListInfo](t)(cl.Edit(ctx, g.Name, "market", "1", lists.EditItem{Done: ptr(true)}))
	must[*lists.ListInfo](t)(cl.Remove(ctx, g.Name, "market", "rice"))
	var got []string
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	a.Client(t).Events(sctx, 0, func(ev api.Event) error {
		var e lists.ListEvent
		if ev.Type == lists.StreamType && ev.Decode(&e) == nil {
			if !e.Mine || e.List != "market" || e.GroupName != "family" {
				t.Errorf("stream event %+v", e)
			}
			got = append(got, e.What+" "+e.Item)
		}
		if len(got) == 4 {
			cancel()
		}
		return nil
	})
	want := []string{"created the list ", "added rice", "ticked rice", "removed rice"}
	if !slices.Equal(got, want) {
		t.Fatalf("stream %q, want %q", got, want)
	}
}

// Leaving a group deletes its lists here and stops keeping their scope;
// the others keep theirs.
func TestLeavingDropsLists(t *testing.T) {
	ctx := context.Background()
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	g := nodetest.JoinAll(t, []*nodetest.Node{a, b})
	must[*lists.ListInfo](t)(client(t, a).Create(ctx, g.Name, "chores", "todo"))
	must[*lists.ListInfo](t)(client(t, a).Add(ctx, g.Name, "chores", "sweep"))
	nodetest.Eventually(t, 20*time.Second, "b to get the list", func() (bool, string) {
		return len(scopeEvents(t, b, g)) == 2, fmt.Sprint(len(scopeEvents(t, b, g)))
	})
	scope, _ := lists.Scope(b.Groups(), nodetest.GroupOn(t, b, g).Scope())
	if err := b.Groups().Leave(nodetest.GroupOn(t, b, g)); err != nil {
		t.Fatal(err)
	}
	if evs, _, err := b.Store().History(scope, store.Cursor{}, 10); err != nil || len(evs) != 0 {
		t.Fatalf("b still holds %d list operations (%v)", len(evs), err)
	}
	if _, err := b.Lists().Lists(hexID(g)); err == nil {
		t.Fatal("b still shows the group's lists")
	}
	// The engine no longer keeps the scope: it can be kept anew.
	r, err := b.Engine().Keep(engine.Spec{Scope: scope})
	if err != nil {
		t.Fatalf("b's engine still keeps the lists: %v", err)
	}
	r.Close()
	if got := must[[]crdt.List](t)(a.Lists().Lists(hexID(g))); len(got) != 1 || len(got[0].Items) != 1 {
		t.Fatalf("a's lists after b left: %+v", got)
	}
}
