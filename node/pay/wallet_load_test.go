package pay_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/node/pay"
)

// A node answers while its wallet loads: it starts, serves its API and
// keeps what peers send. A wallet query made meanwhile gets the loaded
// state, and a payment that arrives meanwhile counts once loaded.
func TestWalletLoadsInTheBackground(t *testing.T) {
	ctx := context.Background()
	gHome, gAcct := walletHome(t)
	aHome, aAcct := walletHome(t)
	bHome, bAcct := walletHome(t)
	opt := withWallet(gAcct)
	a := nodetest.StartWith(t, aHome, opt)
	g := nodetest.StartWith(t, gHome, opt, a.Info())
	if _, err := g.Wallet().Grant(ctx, aAcct.String(), 100); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, "the grant to arrive", func() (bool, string) {
		return a.Wallet().Ledger().Limit(aAcct) == 100, fmt.Sprint(a.Wallet().Ledger().Limit(aAcct))
	})
	b := nodetest.StartWith(t, bHome, opt, a.Info())
	if _, err := a.Wallet().Pay(ctx, bAcct.String(), 5, "eggs"); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, "B to count the first payment", func() (bool, string) {
		return b.Wallet().Ledger().Balance(bAcct) == 5, fmt.Sprint(b.Wallet().Ledger().Balance(bAcct))
	})
	b.Stop()
	for _, n := range []*nodetest.Node{a, g} {
		<-n.Wallet().Loaded()
	}

	release := pay.HoldLoads(t)
	b = nodetest.StartWith(t, bHome, opt, a.Info())
	select {
	case <-b.Wallet().Loaded():
		t.Fatal("B's wallet loaded while its load was held")
	default:
	}
	info, err := b.Client(t).Node(ctx)
	if err != nil || info.PeerID != b.ID().String() {
		t.Fatalf("B's API while its wallet loads: %+v, %v", info, err)
	}
	asked := make(chan *pay.Wallet, 1)
	go func() {
		w, err := pay.NewClient(b.Client(t)).Wallet(ctx)
		if err != nil {
			t.Errorf("wallet query during the load: %v", err)
		}
		asked <- w
	}()
	if _, err := a.Wallet().Pay(ctx, bAcct.String(), 7, "bread"); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, "B to hold the payment that came while it loads", func() (bool, string) {
		return b.Wallet().Held() > 0, fmt.Sprint(b.Wallet().Held())
	})

	release()
	<-b.Wallet().Loaded()
	if w := <-asked; w == nil || w.Balance < 5 {
		t.Fatalf("a query made during the load answered %+v: a half-loaded ledger", w)
	}
	nodetest.Eventually(t, 20*time.Second, "B to count the payment that came while it loaded", func() (bool, string) {
		l := b.Wallet().Ledger()
		return l.Balance(bAcct) == 12 && len(l.Unreceipted(bAcct)) == 0, fmt.Sprint(l.Balance(bAcct), l.Unreceipted(bAcct))
	})
	nodetest.Eventually(t, 20*time.Second, "A and B to agree", func() (bool, string) {
		return a.Wallet().Ledger().StateHash() == b.Wallet().Ledger().StateHash(), ""
	})
	if s := sumBalances(b.Wallet().Ledger()); s != 0 {
		t.Errorf("balances sum to %d", s)
	}
}
