package moments_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"slices"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/moments"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/store"
)

func TestMain(m *testing.M) { nodetest.VerifyNoLeaks(m) }

const wait = 30 * time.Second

func jpegOf(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := range 48 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{uint8(4 * x), uint8(5 * y), 90, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func post(t *testing.T, n *nodetest.Node, text string, image []byte) *moments.Post {
	t.Helper()
	p, err := n.Moments().Post(context.Background(), text, image)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// info returns n's view of a moment, or nil if n cannot show it.
func info(t *testing.T, n *nodetest.Node, id event.ID) *moments.Info {
	t.Helper()
	m, err := moments.NewClient(n.Client(t)).Moment(context.Background(), id.String())
	if err != nil {
		return nil
	}
	return m
}

func feedIDs(t *testing.T, n *nodetest.Node) []event.ID {
	t.Helper()
	ps, _, err := n.Moments().Feed(store.Cursor{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []event.ID
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

func waitFor(t *testing.T, n *nodetest.Node, what string, cond func(*moments.Info) (bool, string), id event.ID) {
	t.Helper()
	nodetest.Eventually(t, wait, what, func() (bool, string) {
		m := info(t, n, id)
		if m == nil {
			return false, "not there"
		}
		return cond(m)
	})
}

func has(m *moments.Info) (bool, string) { return true, "" }

// A moment reaches the author's contacts, with its picture, likes and
// comments, and nobody else: a peer connected to everyone but nobody's
// contact holds neither its text nor its comments, not even sealed.
func TestMomentsReachContactsOnly(t *testing.T) {
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	stranger := nodetest.Start(t, "", a.Info(), b.Info())
	nodetest.Befriend(t, a, b)
	text, comment := "the mangoes at the lower well are ripe", "I will bring a basket"
	p := post(t, a, text, jpegOf(t))
	waitFor(t, b, "b to see a's moment", has, p.ID)
	got := info(t, b, p.ID)
	if got.Text != text || got.Image == "" || got.Mine || !got.Unread {
		t.Errorf("b sees %+v", got)
	}
	cl := moments.NewClient(b.Client(t))
	if _, err := cl.Like(context.Background(), p.ID.String()[:12], true); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Comment(context.Background(), p.ID.String(), comment); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a, "a to see b's like and comment", func(m *moments.Info) (bool, string) {
		return m.Likes == 1 && len(m.Comments) == 1 && m.Comments[0].Text == comment, fmt.Sprintf("%d likes, %v", m.Likes, m.Comments)
	}, p.ID)
	if found := nodetest.ScanFor(t, stranger, map[string][]byte{"text": []byte(text), "comment": []byte(comment)}); len(found) > 0 {
		t.Errorf("the stranger holds the %v", found)
	}
	if ok, _ := stranger.Store().HasEvent(p.ID); ok {
		t.Error("the stranger holds the moment's envelope")
	}
	if ids := feedIDs(t, stranger); len(ids) > 0 {
		t.Errorf("the stranger's feed shows %d moments", len(ids))
	}
}

// A contact removed (or blocked) cannot read what is posted after that, though
// their node is still connected and receives it; the others can. What
// they had received before stays readable to them.
func TestRemovedContactCannotReadNewMoments(t *testing.T) {
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	d := nodetest.Start(t, "", a.Info())
	nodetest.Befriend(t, a, b)
	nodetest.Befriend(t, a, d)
	before := post(t, a, "before: meet at the school", nil)
	for _, n := range []*nodetest.Node{b, d} {
		waitFor(t, n, "the first moment everywhere", has, before.ID)
	}
	cb, err := a.DMs().Contact(b.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.DMs().Remove(cb); err != nil {
		t.Fatal(err)
	}
	secret := "after: the key is under the third stone"
	after := post(t, a, secret, nil)
	if after.Epoch == before.Epoch {
		t.Fatalf("the audience key was not renewed (epoch %d)", after.Epoch)
	}
	waitFor(t, d, "d to read the moment after the removal", has, after.ID)
	nodetest.Eventually(t, wait, "b's node to receive the sealed moment", func() (bool, string) {
		ok, err := b.Store().HasEvent(after.ID)
		return ok, fmt.Sprint(err)
	})
	if m := info(t, b, after.ID); m != nil {
		t.Errorf("b reads the moment posted after b's removal: %+v", m)
	}
	if found := nodetest.ScanFor(t, b, map[string][]byte{"secret": []byte(secret)}); len(found) > 0 {
		t.Error("b's store holds the text posted after b's removal")
	}
	if m := info(t, b, before.ID); m == nil {
		t.Error("b lost the moment received before the removal")
	}

	// Blocking renews the key too.
	cd, err := a.DMs().Contact(d.ID())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.DMs().Block(cd); err != nil {
		t.Fatal(err)
	}
	blocked := post(t, a, "after blocking d", nil)
	if blocked.Epoch == after.Epoch {
		t.Fatalf("the audience key was not renewed on blocking (epoch %d)", blocked.Epoch)
	}
	nodetest.Eventually(t, wait, "d's node to receive the sealed moment", func() (bool, string) {
		ok, err := d.Store().HasEvent(blocked.ID)
		return ok, fmt.Sprint(err)
	})
	if m := info(t, d, blocked.ID); m != nil {
		t.Errorf("d reads the moment posted after d was blocked: %+v", m)
	}
}

// Likes and comments made while their authors were apart from the author
// and from each other all reach everyone once they meet again.
func TestOfflineReactionsMerge(t *testing.T) {
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	c := nodetest.Start(t, "", a.Info())
	nodetest.Befriend(t, a, b)
	nodetest.Befriend(t, a, c)
	p := post(t, a, "who is coming to the harvest?", nil)
	for _, n := range []*nodetest.Node{b, c} {
		waitFor(t, n, "the moment everywhere", has, p.ID)
	}
	ahome := a.Home
	a.Stop()
	nodetest.Eventually(t, wait, "b and c to be alone", func() (bool, string) {
		return len(b.Host().Network().Peers())+len(c.Host().Network().Peers()) == 0, "still connected"
	})
	for i, n := range []*nodetest.Node{b, c} {
		cl := moments.NewClient(n.Client(t))
		if _, err := cl.Like(context.Background(), p.ID.String(), true); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Comment(context.Background(), p.ID.String(), fmt.Sprintf("count me in, %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	a = nodetest.Start(t, ahome)
	for _, n := range []*nodetest.Node{a, b, c} {
		waitFor(t, n, "every like and comment everywhere", func(m *moments.Info) (bool, string) {
			return m.Likes == 2 && len(m.Comments) == 2, fmt.Sprintf("%d likes, %d comments", m.Likes, len(m.Comments))
		}, p.ID)
	}
	// An unlike later than the like wins.
	if _, err := moments.NewClient(b.Client(t)).Like(context.Background(), p.ID.String(), false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, "b's unlike to reach c", func(m *moments.Info) (bool, string) {
		return m.Likes == 1, fmt.Sprintf("%d likes", m.Likes)
	}, p.ID)
}

// A deleted moment, its picture and the comments on it leave every
// contact's store, and do not come back.
func TestDeletedMomentLeavesEveryStore(t *testing.T) {
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	c := nodetest.Start(t, "", a.Info())
	nodetest.Befriend(t, a, b)
	nodetest.Befriend(t, a, c)
	text, comment := "oops, this was meant for my sister", "too late, I saw it"
	p := post(t, a, text, jpegOf(t))
	keep := post(t, a, "the well is fixed", nil)
	for _, n := range []*nodetest.Node{b, c} {
		waitFor(t, n, "the moments everywhere", has, p.ID)
	}
	if _, err := moments.NewClient(b.Client(t)).Comment(context.Background(), p.ID.String(), comment); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*nodetest.Node{a, c} {
		waitFor(t, n, "the comment everywhere", func(m *moments.Info) (bool, string) { return len(m.Comments) == 1, "no comment" }, p.ID)
	}
	if err := a.Moments().Delete(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	needles := map[string][]byte{"text": []byte(text), "comment": []byte(comment)}
	for name, n := range map[string]*nodetest.Node{"a": a, "b": b, "c": c} {
		nodetest.Eventually(t, wait, name+" to drop the moment", func() (bool, string) {
			ok, _ := n.Store().HasEvent(p.ID)
			return !ok && info(t, n, p.ID) == nil && !slices.Contains(feedIDs(t, n), p.ID), "still there"
		})
		if found := nodetest.ScanFor(t, n, needles); len(found) > 0 {
			t.Errorf("%s still holds the %v", name, found)
		}
		if info(t, n, keep.ID) == nil {
			t.Errorf("%s lost the moment that was not deleted", name)
		}
	}
	// A sync later does not bring it back.
	b.Syncer().Trigger(c.ID())
	b.Syncer().Trigger(a.ID())
	later := post(t, a, "after the sync", nil)
	waitFor(t, b, "a later moment to reach b", has, later.ID)
	if ok, _ := b.Store().HasEvent(p.ID); ok {
		t.Error("the deleted moment came back to b")
	}
}

// A contact added later is given the current audience key: they read
// what was shared since the last time someone left the audience (the
// current epoch), and nothing from before that.
func TestNewContactReadsTheCurrentEpoch(t *testing.T) {
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	nodetest.Befriend(t, a, b)
	old := post(t, a, "before b left: the well is dry", nil)
	cb, err := a.DMs().Contact(b.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.DMs().Remove(cb); err != nil {
		t.Fatal(err)
	}
	current := post(t, a, "after b left: the well is full again", nil)
	if current.Epoch == old.Epoch {
		t.Fatalf("the audience key was not renewed (epoch %d)", current.Epoch)
	}
	c := nodetest.Start(t, "", a.Info())
	nodetest.Befriend(t, a, c)
	waitFor(t, c, "the new contact to read the current epoch's moment", has, current.ID)
	nodetest.Eventually(t, wait, "the new contact's node to hold the older moment, sealed", func() (bool, string) {
		ok, err := c.Store().HasEvent(old.ID)
		return ok, fmt.Sprint(err)
	})
	if m := info(t, c, old.ID); m != nil {
		t.Errorf("the new contact reads a moment of an earlier epoch: %+v", m)
	}
	if ids := feedIDs(t, c); !slices.Equal(ids, []event.ID{current.ID}) {
		t.Errorf("the new contact's feed shows %v, want only %s", ids, current.ID)
	}
}
