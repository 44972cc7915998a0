package diary_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/diary"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/store"
)

func TestMain(m *testing.M) { nodetest.VerifyNoLeaks(m) }

func dates(es []diary.Entry) string {
	s := ""
	for _, e := range es {
		s += e.Date + " "
	}
	return s
}

// Diary entries are found by date and by words, survive a restart, and
// never leave the node: nothing goes on the arrival log (so no event is
// written, published or synced), the store holds them only sealed, and the
// connected peer's store holds nothing of them.
func TestDiaryStaysHome(t *testing.T) {
	ctx := context.Background()
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	nodetest.JoinAll(t, []*nodetest.Node{a, b})
	before, err := a.Store().LastArrival()
	if err != nil {
		t.Fatal(err)
	}
	cl := diary.NewClient(a.Client(t))
	secret := "the-mango-tree-flowered-by-the-well"
	for _, e := range []struct{ date, text string }{
		{"2026-11-02", "rain all day"},
		{"2026-12-01", "Market day: sold " + secret},
		{"2026-11-20", "market closed, RAIN again"},
	} {
		if _, err := cl.Add(ctx, e.date, e.text); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cl.Add(ctx, "yesterday", "x"); err == nil {
		t.Error("a date that is not a date was taken")
	}
	all, err := cl.List(ctx, "", 50)
	if err != nil || dates(all) != "2026-12-01 2026-11-20 2026-11-02 " {
		t.Fatalf("list: %s %v", dates(all), err)
	}
	for q, want := range map[string]string{"rain": "2026-11-20 2026-11-02 ", "MARKET rain": "2026-11-20 ", "mango-tree": "2026-12-01 ", "snow": ""} {
		got, err := cl.List(ctx, q, 50)
		if err != nil || dates(got) != want {
			t.Errorf("search %q: %q, want %q (%v)", q, dates(got), want, err)
		}
	}
	if err := cl.Delete(ctx, all[2].ID); err != nil {
		t.Fatal(err)
	}
	a.Stop()
	a = nodetest.Start(t, a.Home, b.Info())
	cl = diary.NewClient(a.Client(t))
	if got, err := cl.List(ctx, "", 50); err != nil || dates(got) != "2026-12-01 2026-11-20 " {
		t.Fatalf("after a restart: %s %v", dates(got), err)
	}
	if after, err := a.Store().LastArrival(); err != nil || after != before {
		t.Fatalf("the arrival log moved from %d to %d (%v): something was written for the network", before, after, err)
	}
	for name, n := range map[string]*nodetest.Node{"a": a, "b": b} {
		if found := nodetest.ScanFor(t, n, map[string][]byte{"entry": []byte(secret), "words": []byte("RAIN again")}); len(found) != 0 {
			t.Errorf("%s's store holds %v in the clear", name, found)
		}
	}
	// And the peer holds none of the sealed entries either.
	sealed := map[string][]byte{}
	i := 0
	if err := a.Store().Scan(func(k, v []byte) error {
		if a.Store().TableOf(k) == "diary" {
			sealed[fmt.Sprint("sealed ", i)] = v
			i++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(sealed) != 2 {
		t.Fatalf("a holds %d sealed entries, want 2", len(sealed))
	}
	if found := nodetest.ScanFor(t, b, sealed); len(found) != 0 {
		t.Errorf("b's store holds %v", found)
	}
}

// An entry shared as a moment reaches a contact's feed and stays in the
// diary; a start of its ID is enough, one that fits nothing is not found.
func TestShareAsMoment(t *testing.T) {
	ctx := context.Background()
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	nodetest.Befriend(t, a, b)
	cl := diary.NewClient(a.Client(t))
	e, err := cl.Add(ctx, "2026-12-01", "the mango tree flowered")
	if err != nil {
		t.Fatal(err)
	}
	sh, err := cl.Share(ctx, e.ID[:6])
	if err != nil {
		t.Fatal(err)
	}
	if sh.Entry.ID != e.ID || sh.Moment == "" {
		t.Fatalf("shared %+v", sh)
	}
	nodetest.Eventually(t, 15*time.Second, "the moment in the contact's feed", func() (bool, string) {
		posts, _, err := b.Moments().Feed(store.Cursor{}, 10)
		if err != nil {
			return false, err.Error()
		}
		for _, p := range posts {
			if p.Text == "the mango tree flowered" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d posts", len(posts))
	})
	if left, err := cl.List(ctx, "mango", 10); err != nil || len(left) != 1 {
		t.Errorf("after sharing, the diary holds %v (%v)", left, err)
	}
	if _, err := cl.Share(ctx, "ffffffffff"); !api.IsStatus(err, http.StatusNotFound) {
		t.Errorf("sharing an entry that is not there: %v", err)
	}
}
