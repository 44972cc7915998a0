package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/banyan-mesh/banyan/node/pay"
)

// startWalletNode is startNode with the unit's guarantor given at start.
func startWalletNode(t *testing.T, name, home, guarantor string, peers ...string) *nodeProc {
	t.Helper()
	p := &nodeProc{
		name: name, home: home,
		logPath: filepath.Join(filepath.Dir(home), name+".log"),
		args: []string{"run", "--home", home, "--no-mdns", "--api", "127.0.0.1:0", "--log-level", "debug",
			"--listen", "/ip4/127.0.0.1/tcp/0", "--listen", "/ip4/127.0.0.1/udp/0/quic-v1",
			"--wallet-guarantor", guarantor},
	}
	for _, pa := range peers {
		p.args = append(p.args, "--peer", pa)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of %s's log (%s):\n%s", p.name, p.logPath, tail(p.logPath, 40))
		}
	})
	t.Cleanup(p.kill)
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	return p
}

func walletBalance(p *nodeProc) (pay.Wallet, error) {
	var w pay.Wallet
	err := cliJSON(p, &w, "wallet", "balance")
	return w, err
}

// A guarantor grants A credit; A pays B and pays B's payment request, once;
// the statement exports as CSV; bad amounts are usage errors.
func TestProcessWallet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	gHome, aHome, bHome := filepath.Join(dir, "g"), filepath.Join(dir, "a"), filepath.Join(dir, "b")

	// The guarantor's ID must be known before any node starts, G's own
	// included: 'banyan init' creates G's identity and prints its peer ID.
	r := runCLI("init", "--home", gHome)
	if r.code != 0 {
		t.Fatal(r)
	}
	gID := strings.TrimSpace(r.stdout)
	g := startWalletNode(t, "G", gHome, gID)
	infoG := waitUp(t, g)
	if infoG.PeerID != gID {
		t.Fatalf("'banyan id' says %s, 'banyan init' said %s", infoG.PeerID, gID)
	}
	a := startWalletNode(t, "A", aHome, gID, infoG.Addrs...)
	b := startWalletNode(t, "B", bHome, gID, infoG.Addrs...)
	infoA, infoB := waitUp(t, a), waitUp(t, b)
	waitFor(t, "G to connect to A and B", func() (bool, string) { return hasPeers(g, infoA.PeerID, infoB.PeerID) })

	if w, err := walletBalance(g); err != nil || !w.Guarantor || w.Balance != 0 {
		t.Fatalf("G's wallet: %+v, %v", w, err)
	}
	if w, err := walletBalance(a); err != nil || w.Guarantor || w.Limit != 0 {
		t.Fatalf("A's wallet: %+v, %v", w, err)
	}

	// G grants A a limit of 300.
	var grant pay.Entry
	mustJSON(t, g, &grant, "wallet", "limit", "grant", infoA.PeerID, "300")
	if grant.Type != "limit" || grant.Status != "ok" {
		t.Fatalf("grant: %+v", grant)
	}
	waitFor(t, "A to see its limit", func() (bool, string) {
		w, err := walletBalance(a)
		return err == nil && w.Limit == 300 && w.Spendable == 0, fmt.Sprint(w, err)
	})

	// A pays B 120.
	var payment pay.Entry
	mustJSON(t, a, &payment, "wallet", "pay", infoB.PeerID, "120", "six", "eggs")
	if payment.Type != "pay" || payment.Status != "ok" || payment.Amount != 120 || payment.Balance != -120 {
		t.Fatalf("pay: %+v", payment)
	}
	waitFor(t, "B to get and accept A's payment", func() (bool, string) {
		w, err := walletBalance(b)
		return err == nil && w.Balance == 120 && w.Spendable == 120 && w.Unreceipted == 0, fmt.Sprint(w, err)
	})

	// B asks for 50; A pays the link; paying it again fails.
	r = runCLI("wallet", "request", "50", "rice", "--home", b.home)
	if r.code != 0 {
		t.Fatal(r)
	}
	var link string
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(l, "banyan:pay1.") {
			link = strings.TrimSpace(l)
		}
	}
	if link == "" || !strings.Contains(r.stdout, "█") || !strings.Contains(r.stdout, "pay-request") {
		t.Fatalf("no link or QR code in the request: %s", r)
	}
	r = runCLI("wallet", "pay-request", link, "--home", a.home)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "paid ") || !strings.Contains(r.stdout, "your balance is -170") {
		t.Fatalf("pay-request: %s", r)
	}
	r = runCLI("wallet", "pay-request", link, "--home", a.home)
	if r.code == 0 || !strings.Contains(r.stderr, "already paid") {
		t.Fatalf("second pay-request: %s", r)
	}
	waitFor(t, "B to get the request's payment", func() (bool, string) {
		w, err := walletBalance(b)
		return err == nil && w.Balance == 170 && w.Unreceipted == 0, fmt.Sprint(w, err)
	})
	if w, err := walletBalance(a); err != nil || w.Balance != -170 {
		t.Fatalf("A paid the request twice? %+v, %v", w, err)
	}

	// The statement as CSV: a header and a row per entry.
	r = runCLI("wallet", "history", "--csv", "--home", b.home)
	if r.code != 0 {
		t.Fatal(r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "time,entry,") || !strings.Contains(r.stdout, "rice") || !strings.Contains(r.stdout, "six eggs") {
		t.Fatalf("history --csv: %s", r)
	}
	var hist []pay.Line
	mustJSON(t, b, &hist, "wallet", "history")
	if len(hist) < 2 {
		t.Fatalf("history: %+v", hist)
	}

	// Bad amounts are usage errors that say what an amount is.
	for _, bad := range []string{"0", "-5", "1.5", "abc"} {
		for _, args := range [][]string{
			{"wallet", "pay", infoA.PeerID, bad},
			{"wallet", "request", bad},
			{"wallet", "refund", payment.ID, bad},
		} {
			r := runCLI(append(args, "--home", b.home)...)
			if r.code != 2 || !strings.Contains(r.stderr, "minor units") {
				t.Errorf("bad amount %q: %s", bad, r)
			}
		}
	}
	if w, err := walletBalance(b); err != nil || w.Balance != 170 {
		t.Errorf("B's wallet after the bad amounts: %+v, %v", w, err)
	}
}
