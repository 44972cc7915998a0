package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/groupchat"
)

// A 'banyan run' whose clock is a day ahead (shifted with the test-only
// BANYAN_TEST_CLOCK_OFFSET) is warned in 'banyan id', its two peers are
// not; its message, refused by both as from the future, never shows as
// held by anyone, while it gets theirs.
func TestProcessClockAhead(t *testing.T) {
	t.Parallel()
	a, b, c, g := clockVillage(t, "24h")
	if w := clock(t, a).Warning; !strings.Contains(w, "1 day ahead of 2 peers' clocks; others cannot accept your messages") {
		t.Fatalf("a's warning: %q", w)
	}
	for _, p := range []*nodeProc{b, c} {
		if w := clock(t, p).Warning; w != "" {
			t.Errorf("%s is warned: %q", p.name, w)
		}
	}
	if r := runCLI("id", "--home", a.home); r.code != 0 || !strings.Contains(r.stdout, "1 day ahead") {
		t.Errorf("'banyan id' on a does not show the warning: %s", r)
	}

	mine, err := send(a, g.ID, "from tomorrow")
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := send(b, g.ID, "from today")
	if err != nil {
		t.Fatal(err)
	}
	waitHave(t, a, g.ID, []string{theirs})
	// Both peers were offered a's message and refused it.
	waitFor(t, "b and c to refuse a's message", func() (bool, string) {
		var nb, nc api.Node
		mustJSON(t, b, &nb, "id")
		mustJSON(t, c, &nc, "id")
		fb, fc := nb.Stats.Rejected["from_future"], nc.Stats.Rejected["from_future"]
		return fb > 0 && fc > 0, fmt.Sprintf("b refused %d, c %d", fb, fc)
	})
	_, byID, err := history(a, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m := byID[mine]; m.HeldBy != 0 || m.Status != "stored" {
		t.Errorf("a's refused message shows as %s by %d", m.Status, m.HeldBy)
	}
	for _, p := range []*nodeProc{b, c} {
		if _, byID, err := history(p, g.ID); err != nil || byID[mine].ID != "" {
			t.Errorf("%s holds a's message from tomorrow (%v)", p.name, err)
		}
	}
}

// A 'banyan run' whose clock is a day behind is warned that it cannot
// take others' messages, and refuses them; a message it refused is held
// by the one peer that took it, never by it.
func TestProcessClockBehind(t *testing.T) {
	t.Parallel()
	a, b, c, g := clockVillage(t, "-24h")
	if w := clock(t, a).Warning; !strings.Contains(w, "1 day behind 2 peers' clocks; you cannot accept others' messages") {
		t.Fatalf("a's warning: %q", w)
	}
	for _, p := range []*nodeProc{b, c} {
		if w := clock(t, p).Warning; w != "" {
			t.Errorf("%s is warned: %q", p.name, w)
		}
	}
	m, err := send(b, g.ID, "today")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a to refuse b's message and c to hold it", func() (bool, string) {
		var na api.Node
		mustJSON(t, a, &na, "id")
		_, byID, err := history(b, g.ID)
		if err != nil {
			return false, err.Error()
		}
		f := na.Stats.Rejected["from_future"]
		return f > 0 && byID[m].HeldBy >= 1, fmt.Sprintf("a refused %d; held by %d", f, byID[m].HeldBy)
	})
	if _, byID, err := history(b, g.ID); err != nil || byID[m].HeldBy != 1 {
		t.Errorf("b's message is held by %d (%v), want 1: c, not a whose clock refused it", byID[m].HeldBy, err)
	}
	if _, byID, err := history(a, g.ID); err != nil || byID[m].ID != "" {
		t.Errorf("a holds a message a day in its future (%v)", err)
	}
}

// clockVillage runs B and C, and A whose clock is shifted by offset, all
// three in one group, and waits until each has heard the others' time.
func clockVillage(t *testing.T, offset string) (a, b, c *nodeProc, g groupchat.GroupInfo) {
	t.Helper()
	dir := t.TempDir()
	b = startNode(t, "B", filepath.Join(dir, "b"))
	infoB := waitUp(t, b)
	c = startNode(t, "C", filepath.Join(dir, "c"), infoB.Addrs...)
	infoC := waitUp(t, c)
	a = startNodeEnv(t, "A", filepath.Join(dir, "a"), []string{testClockEnv + "=" + offset}, append(infoB.Addrs, infoC.Addrs...)...)
	waitUp(t, a)
	mustJSON(t, b, &g, "group", "create", "square")
	for _, p := range []*nodeProc{c, a} {
		var inv groupchat.InviteInfo
		mustJSON(t, b, &inv, "group", "invite", "square")
		var jg groupchat.GroupInfo
		mustJSON(t, p, &jg, "group", "join", inv.Code)
	}
	waitGroupMesh(t, "everyone in the group's mesh", g.ID, map[*nodeProc]int{a: 2, b: 2, c: 2})

	waitFor(t, "every node to hear the time from both peers", func() (bool, string) {
		ca, cb, cc := clock(t, a), clock(t, b), clock(t, c)
		return ca.Peers == 2 && cb.Peers == 2 && cc.Peers == 2, fmt.Sprintf("a %+v, b %+v, c %+v", ca, cb, cc)
	})
	return a, b, c, g
}

func clock(t *testing.T, p *nodeProc) api.Clock {
	t.Helper()
	var n api.Node
	mustJSON(t, p, &n, "id")
	return n.Clock
}
