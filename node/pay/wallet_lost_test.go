package pay_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/node/nodetest"
)

// A payer whose store lost its newest entry (put back to a copy taken
// before it paid) pays again without reusing the lost entry's position:
// when it meets the others again nobody proves a fork, nobody is frozen,
// and every payment counts.
func TestWalletLostStoreTailIsNoDoubleSpend(t *testing.T) {
	ctx := context.Background()
	gHome, gAcct := walletHome(t)
	aHome, aAcct := walletHome(t)
	bHome, bAcct := walletHome(t)
	opt := withWallet(gAcct)

	g := nodetest.StartWith(t, gHome, opt)
	a := nodetest.StartWith(t, aHome, opt, g.Info())
	b := nodetest.StartWith(t, bHome, opt, g.Info(), a.Info())
	if _, err := g.Wallet().Grant(ctx, aAcct.String(), 100); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, "a's credit", func() (bool, string) {
		return a.Wallet().Ledger().Limit(aAcct) == 100, ""
	})
	if _, err := a.Wallet().Pay(ctx, bAcct.String(), 10, "eggs"); err != nil {
		t.Fatal(err)
	}
	a.Stop()
	restore := nodetest.SnapshotStore(t, aHome)

	a = nodetest.StartWith(t, aHome, opt, g.Info(), b.Info())
	lost, err := a.Wallet().Pay(ctx, bAcct.String(), 20, "bread")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []*nodetest.Node{g, b} {
		nodetest.Eventually(t, 20*time.Second, "the payment to spread", func() (bool, string) {
			_, ok := n.Wallet().Ledger().Entry(lost.ID)
			return ok, ""
		})
	}
	a.Stop()
	b.Stop()
	g.Stop()
	restore()

	// Alone, a still knows its newest entry and pays after it.
	a = nodetest.StartWith(t, aHome, opt)
	if _, ok := a.Wallet().Ledger().Entry(lost.ID); !ok {
		t.Fatal("the lost entry did not come back from the chain's mark")
	}
	after, err := a.Wallet().Pay(ctx, bAcct.String(), 5, "milk")
	if err != nil {
		t.Fatal(err)
	}
	if after.Seq != lost.Seq+1 || after.PrevID() != lost.ID {
		t.Fatalf("the payment after the loss is at seq %d after %s; want %d after %s", after.Seq, after.PrevID(), lost.Seq+1, lost.ID)
	}

	g = nodetest.StartWith(t, gHome, opt, a.Info())
	b = nodetest.StartWith(t, bHome, opt, a.Info(), g.Info())
	nodes := []*nodetest.Node{g, a, b}
	nodetest.Eventually(t, 30*time.Second, "all three to agree", func() (bool, string) {
		h := a.Wallet().Ledger().StateHash()
		for _, n := range nodes {
			if _, ok := n.Wallet().Ledger().Entry(after.ID); !ok || n.Wallet().Ledger().StateHash() != h {
				return false, fmt.Sprintf("entries %d/%d/%d", g.Wallet().Ledger().Len(), a.Wallet().Ledger().Len(), b.Wallet().Ledger().Len())
			}
		}
		return true, ""
	})
	for i, n := range nodes {
		l := n.Wallet().Ledger()
		if l.Frozen(aAcct) || len(l.FraudProofs()) > 0 {
			t.Errorf("node %d: frozen %v, %d fraud proofs", i, l.Frozen(aAcct), len(l.FraudProofs()))
		}
		if got := l.Balance(aAcct); got != -35 {
			t.Errorf("node %d: a's balance %d, want -35", i, got)
		}
		if got := l.Balance(bAcct); got != 35 {
			t.Errorf("node %d: b's balance %d, want 35", i, got)
		}
	}
}
