package node

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/node/api"
)

// A payment shows on the payee's event stream.
func TestWalletEventsOnStream(t *testing.T) {
	ctx := context.Background()
	aHome, aAcct := walletHome(t)
	bHome, _ := walletHome(t)
	opt := withWallet(aAcct)
	a := startNodeWith(t, aHome, opt)
	b := startNodeWith(t, bHome, opt, a.info())
	ca := a.client(t)
	cb := b.client(t)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan api.Event, 16)
	go ca.Events(sctx, 0, func(ev api.Event) error {
		if ev.Type == "wallet" {
			got <- ev
		}
		return nil
	})
	// A, the guarantor, grants B credit; B pays A.
	if _, err := ca.WalletLimit(ctx, api.WalletLimit{Account: b.ID().String(), Limit: 50}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "B's limit", func() (bool, string) {
		w, err := cb.Wallet(ctx)
		return err == nil && w.Limit == 50, fmt.Sprint(w, err)
	})
	pay, err := cb.WalletPay(ctx, api.WalletPay{To: a.ID().String(), Amount: 7, Memo: "eggs"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-got:
			if ev.Wallet.Entry == pay.ID {
				if ev.Wallet.Type != "pay" || ev.Wallet.Amount != 7 || ev.Wallet.Memo != "eggs" {
					t.Fatalf("payment event %+v", ev.Wallet)
				}
				return
			}
		case <-deadline:
			t.Fatal("the payment never reached A's event stream")
		}
	}
}
