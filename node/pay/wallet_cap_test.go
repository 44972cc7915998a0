package pay_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/node/pay"
)

// A payee that bounds what it takes from a payer with unconfirmed spending
// leaves a payment over the bound unaccepted (credited, not spendable)
// until it raises the bound; the bound survives a restart.
func TestWalletAcceptCap(t *testing.T) {
	ctx := context.Background()
	gHome, gAcct := walletHome(t)
	aHome, _ := walletHome(t)
	bHome, bAcct := walletHome(t)
	opt := withWallet(gAcct)
	g := nodetest.StartWith(t, gHome, opt)
	a := nodetest.StartWith(t, aHome, opt, g.Info())
	b := nodetest.StartWith(t, bHome, opt, g.Info())
	ca := a.Client(t)
	if _, err := pay.NewClient(ca).AcceptCap(ctx, pay.AcceptCap{Payer: b.ID().String(), Cap: 10}); err != nil {
		t.Fatal(err)
	}
	// The cap is kept across a restart.
	a.Stop()
	a = nodetest.StartWith(t, aHome, opt, g.Info())
	ca = a.Client(t)
	if w, err := pay.NewClient(ca).Wallet(ctx); err != nil || w.AcceptCaps[bAcct.String()] != 10 {
		t.Fatalf("after restart: %+v, %v", w, err)
	}

	if _, err := g.Wallet().Grant(ctx, b.ID().String(), 100); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, "b's credit", func() (bool, string) {
		return b.Wallet().Ledger().Limit(bAcct) == 100, "no limit yet"
	})
	// A first payment from a clean history is taken.
	if _, err := b.Wallet().Pay(ctx, a.ID().String(), 5, "eggs"); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, "a to accept the first payment", func() (bool, string) {
		w, err := pay.NewClient(ca).Wallet(ctx)
		return err == nil && w.Spendable == 5, fmt.Sprint(w, err)
	})
	// Nobody else has confirmed b's spending: 5 + 20 is over the cap.
	if _, err := b.Wallet().Pay(ctx, a.ID().String(), 20, "a sack of rice"); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, "a to hold the second payment", func() (bool, string) {
		w, err := pay.NewClient(ca).Wallet(ctx)
		return err == nil && w.Balance == 25, fmt.Sprint(w, err)
	})
	if w, _ := pay.NewClient(ca).Wallet(ctx); w.Spendable != 5 || w.Unreceipted != 1 {
		t.Fatalf("a payment over the cap was accepted: %+v", w)
	}
	if _, err := pay.NewClient(ca).AcceptCap(ctx, pay.AcceptCap{Payer: b.ID().String(), Cap: 50}); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, "a to accept it under the new cap", func() (bool, string) {
		w, err := pay.NewClient(ca).Wallet(ctx)
		return err == nil && w.Spendable == 25 && w.Unreceipted == 0, fmt.Sprint(w, err)
	})
}

// A payment that arrives before the payer's credit does (so that the
// payer has no standing yet) is receipted as soon as the credit arrives,
// not at the next periodic pass.
func TestLateCreditWakesReceipt(t *testing.T) {
	ctx := context.Background()
	gHome, gAcct := walletHome(t)
	aHome, _ := walletHome(t)
	bHome, bAcct := walletHome(t)
	opt := withWallet(gAcct)
	b := nodetest.StartWith(t, bHome, opt)
	g := nodetest.StartWith(t, gHome, opt, b.Info())
	a := nodetest.StartWith(t, aHome, opt) // on its own
	grant, err := g.Wallet().Grant(ctx, b.ID().String(), 100)
	if err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, "b's credit", func() (bool, string) {
		return b.Wallet().Ledger().Limit(bAcct) == 100, "no limit yet"
	})
	payment, err := b.Wallet().Pay(ctx, a.ID().String(), 5, "eggs")
	if err != nil {
		t.Fatal(err)
	}
	scope := a.Wallet().Ledger().Scope()
	if _, _, err := a.Engine().Accept(scope, [][]byte{payment.Raw}); err != nil {
		t.Fatal(err)
	}
	// B has no standing that a knows of: the payment waits aside.
	nodetest.Eventually(t, 20*time.Second, "a to hold the payment", func() (bool, string) {
		return a.Wallet().Held() == 1, fmt.Sprint(a.Wallet().Held(), " held")
	})
	if w := a.Wallet().Ledger().Account(a.Wallet().Account()); w.Spendable != 0 || w.Balance != 0 {
		t.Fatalf("the payment counted before the payer's credit was known: %+v", w)
	}
	if _, _, err := a.Engine().Accept(scope, [][]byte{grant.Raw}); err != nil {
		t.Fatal(err)
	}
	// The periodic pass comes every 30 s: well before that, a wakes.
	nodetest.Eventually(t, 15*time.Second, "a to receipt the payment once the credit is known", func() (bool, string) {
		w := a.Wallet().Ledger().Account(a.Wallet().Account())
		return w.Spendable == 5, fmt.Sprintf("%+v", w)
	})
}
