package pay_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/node/pay"
)

// A payment shows on the payee's event stream.
func TestWalletEventsOnStream(t *testing.T) {
	ctx := context.Background()
	aHome, aAcct := walletHome(t)
	bHome, _ := walletHome(t)
	opt := withWallet(aAcct)
	a := nodetest.StartWith(t, aHome, opt)
	b := nodetest.StartWith(t, bHome, opt, a.Info())
	ca := a.Client(t)
	cb := b.Client(t)
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
	if _, err := pay.NewClient(ca).Limit(ctx, pay.LimitIn{Account: b.ID().String(), Limit: 50}); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, "B's limit", func() (bool, string) {
		w, err := pay.NewClient(cb).Wallet(ctx)
		return err == nil && w.Limit == 50, fmt.Sprint(w, err)
	})
	payment, err := pay.NewClient(cb).Pay(ctx, pay.PayIn{To: a.ID().String(), Amount: 7, Memo: "eggs"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-got:
			var line pay.Line
			if err := ev.Decode(&line); err != nil {
				t.Fatal(err)
			}
			if line.Entry == payment.ID {
				if line.Type != "pay" || line.Amount != 7 || line.Memo != "eggs" {
					t.Fatalf("payment event %+v", line)
				}
				return
			}
		case <-deadline:
			t.Fatal("the payment never reached A's event stream")
		}
	}
}
