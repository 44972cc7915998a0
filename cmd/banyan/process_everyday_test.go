//go:build linux

package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/pay"
	"github.com/banyan-mesh/banyan/node/people"
	"github.com/banyan-mesh/banyan/node/private"
)

// mustRun runs a command on p's home and returns its stdout.
func mustRun(t *testing.T, p *nodeProc, args ...string) string {
	t.Helper()
	r := runCLI(append(args, "--home", p.home)...)
	if r.code != 0 {
		t.Fatalf("%s: %v", p.name, r)
	}
	return r.stdout
}

// wantOut checks that out says every string of want.
func wantOut(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s does not say %q:\n%s", what, w, out)
		}
	}
}

// A day in the village: alice and bob are contacts; G, who is nobody's
// contact, guarantees the unit. Every output shows a person the same way,
// wallet lines say what happened, IDs work by prefix, red envelopes say
// what becomes of them, mistakes are told in plain words, and deleting
// asks first on a terminal.
func TestProcessEveryDay(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	gHome := filepath.Join(dir, "g")
	r := runCLI("init", "--home", gHome)
	if r.code != 0 {
		t.Fatal(r)
	}
	gID := strings.TrimSpace(r.stdout)
	g := startWalletNode(t, "G", gHome, gID)
	infoG := waitUp(t, g)
	a := startNamedWalletNode(t, "A", filepath.Join(dir, "a"), gID, "alice", infoG.Addrs...)
	b := startNamedWalletNode(t, "B", filepath.Join(dir, "b"), gID, "bob", infoG.Addrs...)
	infoA, infoB := waitUp(t, a), waitUp(t, b)
	waitFor(t, "G to connect to A and B", func() (bool, string) { return hasPeers(g, infoA.PeerID, infoB.PeerID) })
	shortB, shortG := people.Short(infoB.PeerID), people.Short(infoG.PeerID)

	// Bob adds alice's code: alice is "alice" to him. Alice sees bob's
	// request under the name he claims, marked, until she names him.
	var code private.CodeInfo
	mustJSON(t, a, &code, "contact", "invite")
	mustRun(t, b, "contact", "add", code.Link)
	waitFor(t, "A to see B's request", func() (bool, string) {
		out := mustRun(t, a, "contact", "list")
		return strings.Contains(out, "~bob ("+shortB+")"), out
	})
	mustRun(t, a, "contact", "accept", infoB.PeerID)
	mustRun(t, a, "contact", "nick", infoB.PeerID, "bob")
	wantOut(t, "A's contact list", mustRun(t, a, "contact", "list"), "bob ")

	// A group of the three; an invite has a QR code.
	mustRun(t, a, "group", "create", "family")
	inv := mustRun(t, a, "group", "invite", "family")
	wantOut(t, "group invite", inv, "█", "code: g1.", "join with: banyan group join g1.")
	var in groupchat.InviteInfo
	mustJSON(t, a, &in, "group", "invite", "family")
	if in.QR == "" || !strings.HasPrefix(in.Link, "banyan:g1.") {
		t.Fatalf("invite: %+v", in)
	}
	for _, p := range []*nodeProc{b, g} {
		mustRun(t, p, "group", "join", in.Code)
	}
	mustRun(t, a, "group", "create", "empty")
	waitGroupMesh(t, "everyone in the family's topic", mustGroupID(t, a, "family"), map[*nodeProc]int{a: 2, b: 1, g: 1})
	hb := mustSend(t, b, "family", "hello from bob")
	hg := mustSend(t, g, "family", "hello from G")
	waitHave(t, a, "family", []string{hb, hg})
	// Alice sees bob by his nickname and G by his short ID; bob sees
	// alice by the nickname her code gave her; everyone sees themselves
	// as "you".
	wantOut(t, "A's history", mustRun(t, a, "history", "family"), " bob hello from bob", " "+shortG+" hello from G")
	ha := mustSend(t, a, "family", "hello from alice")
	waitHave(t, b, "family", []string{ha})
	wantOut(t, "B's history", mustRun(t, b, "history", "family"), " alice hello from alice", " you hello from bob")

	// history --read marks what it showed; group read marks everything.
	unread := func(p *nodeProc) int {
		var gs []groupchat.GroupInfo
		mustJSON(t, p, &gs, "group", "list")
		for _, g := range gs {
			if g.Name == "family" {
				return g.Unread
			}
		}
		return -1
	}
	if n := unread(b); n != 2 {
		t.Fatalf("B has %d unread, want 2 (G's and alice's)", n)
	}
	mustRun(t, b, "history", "family", "--limit", "2", "--before", lastCursor(t, b, "family"), "--read")
	if n := unread(b); n != 1 {
		t.Errorf("after reading all but the newest, B has %d unread, want 1", n)
	}
	mustRun(t, b, "group", "read", "family")
	if n := unread(b); n != 0 {
		t.Errorf("after group read, B has %d unread", n)
	}

	// Private messages from a contact show their nickname.
	mustRun(t, a, "dm", "send", "bob", "see you at the market")
	waitFor(t, "B to get alice's message", func() (bool, string) {
		out := mustRun(t, b, "dm", "history", "alice")
		return strings.Contains(out, " alice see you at the market"), out
	})

	// The wallet, as people say it.
	mustRun(t, g, "wallet", "limit", "grant", infoA.PeerID, "500")
	waitFor(t, "A to see its limit", func() (bool, string) {
		w, err := walletBalance(a)
		return err == nil && w.Limit == 500, fmt.Sprint(w, err)
	})
	out := mustRun(t, a, "wallet", "pay", "bob", "250", "two", "loaves")
	wantOut(t, "pay", out, "paid bob 250: ok; your balance is -250")
	waitFor(t, "B to accept the payment", func() (bool, string) {
		w, err := walletBalance(b)
		return err == nil && w.Balance == 250 && w.Unreceipted == 0, fmt.Sprint(w, err)
	})
	wantOut(t, "B's statement", mustRun(t, b, "wallet", "history"), "alice paid you 250", "accepted 250 from alice", "two loaves")
	wantOut(t, "A's statement", mustRun(t, a, "wallet", "history"), "paid bob 250", "two loaves")
	var hist []pay.Line
	mustJSON(t, b, &hist, "wallet", "history")
	var payment string
	for _, l := range hist {
		if l.Type == "pay" {
			payment = l.Entry
			if l.With == nil || l.With.Label != "alice" || l.Text != "alice paid you 250" {
				t.Errorf("B's payment line: %+v", l)
			}
		}
	}
	// A refund by the first 8 characters of the payment's ID.
	out = mustRun(t, b, "wallet", "refund", payment[:8], "50")
	wantOut(t, "refund", out, "refunded alice 50: ok")

	// A red envelope says until when it can be claimed and where what is
	// not claimed goes.
	var sent pay.Entry
	mustJSON(t, a, &sent, "wallet", "envelope", "send", "family", "100", "2")
	if sent.Envelope == nil || !strings.Contains(sent.Text, "you put 100 in a red envelope of 2 shares, claimable until") ||
		!strings.Contains(sent.Text, "goes back to you") || !strings.HasPrefix(sent.Envelope.Note, "0 of 2 shares claimed") {
		t.Errorf("envelope send: %+v (%+v)", sent, sent.Envelope)
	}
	waitFor(t, "B to hear of the envelope", func() (bool, string) {
		r := runCLI("wallet", "envelope", "show", sent.ID, "--home", b.home)
		return r.code == 0, r.String()
	})
	wantOut(t, "envelope show", mustRun(t, b, "wallet", "envelope", "show", sent.ID[:6]), "from alice: 100 in 2 shares, claimable until",
		"what nobody has claimed by then goes back to alice")
	out = mustRun(t, b, "wallet", "envelope", "claim", sent.ID[:8])
	wantOut(t, "claim", out, "claimed a share of alice's red envelope", "1 of 2 shares claimed")
	// Alice cannot claim her own; G claims the last share, and the
	// envelope is dealt: bob's claim shows its amount.
	r = runCLI("wallet", "envelope", "claim", sent.ID, "--home", a.home)
	if r.code != 1 || !strings.Contains(r.stderr, "your own red envelope") {
		t.Errorf("alice claims her own envelope: %v", r)
	}
	waitFor(t, "G to see bob's claim", func() (bool, string) {
		out := mustRun(t, g, "wallet", "envelope", "show", sent.ID)
		return strings.Contains(out, "1 of 2 shares claimed"), out
	})
	mustRun(t, g, "wallet", "envelope", "claim", sent.ID)
	share := regexp.MustCompile(`claimed [0-9]+ from alice's red envelope`)
	waitFor(t, "bob to see his share", func() (bool, string) {
		out := mustRun(t, b, "wallet", "history")
		return share.MatchString(out), out
	})
	wantOut(t, "the dealt envelope", mustRun(t, b, "wallet", "envelope", "show", sent.ID), "Dealt: 2 of 2 shares were claimed; yours is ")

	// Mistakes in plain words.
	for _, tc := range []struct {
		p    *nodeProc
		args []string
		want string
	}{
		{a, []string{"wallet", "pay", infoA.PeerID, "5"}, "you cannot pay yourself"},
		{b, []string{"wallet", "limit", "grant", "alice", "5"}, `you are not a guarantor of the unit "village"`},
		{g, []string{"wallet", "limit", "grant", infoG.PeerID, "5"}, "cannot grant credit to themselves"},
		{b, []string{"wallet", "refund", "zz12345"}, "is not an entry ID"},
		{b, []string{"wallet", "refund", "abcdef"}, `no entry starts with "abcdef"`},
	} {
		r := runCLI(append(tc.args, "--home", tc.p.home)...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s %v: want %q, got %v", tc.p.name, tc.args, tc.want, r)
		}
	}
	r = invocation{args: []string{"send", "family", "--home", a.home}, stdin: strings.Repeat("a", 1<<20)}.run()
	if r.code != 1 || !strings.Contains(r.stderr, "a message can be at most 16,384 bytes") {
		t.Errorf("a 1 MB message: %v", r)
	}

	// Blocking, unblocking and removing a contact.
	wantOut(t, "block", mustRun(t, a, "contact", "block", "bob"), "bob: blocked")
	wantOut(t, "unblock", mustRun(t, a, "contact", "unblock", "bob"), "bob: accepted")
	mustRun(t, a, "contact", "remove", "bob", "--yes")
	var cs []private.ContactInfo
	mustJSON(t, a, &cs, "contact", "list")
	for _, c := range cs {
		if c.PeerID == infoB.PeerID && c.Nickname != "" {
			t.Errorf("bob is still a contact: %+v", c)
		}
	}
	// No longer a contact, bob is shown by his short ID.
	wantOut(t, "A's history after removing bob", mustRun(t, a, "history", "family"), " "+shortB+" hello from bob")

	// On a terminal, leaving a group asks first; no is no.
	p := startPty(t, "group", "leave", "family", "--home", a.home)
	p.waitOutput(t, `Leave group "family" and delete its history from this computer? [y/N]`)
	p.typeText(t, "n\n")
	if code := p.wait(t); code != 1 {
		t.Errorf("leave answered no: exit %d", code)
	}
	p.waitOutput(t, "nothing was changed")
	if len(mustRun(t, a, "history", "family")) == 0 {
		t.Error("the history is gone")
	}
	p = startPty(t, "group", "retention", "family", "--keep", "1h", "--home", a.home)
	p.waitOutput(t, `Delete the messages of "family" older than 1 hour from this computer, now and from now on? [y/N]`)
	p.typeText(t, "y\n")
	if code := p.wait(t); code != 0 {
		t.Errorf("retention answered yes: exit %d", code)
	}
	p.waitOutput(t, "family: keeping the last 1 hour")
	mustRun(t, a, "group", "leave", "empty", "--yes")
}

