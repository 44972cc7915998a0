package backup_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/node/backup"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/node/profile"
	"github.com/banyan-mesh/banyan/store"
)

func TestMain(m *testing.M) { nodetest.VerifyNoLeaks(m) }

// backUp makes a backup of the node at h.
func backUp(t *testing.T, h home.Home) *backup.Backup {
	t.Helper()
	id, err := h.Identity(nil)
	if err != nil {
		t.Fatal(err)
	}
	bk, err := backup.Create(backup.Options{Home: h}, id, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return bk
}

// restoreInto restores bk into a new data directory.
func restoreInto(t *testing.T, bk *backup.Backup) home.Home {
	t.Helper()
	restored := home.Home(filepath.Join(t.TempDir(), "restored"))
	if _, err := backup.Restore(backup.Options{Home: restored}, bk, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	return restored
}

// A node restored from a backup onto a new data directory writes nothing
// to a group it was in before until a peer has brought back what it wrote
// there, and then continues its chain: no sequence number is used twice.
// A group it creates after the restore it writes to at once.
func TestRestoredNodeWritesNoForks(t *testing.T) {
	aHome := home.Home(t.TempDir())
	a := nodetest.Start(t, aHome)
	b := nodetest.Start(t, "", a.Info())
	g := nodetest.JoinAll(t, []*nodetest.Node{a, b})
	sent := nodetest.SendN(t, a, g, 3, "before the backup %d")
	bk := backUp(t, aHome)
	// Written after the backup: the restored node must not write at
	// these positions again.
	sent = append(sent, nodetest.SendN(t, a, g, 2, "after the backup %d")...)
	nodetest.Eventually(t, 20*time.Second, "b to hold all five", func() (bool, string) { return nodetest.HasAll(t, b, g, sent) })
	a.Stop()

	restored := restoreInto(t, bk)

	// Alone, it knows the group (the key came back) but not its chain.
	a2 := nodetest.Start(t, restored)
	ga := nodetest.GroupOn(t, a2, g)
	if _, err := a2.Groups().Send(context.Background(), ga, "too early"); !errors.Is(err, engine.ErrCatchingUp) {
		t.Fatalf("a restored node alone wrote to its old group: %v", err)
	}
	if n := a2.Engine().CatchingUp(); n == 0 {
		t.Fatal("the node does not say it is catching up")
	}
	fresh, err := a2.Groups().Create("after the restore")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a2.Groups().Send(context.Background(), fresh, "a new group starts here"); err != nil {
		t.Fatalf("a group created after the restore: %v", err)
	}
	a2.Stop()

	// With b, it gets its five messages back and goes on after them.
	a2 = nodetest.Start(t, restored, b.Info())
	nodetest.Eventually(t, 20*time.Second, "the restored node to reach b", func() (bool, string) {
		return len(a2.Host().Network().Peers()) > 0, "not connected"
	})
	next := nodetest.SendN(t, a2, g, 1, "after the restore %d")
	nodetest.Eventually(t, 20*time.Second, "b to hold the new message", func() (bool, string) { return nodetest.HasAll(t, b, g, next) })
	me, err := crypto.PublicKeyFromPeerID(a2.ID())
	if err != nil {
		t.Fatal(err)
	}
	msgs, _, err := b.Groups().History(nodetest.GroupOn(t, b, g), store.Cursor{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	seqs := map[uint64]int{}
	for _, m := range msgs {
		if string(m.Event.Author) == string(me) {
			seqs[m.Event.Seq]++
		}
	}
	for seq := uint64(1); seq <= 6; seq++ {
		if seqs[seq] != 1 {
			t.Fatalf("b holds %d messages at seq %d of the restored author (all: %v)", seqs[seq], seq, seqs)
		}
	}
	nodetest.Eventually(t, 20*time.Second, "every chain caught up", func() (bool, string) {
		n := a2.Engine().CatchingUp()
		return n == 0, fmt.Sprintf("%d chains catching up", n)
	})
}

// A restored node whose person has contacts gets back its moments and its
// profile from a contact, reads them, and then writes to both again.
func TestRestoredNodeGetsBackItsMomentsAndProfile(t *testing.T) {
	ctx := context.Background()
	aHome := home.Home(t.TempDir())
	a := nodetest.Start(t, aHome)
	b := nodetest.Start(t, "", a.Info())
	nodetest.Befriend(t, a, b)
	if _, err := a.Moments().Post(ctx, "before the backup", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Profiles().Set(ctx, &profile.Fields{Name: "Amina", Place: "Lower well", Bio: "mangoes"}); err != nil {
		t.Fatal(err)
	}
	bk := backUp(t, aHome)
	if _, err := a.Moments().Post(ctx, "after the backup", nil); err != nil {
		t.Fatal(err)
	}
	feed := func(n *nodetest.Node) []string {
		posts, _, err := n.Moments().Feed(store.Cursor{}, 100)
		if err != nil {
			t.Fatal(err)
		}
		var texts []string
		for _, p := range posts {
			texts = append(texts, p.Text)
		}
		return texts
	}
	nodetest.Eventually(t, 20*time.Second, "b to read both moments", func() (bool, string) {
		got := feed(b)
		return len(got) == 2, fmt.Sprint(got)
	})
	a.Stop()

	restored := restoreInto(t, bk)
	a2 := nodetest.Start(t, restored, b.Info())
	nodetest.Eventually(t, 30*time.Second, "every chain caught up", func() (bool, string) {
		n := a2.Engine().CatchingUp()
		return n == 0, fmt.Sprintf("%d chains catching up; rejected %v", n, a2.Stats().Rejected())
	})
	if got := feed(a2); len(got) != 2 {
		t.Errorf("the restored node reads %q of its own moments", got)
	}
	if p, err := a2.Profiles().Profile(a2.ID()); err != nil || p.Sealed || p.Place != "Lower well" || p.Bio != "mangoes" {
		t.Errorf("the restored node's own profile: %+v, %v", p, err)
	}
	if _, err := a2.Moments().Post(ctx, "after the restore", nil); err != nil {
		t.Fatalf("a moment after the restore: %v", err)
	}
	if _, err := a2.Profiles().Set(ctx, &profile.Fields{Name: "Amina", Place: "Upper well"}); err != nil {
		t.Fatalf("a profile after the restore: %v", err)
	}
	nodetest.Eventually(t, 20*time.Second, "b to read the moment written after the restore", func() (bool, string) {
		got := feed(b)
		return len(got) == 3, fmt.Sprint(got)
	})
	r := a2.Stats().Rejected()
	delete(r, engine.ReasonDuplicate) // gossip and sync both bring some
	if len(r) > 0 {
		t.Errorf("the restored node rejected what its contact gave back: %v", r)
	}
}
