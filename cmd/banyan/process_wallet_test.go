package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// copyHome copies a stopped node's data directory (its identity and its
// store): a copied device.
func copyHome(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		switch rel {
		case "lock", "api.addr":
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Two payers pay one request at the same moment: the payee accepts one,
// and the other's command fails saying so. Then a copied device double
// spends: the fraud proof is exported with 'frauds --proof' and checked
// alone, with no node, by 'verify-proof'.
func TestProcessWalletRaceAndFraudProof(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	gHome, shopHome, aHome, bHome := filepath.Join(dir, "g"), filepath.Join(dir, "shop"), filepath.Join(dir, "a"), filepath.Join(dir, "b")
	r := runCLI("init", "--home", gHome)
	if r.code != 0 {
		t.Fatal(r)
	}
	gID := strings.TrimSpace(r.stdout)
	g := startWalletNode(t, "G", gHome, gID)
	infoG := waitUp(t, g)
	shop := startWalletNode(t, "S", shopHome, gID, infoG.Addrs...)
	infoS := waitUp(t, shop)
	a := startWalletNode(t, "A", aHome, gID, append(infoG.Addrs, infoS.Addrs...)...)
	b := startWalletNode(t, "B", bHome, gID, append(infoG.Addrs, infoS.Addrs...)...)
	infoA, infoB := waitUp(t, a), waitUp(t, b)
	waitFor(t, "S to connect to A and B", func() (bool, string) { return hasPeers(shop, infoA.PeerID, infoB.PeerID) })
	for _, who := range []string{infoA.PeerID, infoB.PeerID} {
		var e pay.Entry
		mustJSON(t, g, &e, "wallet", "limit", "grant", who, "300")
	}
	for _, p := range []*nodeProc{a, b} {
		waitFor(t, p.name+" to see its limit", func() (bool, string) {
			w, err := walletBalance(p)
			return err == nil && w.Limit == 300, fmt.Sprint(w, err)
		})
	}

	// The race.
	r = runCLI("wallet", "request", "50", "rice", "--home", shop.home)
	if r.code != 0 {
		t.Fatal(r)
	}
	var link string
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(l, "banyan:pay1.") {
			link = strings.TrimSpace(l)
		}
	}
	results := make([]result, 2)
	var wg sync.WaitGroup
	for i, p := range []*nodeProc{a, b} {
		wg.Go(func() { results[i] = runCLI("wallet", "pay-request", link, "--wait", "20s", "--home", p.home) })
	}
	wg.Wait()
	won, lost := 0, 0
	for _, res := range results {
		switch {
		case res.code == 0 && strings.Contains(res.stdout, "the payee accepted it"):
			won++
		case res.code != 0 && strings.Contains(res.stderr, "already paid"):
			lost++
			t.Logf("the loser was told (exit %d): %s", res.code, strings.TrimSpace(res.stderr))
		default:
			t.Errorf("a payer: %s", res)
		}
	}
	if won != 1 || lost != 1 {
		t.Fatalf("%d payers accepted, %d told they lost:\n%s\n%s", won, lost, results[0], results[1])
	}
	waitFor(t, "S to be paid once", func() (bool, string) {
		w, err := walletBalance(shop)
		return err == nil && w.Balance == 50 && w.Unreceipted == 0, fmt.Sprint(w, err)
	})

	// A copied device: A's data directory, copied while A is stopped,
	// pays offline while A pays online.
	if err := a.stop(waitTimeout); err != nil {
		t.Fatal(err)
	}
	a2Home := filepath.Join(dir, "a2")
	copyHome(t, aHome, a2Home)
	a2 := startWalletNode(t, "A2", a2Home, gID)
	waitUp(t, a2)
	if err := a.start(); err != nil {
		t.Fatal(err)
	}
	waitUp(t, a)
	r = runCLI("wallet", "pay", infoB.PeerID, "40", "offline", "--home", a2.home)
	if r.code != 0 {
		t.Fatalf("the copied device pays offline: %s", r)
	}
	r = runCLI("wallet", "pay", gID, "45", "online", "--home", a.home)
	if r.code != 0 {
		t.Fatalf("the original pays: %s", r)
	}
	if err := a2.stop(waitTimeout); err != nil {
		t.Fatal(err)
	}
	a2.args = append(a2.args, "--peer", infoG.Addrs[0])
	if err := a2.start(); err != nil {
		t.Fatal(err)
	}
	var frauds []pay.Fraud
	waitFor(t, "G to catch the double spending", func() (bool, string) {
		err := cliJSON(g, &frauds, "wallet", "frauds")
		return err == nil && len(frauds) == 1, fmt.Sprint(frauds, err)
	})
	r = runCLI("wallet", "frauds", "--proof", infoA.PeerID, "--home", g.home)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "banyan:fraud1.") {
		t.Fatalf("frauds --proof: %s", r)
	}
	text := strings.TrimSpace(strings.Split(r.stdout, "\n")[0])
	proofFile := filepath.Join(dir, "fork.proof")
	if r := runCLI("wallet", "frauds", "--proof", infoA.PeerID, "--out", proofFile, "--home", g.home); r.code != 0 {
		t.Fatal(r)
	}
	// verify-proof runs alone: no --home, no node anywhere near.
	for _, arg := range []string{text, proofFile} {
		r := runCLI("wallet", "verify-proof", arg)
		t.Logf("verify-proof: %s", strings.TrimSpace(r.stdout))
		if r.code != 0 || !strings.Contains(r.stdout, "valid fraud proof") || !strings.Contains(r.stdout, infoA.PeerID) ||
			!strings.Contains(r.stdout, fmt.Sprintf("at #%d", frauds[0].Seq)) {
			t.Errorf("verify-proof %.40s: %s", arg, r)
		}
	}
	tampered := text[:len(text)-10] + strings.Repeat("A", 10)
	if r := runCLI("wallet", "verify-proof", tampered); r.code == 0 {
		t.Errorf("a tampered proof verified: %s", r)
	}
	if r := runCLI("wallet", "verify-proof", filepath.Join(dir, "no such file")); r.code == 0 {
		t.Errorf("verify-proof of nothing: %s", r)
	}
}