// startNamedWalletNode is startWalletNode for a node whose person gives
// themselves a name.
func startNamedWalletNode(t *testing.T, name, home, guarantor, person string, peers ...string) *nodeProc {
	t.Helper()
	p := &nodeProc{
		name: name, home: home,
		logPath: filepath.Join(filepath.Dir(home), name+".log"),
		args: []string{"run", "--home", home, "--no-mdns", "--api", "127.0.0.1:0", "--log-level", "debug",
			"--listen", "/ip4/127.0.0.1/tcp/0", "--wallet-guarantor", guarantor, "--name", person},
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

// mustGroupID returns the ID of the group named name on p.
func mustGroupID(t *testing.T, p *nodeProc, name string) string {
	t.Helper()
	var gs []groupchat.GroupInfo
	mustJSON(t, p, &gs, "group", "list")
	for _, g := range gs {
		if g.Name == name {
			return g.ID
		}
	}
	t.Fatalf("%s has no group %q: %+v", p.name, name, gs)
	return ""
}

// lastCursor returns the cursor of the newest message of a group on p,
// for a page that ends just before it.
func lastCursor(t *testing.T, p *nodeProc, group string) string {
	t.Helper()
	var page groupchat.Page
	mustJSON(t, p, &page, "history", group, "--limit", "1")
	if len(page.Messages) != 1 {
		t.Fatalf("%s: no messages in %s", p.name, group)
	}
	return page.Messages[0].Cursor
}
