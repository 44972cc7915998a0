package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/groupchat"
)

// zeroMemFrom zeroes every memtable log of a stopped node's store from the
// first record that holds the envelope of message id to the end, as a
// power cut that lost the log's tail would. It fails the test if no log
// holds the message.
func zeroMemFrom(t *testing.T, home, id string) {
	t.Helper()
	raw, err := hex.DecodeString(id)
	if err != nil {
		t.Fatal(err)
	}
	key := append([]byte{'e'}, raw...)
	logs, err := filepath.Glob(filepath.Join(home, "store", "*.mem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range logs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		at := bytes.Index(b, key)
		if at < 0 {
			continue
		}
		clear(b[at:])
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("no memtable log of %s holds message %s (logs: %v)", home, id, logs)
}

// A node killed after sending, whose memtable log then loses its tail (the
// last three messages), comes back without reusing their sequence
// numbers: the newest comes back from the chain's mark, with those before
// it that no store sync had covered yet, the next message follows it, and
// the peer gives back the others (those a store sync had covered, which
// this log lost all the same, as a damaged disk would). No node ever holds
// two messages at one (author, seq).
func TestProcessLostMemtableTail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := startNode(t, "A", filepath.Join(dir, "a"))
	infoA := waitUp(t, a)
	b := startNode(t, "B", filepath.Join(dir, "b"), infoA.Addrs...)
	infoB := waitUp(t, b)
	waitFor(t, "A to connect to B", func() (bool, string) { return hasPeers(a, infoB.PeerID) })
	var g groupchat.GroupInfo
	mustJSON(t, a, &g, "group", "create", "square")
	var inv groupchat.InviteInfo
	mustJSON(t, a, &inv, "group", "invite", "square")
	var jg groupchat.GroupInfo
	mustJSON(t, b, &jg, "group", "join", inv.Code)
	waitGroupMesh(t, "A and B to see each other in the group", g.ID, map[*nodeProc]int{a: 1, b: 1})

	var sent []string
	for i := range 6 {
		sent = append(sent, mustSend(t, a, g.ID, fmt.Sprintf("message %d", i)))
	}
	waitHave(t, b, g.ID, sent)
	a.kill()
	if err := b.stop(waitTimeout); err != nil {
		t.Fatal(err)
	}
	zeroMemFrom(t, a.home, sent[3])

	// A alone: the store lost messages 4 to 6, the mark still has 6.
	if err := a.start(); err != nil {
		t.Fatal(err)
	}
	waitUp(t, a)
	_, have, err := history(a, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Which of messages 4 and 5 the mark kept depends on when the store's
	// last sync ran; the newest is always there.
	for _, id := range missing(have, sent) {
		if id != sent[3] && id != sent[4] {
			t.Fatalf("after the loss A lacks message %s, which is not one of messages 4 and 5 (%v)", id, sent)
		}
	}
	var after groupchat.MessageInfo
	mustJSON(t, a, &after, "send", g.ID, "after the loss")
	if after.Seq != 7 {
		t.Fatalf("the message after the loss has seq %d, want 7", after.Seq)
	}
	sent = append(sent, after.ID)

	if err := b.start(); err != nil {
		t.Fatal(err)
	}
	waitUp(t, b)
	for _, p := range []*nodeProc{a, b} {
		waitHave(t, p, g.ID, sent)
		_, have, err := history(p, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		bySeq := map[uint64][]string{}
		for _, m := range have {
			if m.Author == infoA.PeerID {
				bySeq[m.Seq] = append(bySeq[m.Seq], m.ID)
			}
		}
		for seq, ids := range bySeq {
			if len(ids) != 1 {
				t.Errorf("%s holds %d of A's messages at seq %d", p.name, len(ids), seq)
			}
		}
		if len(bySeq) != 7 {
			t.Errorf("%s holds A's messages at %d positions, want 7", p.name, len(bySeq))
		}
	}
}

// A node whose store lost its MANIFEST refuses to start, and says why,
// instead of starting empty; with the damaged store moved aside it starts
// with its group's key from the vault and gets the history back from its
// peer.
func TestProcessLostManifest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := startNode(t, "A", filepath.Join(dir, "a"))
	infoA := waitUp(t, a)
	b := startNode(t, "B", filepath.Join(dir, "b"), infoA.Addrs...)
	infoB := waitUp(t, b)
	waitFor(t, "A to connect to B", func() (bool, string) { return hasPeers(a, infoB.PeerID) })
	var g groupchat.GroupInfo
	mustJSON(t, a, &g, "group", "create", "square")
	var inv groupchat.InviteInfo
	mustJSON(t, a, &inv, "group", "invite", "square")
	var jg groupchat.GroupInfo
	mustJSON(t, b, &jg, "group", "join", inv.Code)
	waitGroupMesh(t, "A and B to see each other in the group", g.ID, map[*nodeProc]int{a: 1, b: 1})
	var sent []string
	for i := range 3 {
		sent = append(sent, mustSend(t, a, g.ID, fmt.Sprintf("from A %d", i)), mustSend(t, b, g.ID, fmt.Sprintf("from B %d", i)))
	}
	waitHave(t, b, g.ID, sent)
	if err := a.stop(waitTimeout); err != nil {
		t.Fatal(err)
	}
	storeDir := filepath.Join(a.home, "store")
	if err := os.Remove(filepath.Join(storeDir, "MANIFEST")); err != nil {
		t.Fatal(err)
	}

	if err := a.start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "A to refuse its store", func() (bool, string) {
		done, err := a.exited()
		return done && err != nil, fmt.Sprint(done, err)
	})
	if log := tail(a.logPath, 5); !strings.Contains(log, "MANIFEST") || !strings.Contains(log, "empty store") {
		t.Fatalf("A's refusal does not say why:\n%s", log)
	}

	if err := os.Rename(storeDir, storeDir+".damaged"); err != nil {
		t.Fatal(err)
	}
	if err := a.start(); err != nil {
		t.Fatal(err)
	}
	waitUp(t, a)
	var gs []groupchat.GroupInfo
	mustJSON(t, a, &gs, "group", "list")
	if len(gs) != 1 || gs[0].ID != g.ID {
		t.Fatalf("A's groups on a fresh store: %+v", gs)
	}
	waitFor(t, "A and B to meet again", func() (bool, string) { return hasPeers(a, infoB.PeerID) })
	waitHave(t, a, g.ID, sent)
}

// Bytes flipped in a table of a stopped node's store do not hide messages
// in silence: the node sets the table aside when it starts, 'banyan check'
// and 'banyan id' report it, and the peer gives those messages back by
// sync.
func TestProcessDamagedTable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := startNode(t, "A", filepath.Join(dir, "a"))
	infoA := waitUp(t, a)
	b := startNode(t, "B", filepath.Join(dir, "b"), infoA.Addrs...)
	infoB := waitUp(t, b)
	waitFor(t, "A to connect to B", func() (bool, string) { return hasPeers(a, infoB.PeerID) })
	var g groupchat.GroupInfo
	mustJSON(t, a, &g, "group", "create", "square")
	var inv groupchat.InviteInfo
	mustJSON(t, a, &inv, "group", "invite", "square")
	var jg groupchat.GroupInfo
	mustJSON(t, b, &jg, "group", "join", inv.Code)
	waitGroupMesh(t, "A and B to see each other in the group", g.ID, map[*nodeProc]int{a: 1, b: 1})
	ctx := context.Background()
	cl, err := api.Dial(ctx, filepath.Join(b.home, "api.addr"), filepath.Join(b.home, "api.token"))
	if err != nil {
		t.Fatal(err)
	}
	var sent []string
	for i := range 200 {
		m, err := groupchat.NewClient(cl).Send(ctx, g.ID, fmt.Sprintf("%d %s", i, strings.Repeat("y", 2000)))
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, m.ID)
	}
	waitHave(t, a, g.ID, sent)
	if err := a.stop(waitTimeout); err != nil { // flushes the store into tables
		t.Fatal(err)
	}
	tables, _ := filepath.Glob(filepath.Join(a.home, "store", "*.sst"))
	var biggest string
	var size int64
	for _, p := range tables {
		if fi, err := os.Stat(p); err == nil && fi.Size() > size {
			biggest, size = p, fi.Size()
		}
	}
	if biggest == "" {
		t.Fatal("no table in A's store")
	}
	raw, err := os.ReadFile(biggest)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 64 {
		raw[len(raw)/3+i] ^= 0xff
	}
	if err := os.WriteFile(biggest, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	if err := a.start(); err != nil {
		t.Fatal(err)
	}
	waitUp(t, a)
	var ch api.Check
	mustJSON(t, a, &ch, "check")
	if !strings.Contains(ch.Found, "set aside") || !strings.Contains(ch.Found, "fetched again from peers") {
		t.Fatalf("check of a damaged table: %+v", ch)
	}
	t.Logf("check: %+v", ch)
	var n api.Node
	mustJSON(t, a, &n, "id")
	if n.Storage.Damage == "" {
		t.Fatal("banyan id does not show the damage")
	}
	waitFor(t, "A to hold B's messages again", func() (bool, string) { return hasPeers(a, infoB.PeerID) })
	waitHave(t, a, g.ID, sent)
}
