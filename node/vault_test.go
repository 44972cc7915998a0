package node_test

import (
	"os"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/node/nodetest"
)

// A node whose store is lost altogether (damaged beyond opening and moved
// aside) starts again with its groups' keys and its contacts from the
// vault, so that a peer can give it back the history it can still read.
func TestVaultBringsBackKeysAfterTheStoreIsLost(t *testing.T) {
	aHome := home.Home(t.TempDir())
	a := nodetest.Start(t, aHome)
	b := nodetest.Start(t, "", a.Info())
	g := nodetest.JoinAll(t, []*nodetest.Node{a, b})
	nodetest.Befriend(t, a, b)
	sent := nodetest.SendN(t, a, g, 3, "before the loss %d")
	nodetest.Eventually(t, 20*time.Second, "b to hold a's messages", func() (bool, string) { return nodetest.HasAll(t, b, g, sent) })
	a.Stop()
	if err := os.RemoveAll(aHome.StoreDir()); err != nil {
		t.Fatal(err)
	}

	a = nodetest.Start(t, aHome, b.Info())
	got, err := a.Groups().Group(g.ID)
	if err != nil || got.Key != g.Key || got.Name != g.Name {
		t.Fatalf("the group after the loss: %+v, %v", got, err)
	}
	if c, err := a.DMs().Contact(b.ID()); err != nil || c.ID != b.ID() {
		t.Fatalf("the contact after the loss: %v", err)
	}
	nodetest.Eventually(t, 20*time.Second, "a to get its history back from b", func() (bool, string) { return nodetest.HasAll(t, a, g, sent) })
}
