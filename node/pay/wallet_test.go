package pay_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/node/pay"
	"github.com/banyan-mesh/banyan/wallet"
)

// walletHome initialises a home and returns it with its wallet account.
func walletHome(t *testing.T) (home.Home, wallet.Account) {
	t.Helper()
	h := home.Home(t.TempDir())
	id, err := h.Init(nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := wallet.AccountOf(id.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return h, a
}

func withWallet(guarantors ...wallet.Account) func(*node.Options) {
	return func(o *node.Options) {
		o.Wallet.Unit = "testunit"
		for _, g := range guarantors {
			o.Wallet.Guarantors = append(o.Wallet.Guarantors, g.String())
		}
	}
}

func sumBalances(l *wallet.Ledger) int64 {
	var s int64
	for _, b := range l.Balances() {
		s += b
	}
	return s
}

// A guarantor grants limits to A and B and leaves; A and B, connected only
// to each other, pay each other; then they meet C and all three agree.
func TestWalletPaymentsConverge(t *testing.T) {
	ctx := context.Background()
	gHome, gAcct := walletHome(t)
	aHome, aAcct := walletHome(t)
	bHome, bAcct := walletHome(t)
	opt := withWallet(gAcct)

	a := nodetest.StartWith(t, aHome, opt)
	b := nodetest.StartWith(t, bHome, opt, a.Info())
	g := nodetest.StartWith(t, gHome, opt, a.Info(), b.Info())
	for _, who := range []wallet.Account{aAcct, bAcct} {
		if _, err := g.Wallet().Grant(ctx, who.String(), 100); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []*nodetest.Node{a, b} {
		nodetest.Eventually(t, 20*time.Second, "the grants to arrive", func() (bool, string) {
			l := n.Wallet().Ledger()
			return l.Limit(aAcct) == 100 && l.Limit(bAcct) == 100, fmt.Sprint(l.Limit(aAcct), l.Limit(bAcct))
		})
	}
	g.Stop()

	if _, err := a.Wallet().Pay(ctx, bAcct.String(), 30, "eggs"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Wallet().Pay(ctx, aAcct.String(), 10, "bread"); err != nil {
		t.Fatal(err)
	}
	// Both payments received and receipted on both sides.
	for _, n := range []*nodetest.Node{a, b} {
		nodetest.Eventually(t, 20*time.Second, "payments and receipts", func() (bool, string) {
			l := n.Wallet().Ledger()
			return l.Balance(aAcct) == -20 && l.Balance(bAcct) == 20 &&
					len(l.Unreceipted(aAcct)) == 0 && len(l.Unreceipted(bAcct)) == 0 && l.Len() == 6,
				fmt.Sprint(l.Balance(aAcct), l.Balance(bAcct), l.Len())
		})
	}
	if got := a.Wallet().Ledger().Account(bAcct).Spendable; got != 20 {
		t.Errorf("B's spendable = %d, want 20", got)
	}

	c := nodetest.StartWith(t, "", opt, a.Info())
	nodes := []*nodetest.Node{a, b, c}
	nodetest.Eventually(t, 30*time.Second, "all three to agree", func() (bool, string) {
		h := a.Wallet().Ledger().StateHash()
		for _, n := range nodes {
			if n.Wallet().Ledger().StateHash() != h {
				return false, fmt.Sprintf("entries %d/%d/%d", a.Wallet().Ledger().Len(), b.Wallet().Ledger().Len(), c.Wallet().Ledger().Len())
			}
		}
		return true, ""
	})
	for _, n := range nodes {
		l := n.Wallet().Ledger()
		if s := sumBalances(l); s != 0 {
			t.Errorf("balances sum to %d", s)
		}
		if l.Balance(aAcct) != -20 || l.Balance(bAcct) != 20 {
			t.Errorf("balances %d %d", l.Balance(aAcct), l.Balance(bAcct))
		}
	}
}

// One identity runs on two devices in two parts of the network; each pays
// someone else at the same chain position. When the parts meet, every node
// holds the fraud proof and freezes the account.
func TestWalletDoubleSpendDetected(t *testing.T) {
	ctx := context.Background()
	pHome, pAcct := walletHome(t)
	qHome, qAcct := walletHome(t)
	x1Home, xAcct := walletHome(t)
	x2Home := home.Home(t.TempDir())
	key, err := os.ReadFile(x1Home.KeyFile())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(x2Home.KeyFile(), key, 0o600); err != nil {
		t.Fatal(err)
	}
	// P and Q are both guarantors, so each part can grant X credit.
	opt := withWallet(pAcct, qAcct)
	p := nodetest.StartWith(t, pHome, opt)
	q := nodetest.StartWith(t, qHome, opt)
	x1 := nodetest.StartWith(t, x1Home, opt, p.Info())
	x2 := nodetest.StartWith(t, x2Home, opt, q.Info())
	if x1.ID() != x2.ID() {
		t.Fatal("the copied identity differs")
	}
	if _, err := p.Wallet().Grant(ctx, xAcct.String(), 50); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Wallet().Grant(ctx, xAcct.String(), 50); err != nil {
		t.Fatal(err)
	}
	for _, x := range []*nodetest.Node{x1, x2} {
		nodetest.Eventually(t, 20*time.Second, "X's credit", func() (bool, string) {
			return x.Wallet().Ledger().Limit(xAcct) > 0, ""
		})
	}
	e1, err := x1.Wallet().Pay(ctx, pAcct.String(), 40, "first")
	if err != nil {
		t.Fatal(err)
	}
	e2, err := x2.Wallet().Pay(ctx, qAcct.String(), 40, "second")
	if err != nil {
		t.Fatal(err)
	}
	if e1.Seq != e2.Seq || e1.ID == e2.ID {
		t.Fatalf("payments at %d and %d", e1.Seq, e2.Seq)
	}
	nodetest.Eventually(t, 20*time.Second, "each payee to hold its payment", func() (bool, string) {
		_, ok1 := p.Wallet().Ledger().Entry(e1.ID)
		_, ok2 := q.Wallet().Ledger().Entry(e2.ID)
		return ok1 && ok2, ""
	})

	// Heal: P meets Q.
	if err := p.Host().Connect(ctx, q.Info()); err != nil {
		t.Fatal(err)
	}
	for i, n := range []*nodetest.Node{p, q, x1, x2} {
		nodetest.Eventually(t, 30*time.Second, fmt.Sprintf("node %d to hold the fraud proof", i), func() (bool, string) {
			l := n.Wallet().Ledger()
			return l.Frozen(xAcct) && len(l.FraudProofs()) > 0, fmt.Sprint(l.Len())
		})
	}
	for _, n := range []*nodetest.Node{p, q} {
		if s := sumBalances(n.Wallet().Ledger()); s != 0 {
			t.Errorf("balances sum to %d", s)
		}
	}
	if _, err := x1.Wallet().Pay(ctx, pAcct.String(), 1, "more"); err == nil {
		t.Error("a frozen account could still pay")
	}
}

// The wallet API: a guarantor grants credit, a payee requests, the payer
// pays the request link, the statement shows it, and bad input is a 400.
func TestWalletAPI(t *testing.T) {
	ctx := context.Background()
	aHome, aAcct := walletHome(t)
	bHome, bAcct := walletHome(t)
	opt := withWallet(aAcct)
	a := nodetest.StartWith(t, aHome, opt)
	b := nodetest.StartWith(t, bHome, opt, a.Info())
	ca := a.Client(t)
	cb := b.Client(t)
	if _, err := pay.NewClient(ca).Limit(ctx, pay.LimitIn{Account: b.ID().String(), Limit: 500}); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, "B's limit", func() (bool, string) {
		w, err := pay.NewClient(cb).Wallet(ctx)
		return err == nil && w.Limit == 500, fmt.Sprint(w, err)
	})
	req, err := pay.NewClient(ca).Request(ctx, pay.RequestIn{Amount: 120, Memo: "rice", ExpiryS: 3600})
	if err != nil || req.QR == "" {
		t.Fatal(req, err)
	}
	e, err := pay.NewClient(cb).PayRequest(ctx, req.Link)
	if err != nil || e.Status != "ok" || e.Balance != -120 {
		t.Fatal(e, err)
	}
	if _, err := pay.NewClient(cb).PayRequest(ctx, req.Link); err == nil {
		t.Error("a request was paid twice")
	}
	nodetest.Eventually(t, 20*time.Second, "A to receipt the payment", func() (bool, string) {
		w, err := pay.NewClient(ca).Wallet(ctx)
		return err == nil && w.Balance == 120 && w.Spendable == 120, fmt.Sprint(w, err)
	})
	csv, err := pay.NewClient(ca).CSV(ctx)
	if err != nil || !strings.HasPrefix(string(csv), "time,entry,") || !strings.Contains(string(csv), "rice") {
		t.Fatalf("csv %q, %v", csv, err)
	}
	lines, err := pay.NewClient(ca).History(ctx)
	if err != nil || len(lines) == 0 {
		t.Fatal(lines, err)
	}
	if _, err := pay.NewClient(cb).Pay(ctx, pay.PayIn{To: aAcct.String(), Amount: 0}); !isStatus(err, 400) {
		t.Errorf("zero amount: %v", err)
	}
	if _, err := pay.NewClient(cb).Pay(ctx, pay.PayIn{To: aAcct.String(), Amount: 10_000}); !isStatus(err, 400) {
		t.Errorf("over the limit: %v", err)
	}
	if _, err := pay.NewClient(cb).Pay(ctx, pay.PayIn{To: "nobody", Amount: 1}); !isStatus(err, 400) {
		t.Errorf("unknown payee: %v", err)
	}
	if fs, err := pay.NewClient(ca).Frauds(ctx); err != nil || len(fs) != 0 {
		t.Errorf("frauds %v %v", fs, err)
	}
	_ = bAcct
}

func isStatus(err error, status int) bool {
	var se *api.StatusError
	return errors.As(err, &se) && se.Status == status
}

func TestMain(m *testing.M) { nodetest.VerifyNoLeaks(m) }
