package pay_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/node/pay"
	"github.com/banyan-mesh/banyan/store"
	"github.com/banyan-mesh/banyan/wallet"
)

// walletWait bounds every wait of the wallet envelope test.
const walletWait = 30 * time.Second

// agree waits until every node holds the same ledger state.
func agree(t *testing.T, what string, nodes []*nodetest.Node) {
	t.Helper()
	nodetest.Eventually(t, walletWait, what, func() (bool, string) {
		h := nodes[0].Wallet().Ledger().StateHash()
		for i, n := range nodes[1:] {
			if n.Wallet().Ledger().StateHash() != h {
				var lens []int
				for _, m := range nodes {
					lens = append(lens, m.Wallet().Ledger().Len())
				}
				return false, fmt.Sprintf("node %d differs; entries %v", i+1, lens)
			}
		}
		return true, ""
	})
}

// isInputErr reports whether err is a refusal of the wallet service.
func isInputErr(err error) bool {
	var ie *pay.WalletInputError
	return errors.As(err, &ie)
}

// A guarantor grants limits; A sends red envelopes to a group, the members
// claim them by ID, and A's node settles each once every share is claimed.
// Then refunds never exceed the original, and a payment request is paid
// once across two payers.
func TestWalletEnvelopeRefundRequest(t *testing.T) {
	ctx := context.Background()
	gHome, gAcct := walletHome(t)
	aHome, aAcct := walletHome(t)
	bHome, bAcct := walletHome(t)
	cHome, cAcct := walletHome(t)
	dHome, dAcct := walletHome(t)
	opt := withWallet(gAcct)

	a := nodetest.StartWith(t, aHome, opt)
	b := nodetest.StartWith(t, bHome, opt, a.Info())
	c := nodetest.StartWith(t, cHome, opt, a.Info(), b.Info())
	d := nodetest.StartWith(t, dHome, opt, a.Info(), c.Info())
	g := nodetest.StartWith(t, gHome, opt, a.Info(), b.Info())
	nodes := []*nodetest.Node{g, a, b, c, d}
	for _, who := range []wallet.Account{aAcct, bAcct, cAcct} {
		if _, err := g.Wallet().Grant(ctx, who.String(), 500); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range nodes {
		nodetest.Eventually(t, walletWait, fmt.Sprintf("node %d to see the grants", i), func() (bool, string) {
			l := n.Wallet().Ledger()
			return l.Limit(aAcct) == 500 && l.Limit(bAcct) == 500 && l.Limit(cAcct) == 500,
				fmt.Sprint(l.Limit(aAcct), l.Limit(bAcct), l.Limit(cAcct))
		})
	}
	members := []*nodetest.Node{a, b, c, d}
	grp := nodetest.JoinAll(t, members)

	// Envelope 1: 100 in 3 shares, claimed by B, C and D.
	before := balances(a, aAcct, bAcct, cAcct, dAcct)
	env1 := sendEnvelope(t, a, grp, 100, 3, members[1:])
	claim(t, b, env1)
	claim(t, c, env1)
	nodetest.Eventually(t, walletWait, "A to hold two claims of envelope 1", func() (bool, string) {
		info, _ := a.Wallet().Ledger().Envelope(env1)
		return len(info.Claims) == 2, fmt.Sprint(len(info.Claims))
	})
	if info, _ := a.Wallet().Ledger().Envelope(env1); info.Settled {
		t.Fatal("envelope 1 settled with a share unclaimed and long before its expiry")
	}
	// A claimant cannot claim twice; the sender cannot claim at all.
	if _, err := b.Wallet().Claim(ctx, env1); err != nil {
		// A second claim may be written, but it must not earn a second share
		// (checked below); a refusal is fine too.
		t.Logf("second claim by B refused: %v", err)
	}
	if _, err := a.Wallet().Claim(ctx, env1); err == nil || !isInputErr(err) {
		t.Errorf("the sender claimed its own envelope: %v", err)
	}
	claim(t, d, env1)
	checkSettled(t, nodes, env1, 100, 3, before, aAcct, bAcct, cAcct, dAcct)

	// Envelope 2: 50 in 2 shares, claimed by B and C.
	before = balances(a, aAcct, bAcct, cAcct)
	env2 := sendEnvelope(t, a, grp, 50, 2, members[1:3])
	claim(t, b, env2)
	claim(t, c, env2)
	checkSettled(t, nodes, env2, 50, 2, before, aAcct, bAcct, cAcct)
	// A late claim on a settled envelope earns nothing.
	if e, err := d.Wallet().Claim(ctx, env2); err == nil {
		agree(t, "the late claim to spread", nodes)
		if info, _ := d.Wallet().Ledger().Envelope(env2); info.Shares[dAcct] != 0 {
			t.Errorf("a late claim %s earned %d", e.ID, info.Shares[dAcct])
		}
	}
	agree(t, "all nodes to agree after the envelopes", nodes)

	// Refunds: A pays B 40; B refunds 15, then cannot refund 30, then
	// refunds the remaining 25, then nothing more.
	pay, err := a.Wallet().Pay(ctx, bAcct.String(), 40, "eggs")
	if err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, walletWait, "B to hold A's payment", func() (bool, string) {
		left, err := b.Wallet().Ledger().Refundable(pay.ID)
		return err == nil && left == 40, fmt.Sprint(left, err)
	})
	// The balances with the payment made, before any refund.
	aBal, bBal := a.Wallet().Ledger().Balance(aAcct), b.Wallet().Ledger().Balance(bAcct)
	if _, err := b.Wallet().Refund(ctx, pay.ID, 15); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Wallet().Refund(ctx, pay.ID, 30); !errors.Is(err, wallet.ErrRefundExceeds) || !isInputErr(err) {
		t.Errorf("refund of 30 after 15 of 40: %v", err)
	}
	if _, err := b.Wallet().Refund(ctx, pay.ID, 41); err == nil || !isInputErr(err) {
		t.Errorf("refund of 41 of 40: %v", err)
	}
	rest, err := b.Wallet().Refund(ctx, pay.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if info, ok := b.Wallet().Ledger().Entry(rest.ID); !ok || info.Entry.Amount != 25 || info.Status != wallet.StatusOK {
		t.Errorf("refund of the rest: %+v", info)
	}
	for _, amount := range []uint64{0, 1} {
		if _, err := b.Wallet().Refund(ctx, pay.ID, amount); !errors.Is(err, wallet.ErrRefundExceeds) || !isInputErr(err) {
			t.Errorf("refund of %d of a fully refunded payment: %v", amount, err)
		}
	}
	agree(t, "all nodes to agree after the refunds", nodes)
	for i, n := range nodes {
		l := n.Wallet().Ledger()
		if left, err := l.Refundable(pay.ID); err != nil || left != 0 {
			t.Errorf("node %d: refundable %d, %v", i, left, err)
		}
		if got := l.Balance(aAcct); got != aBal+40 {
			t.Errorf("node %d: A's balance %d, want %d (refunded all 40)", i, got, aBal+40)
		}
		if got := l.Balance(bAcct); got != bBal-40 {
			t.Errorf("node %d: B's balance %d, want %d", i, got, bBal-40)
		}
	}

	// A payment request of C's, paid by A, cannot be paid again by B.
	req, err := c.Wallet().Request(20, "rice", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	link := req.Link()
	cBal := c.Wallet().Ledger().Balance(cAcct)
	first, err := a.Wallet().PayRequest(ctx, link)
	if err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, walletWait, "B to hold A's payment of the request", func() (bool, string) {
		_, ok := b.Wallet().Ledger().Entry(first.ID)
		return ok, ""
	})
	if _, err := b.Wallet().PayRequest(ctx, link); !errors.Is(err, wallet.ErrAlreadyPaid) || !isInputErr(err) {
		t.Errorf("second payer of a request: %v", err)
	}
	if _, err := a.Wallet().PayRequest(ctx, link); !errors.Is(err, wallet.ErrAlreadyPaid) || !isInputErr(err) {
		t.Errorf("first payer paying a request again: %v", err)
	}
	nodetest.Eventually(t, walletWait, "C to receipt the request's payment", func() (bool, string) {
		l := c.Wallet().Ledger()
		return l.Balance(cAcct) == cBal+20 && len(l.Unreceipted(cAcct)) == 0, fmt.Sprint(l.Balance(cAcct))
	})
	agree(t, "all nodes to agree at the end", nodes)
	for i, n := range nodes {
		l := n.Wallet().Ledger()
		if s := sumBalances(l); s != 0 {
			t.Errorf("node %d: balances sum to %d", i, s)
		}
		if got := l.Balance(cAcct); got != cBal+20 {
			t.Errorf("node %d: C's balance %d, want %d (the request paid once)", i, got, cBal+20)
		}
		if len(l.FraudProofs()) != 0 {
			t.Errorf("node %d: fraud proofs", i)
		}
	}
}

// sendEnvelope sends a red envelope from s to group grp and waits until
// every claimant has its announcement and the envelope.
func sendEnvelope(t *testing.T, s *nodetest.Node, g *groupchat.Group, total uint64, count int, claimants []*nodetest.Node) event.ID {
	t.Helper()
	e, err := s.Wallet().SendEnvelope(context.Background(), hex.EncodeToString(g.ID[:]), total, count)
	if err != nil {
		t.Fatal(err)
	}
	if info, ok := s.Wallet().Ledger().Envelope(e.ID); !ok || info.Total != total || info.Count != count || info.Held != int64(total) {
		t.Fatalf("envelope %+v %v", info, ok)
	}
	for i, n := range claimants {
		nodetest.Eventually(t, walletWait, fmt.Sprintf("claimant %d to see the announcement and the envelope", i), func() (bool, string) {
			msgs, _, err := n.Groups().History(nodetest.GroupOn(t, n, g), store.Cursor{}, 1000)
			if err != nil {
				return false, err.Error()
			}
			announced := false
			for _, m := range msgs {
				if strings.Contains(m.Text, "envelope claim "+e.ID.String()) {
					announced = true
				}
			}
			_, held := n.Wallet().Ledger().Envelope(e.ID)
			return announced && held, fmt.Sprint(announced, held)
		})
	}
	return e.ID
}

func claim(t *testing.T, n *nodetest.Node, env event.ID) {
	t.Helper()
	e, err := n.Wallet().Claim(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if info, ok := n.Wallet().Ledger().Entry(e.ID); !ok || info.Status != wallet.StatusOK {
		t.Fatalf("claim %+v", info)
	}
}

func balances(n *nodetest.Node, accts ...wallet.Account) map[wallet.Account]int64 {
	m := map[wallet.Account]int64{}
	for _, a := range accts {
		m[a] = n.Wallet().Ledger().Balance(a)
	}
	return m
}

// checkSettled waits until every node sees env settled, and checks the
// shares: one of at least 1 per claimant, summing with what was returned
// to the total, credited to the claimants and debited from the sender.
func checkSettled(t *testing.T, nodes []*nodetest.Node, env event.ID, total uint64, count int, before map[wallet.Account]int64, sender wallet.Account, claimants ...wallet.Account) {
	t.Helper()
	for i, n := range nodes {
		nodetest.Eventually(t, walletWait, fmt.Sprintf("node %d to see the envelope settled", i), func() (bool, string) {
			info, ok := n.Wallet().Ledger().Envelope(env)
			return ok && info.Settled, fmt.Sprintf("%d claims", len(info.Claims))
		})
	}
	agree(t, "all nodes to agree on the settlement", nodes)
	for i, n := range nodes {
		l := n.Wallet().Ledger()
		info, _ := l.Envelope(env)
		if info.Held != 0 {
			t.Errorf("node %d: escrow still holds %d", i, info.Held)
		}
		if len(info.Shares) != count || len(claimants) != count {
			t.Errorf("node %d: %d shares for %d claimants, want %d", i, len(info.Shares), len(claimants), count)
		}
		var sum uint64
		for _, a := range claimants {
			share := info.Shares[a]
			if share < 1 {
				t.Errorf("node %d: claimant %s got %d", i, a, share)
			}
			sum += share
			if got, want := l.Balance(a), before[a]+int64(share); got != want {
				t.Errorf("node %d: claimant %s balance %d, want %d", i, a, got, want)
			}
		}
		if sum+info.Returned != total {
			t.Errorf("node %d: shares %v sum to %d, returned %d, total %d", i, info.Shares, sum, info.Returned, total)
		}
		if info.Returned != 0 {
			t.Errorf("node %d: %d returned though every share was claimed", i, info.Returned)
		}
		if got, want := l.Balance(sender), before[sender]-int64(total-info.Returned); got != want {
			t.Errorf("node %d: sender balance %d, want %d", i, got, want)
		}
		if s := sumBalances(l); s != 0 {
			t.Errorf("node %d: balances sum to %d", i, s)
		}
	}
}
