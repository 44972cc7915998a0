package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/pay"
)

// A's computer is lost after its backup was made, and after A paid and
// wrote more. The backup is restored on a fresh data directory; the
// restored node refuses to write alone, gets A's chains back from its
// peers, and then pays and sends again: nobody sees a fork, no fraud proof
// is made, and A's balance counts every payment once.
func TestProcessBackupRestore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	gHome, aHome, bHome := filepath.Join(dir, "g"), filepath.Join(dir, "a"), filepath.Join(dir, "b")
	r := runCLI("init", "--home", gHome)
	if r.code != 0 {
		t.Fatal(r)
	}
	gID := strings.TrimSpace(r.stdout)
	g := startWalletNode(t, "G", gHome, gID)
	infoG := waitUp(t, g)
	a := startWalletNode(t, "A", aHome, gID, infoG.Addrs...)
	b := startWalletNode(t, "B", bHome, gID, infoG.Addrs...)
	infoA, infoB := waitUp(t, a), waitUp(t, b)
	waitFor(t, "G to connect to A and B", func() (bool, string) { return hasPeers(g, infoA.PeerID, infoB.PeerID) })
	var e pay.Entry
	mustJSON(t, g, &e, "wallet", "limit", "grant", infoA.PeerID, "500")
	waitFor(t, "A to see its limit", func() (bool, string) {
		w, err := walletBalance(a)
		return err == nil && w.Limit == 500, fmt.Sprint(w, err)
	})
	var grp groupchat.GroupInfo
	mustJSON(t, a, &grp, "group", "create", "family")
	var inv groupchat.InviteInfo
	mustJSON(t, a, &inv, "group", "invite", grp.ID)
	var joined groupchat.GroupInfo
	mustJSON(t, b, &joined, "group", "join", inv.Code)

	mustJSON(t, a, &e, "wallet", "pay", infoB.PeerID, "100", "before the backup")
	sent := []string{mustSend(t, a, grp.ID, "before the backup")}

	passFile := filepath.Join(dir, "backup-pass")
	if err := os.WriteFile(passFile, []byte("a long passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	backupFile := filepath.Join(dir, "a.backup")
	r = runCLI("backup", backupFile, "--backup-passphrase-file", passFile, "--home", aHome)
	if r.code != 0 || !strings.Contains(r.stderr, "1 group") {
		t.Fatalf("backup: %s", r)
	}
	missing := filepath.Join(dir, "no-such-folder")
	if r := runCLI("backup", filepath.Join(missing, "a.backup"), "--backup-passphrase-file", passFile, "--home", aHome); r.code == 0 || !strings.Contains(r.stderr, "there is no folder "+missing) {
		t.Errorf("a backup into a missing folder: %s", r)
	}

	// A goes on after the backup; then its computer is lost.
	mustJSON(t, a, &e, "wallet", "pay", infoB.PeerID, "70", "after the backup")
	sent = append(sent, mustSend(t, a, grp.ID, "after the backup"))
	waitHave(t, b, grp.ID, sent)
	waitFor(t, "B to be paid 170", func() (bool, string) {
		w, err := walletBalance(b)
		return err == nil && w.Balance == 170, fmt.Sprint(w, err)
	})
	a.kill()

	restored := filepath.Join(dir, "restored")
	r = runCLI("restore", backupFile, "--backup-passphrase-file", passFile, "--home", restored)
	if r.code != 0 || strings.TrimSpace(r.stdout) != infoA.PeerID {
		t.Fatalf("restore: %s", r)
	}
	if r := runCLI("restore", backupFile, "--backup-passphrase-file", passFile, "--home", restored); r.code != 1 || !strings.Contains(r.stderr, "has an identity already") {
		t.Fatalf("restore over the restored identity: %s", r)
	}

	// Alone, the restored node knows the group but writes nothing.
	alone := startWalletNode(t, "A-restored-alone", restored, gID)
	info := waitUp(t, alone)
	if info.CatchingUp == 0 {
		t.Fatalf("the restored node does not say it is catching up: %+v", info)
	}
	if r := runCLI("send", grp.ID, "too early", "--home", restored); r.code == 0 || !strings.Contains(r.stderr, "restored from a backup") {
		t.Fatalf("the restored node wrote alone: %s", r)
	}
	if r := runCLI("wallet", "pay", infoB.PeerID, "5", "--home", restored); r.code == 0 || !strings.Contains(r.stderr, "catching up") {
		t.Fatalf("the restored node paid alone: %s", r)
	}
	if err := alone.stop(waitTimeout); err != nil {
		t.Fatal(err)
	}

	// With its peers, it catches up and continues its chains.
	a2 := startWalletNode(t, "A-restored", restored, gID, append(infoG.Addrs, infoB.Addrs...)...)
	waitUp(t, a2)
	waitFor(t, "the restored node to pay", func() (bool, string) {
		r := runCLI("wallet", "pay", infoB.PeerID, "30", "after the restore", "--home", restored)
		return r.code == 0, r.String()
	})
	var next string
	waitFor(t, "the restored node to send", func() (bool, string) {
		id, err := send(a2, grp.ID, "after the restore")
		next = id
		return err == nil, fmt.Sprint(err)
	})
	sent = append(sent, next)
	waitHave(t, b, grp.ID, sent)
	waitFor(t, "B to be paid 200, every payment once", func() (bool, string) {
		w, err := walletBalance(b)
		return err == nil && w.Balance == 200 && w.Unreceipted == 0, fmt.Sprint(w, err)
	})
	if w, err := walletBalance(a2); err != nil || w.Balance != -200 || w.Frozen {
		t.Fatalf("the restored wallet: %+v, %v", w, err)
	}
	for _, p := range []*nodeProc{g, b, a2} {
		var frauds []pay.Fraud
		mustJSON(t, p, &frauds, "wallet", "frauds")
		if len(frauds) != 0 {
			t.Fatalf("%s holds a fraud proof against the restored node: %+v", p.name, frauds)
		}
	}
	// A restored node gets most of its own events twice (gossip and sync):
	// 'banyan id' does not call those copies rejections.
	stats := func() (refused, dup uint64) {
		var n api.Node
		if err := cliJSON(a2, &n, "id"); err != nil {
			t.Fatal(err)
		}
		for why, v := range n.Stats.Rejected {
			if why == engine.ReasonDuplicate {
				dup += v
			} else {
				refused += v
			}
		}
		return refused, dup
	}
	before, dup := stats()
	r = runCLI("id", "--home", restored)
	after, _ := stats()
	var accepted, rejected uint64
	if _, err := fmt.Sscanf(r.stdout[strings.Index(r.stdout, "received"):], "received %d accepted, %d rejected", &accepted, &rejected); err != nil || rejected < before || rejected > after {
		t.Errorf("'banyan id' says %d rejected, the node %d to %d apart from copies (%v): %s", rejected, before, after, err, r.stdout)
	}
	if dup > 0 && !strings.Contains(r.stdout, "already here") {
		t.Errorf("'banyan id' does not say that %d copies were already here: %s", dup, r.stdout)
	}
	// B holds one message of A's at each sequence number.
	_, msgs, err := history(b, grp.ID)
	if err != nil {
		t.Fatal(err)
	}
	seqs := map[uint64]int{}
	for _, m := range msgs {
		if m.Author == infoA.PeerID {
			seqs[m.Seq]++
		}
	}
	if len(seqs) != 3 || seqs[1] != 1 || seqs[2] != 1 || seqs[3] != 1 {
		t.Fatalf("A's messages on B by sequence number: %v", seqs)
	}
}
