package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/node/private"
)

// Two people become contacts and talk privately, through the CLI; then one
// is away while the other writes, and reads it all on return.
func TestProcessPrivateMessages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := startNode(t, "A", filepath.Join(dir, "a"))
	infoA := waitUp(t, a)
	b := startNode(t, "B", filepath.Join(dir, "b"), infoA.Addrs...)
	c := startNode(t, "C", filepath.Join(dir, "c"), infoA.Addrs...)
	infoB, infoC := waitUp(t, b), waitUp(t, c)
	waitFor(t, "A to connect to B and C", func() (bool, string) { return hasPeers(a, infoB.PeerID, infoC.PeerID) })

	var inv private.CodeInfo
	mustJSON(t, a, &inv, "contact", "invite")
	if !strings.HasPrefix(inv.Link, "banyan:c1.") || inv.QR == "" {
		t.Fatalf("contact invite: %+v", inv)
	}
	// The terminal invite shows the QR code and the code.
	if r := runCLI("contact", "invite", "--home", a.home); r.code != 0 || !strings.Contains(r.stdout, inv.Code) || !strings.Contains(r.stdout, "█") {
		t.Fatalf("contact invite: %s", r)
	}
	// The API serves it as a PNG too.
	if png := fetchPNG(t, a); !strings.HasPrefix(png, "\x89PNG") {
		t.Fatalf("invite.png is not a PNG: %q", png[:min(8, len(png))])
	}

	var added private.ContactInfo
	mustJSON(t, b, &added, "contact", "add", inv.Link)
	if added.PeerID != infoA.PeerID || added.State != "requested" {
		t.Fatalf("added %+v", added)
	}
	waitFor(t, "A to see B's request", func() (bool, string) {
		var cs []private.ContactInfo
		err := cliJSON(a, &cs, "contact", "list")
		return err == nil && len(cs) == 1 && cs[0].State == "pending", fmt.Sprint(cs, err)
	})
	if r := runCLI("contact", "nick", infoB.PeerID, "bo", "--home", a.home); r.code != 0 {
		t.Fatal(r)
	}
	if r := runCLI("contact", "accept", "bo", "--home", a.home); r.code != 0 {
		t.Fatal(r)
	}
	waitFor(t, "B to see the acceptance", func() (bool, string) {
		var cs []private.ContactInfo
		err := cliJSON(b, &cs, "contact", "list")
		return err == nil && len(cs) == 1 && cs[0].State == "accepted", fmt.Sprint(cs, err)
	})

	var m private.DMInfo
	mustJSON(t, a, &m, "dm", "send", "bo", "are you coming to the market?")
	waitFor(t, "B to get A's message and A to see it delivered", func() (bool, string) {
		var pb private.DMPage
		if err := cliJSON(b, &pb, "dm", "history", infoA.PeerID); err != nil || len(pb.Messages) != 1 {
			return false, fmt.Sprint(pb, err)
		}
		var pa private.DMPage
		err := cliJSON(a, &pa, "dm", "history", "bo")
		return err == nil && len(pa.Messages) == 1 && pa.Messages[0].Status == "delivered", fmt.Sprint(pa, err)
	})
	// Reading it tells A.
	if r := runCLI("dm", "history", infoA.PeerID, "--read", "--home", b.home); r.code != 0 || !strings.Contains(r.stdout, "market") {
		t.Fatal(r)
	}
	waitFor(t, "A to see it read", func() (bool, string) {
		var pa private.DMPage
		err := cliJSON(a, &pa, "dm", "history", "bo")
		return err == nil && len(pa.Messages) == 1 && pa.Messages[0].Status == "read", fmt.Sprint(pa, err)
	})

	// B goes away; A writes three messages; C carries them; B comes back.
	if err := b.stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	var sent []string
	for i := range 3 {
		var m private.DMInfo
		mustJSON(t, a, &m, "dm", "send", "bo", fmt.Sprintf("while you were away %d", i))
		sent = append(sent, m.ID)
	}
	if err := b.start(); err != nil {
		t.Fatal(err)
	}
	waitUp(t, b)
	waitFor(t, "B to collect what A wrote while it was away", func() (bool, string) {
		var pb private.DMPage
		if err := cliJSON(b, &pb, "dm", "history", infoA.PeerID); err != nil {
			return false, err.Error()
		}
		var got []string
		for _, m := range pb.Messages {
			got = append(got, m.ID)
		}
		for _, id := range sent {
			if !slices.Contains(got, id) {
				return false, fmt.Sprintf("has %d messages", len(got))
			}
		}
		return true, ""
	})

	// Mistakes get clear errors.
	if r := runCLI("dm", "send", "nobody", "hi", "--home", a.home); r.code != 1 || !strings.Contains(r.stderr, "no such contact") {
		t.Errorf("dm to an unknown contact: %s", r)
	}
	if r := runCLI("contact", "add", "c1.garbage", "--home", a.home); r.code != 1 || !strings.Contains(r.stderr, "contact code") {
		t.Errorf("bad contact code: %s", r)
	}
}

func fetchPNG(t *testing.T, p *nodeProc) string {
	t.Helper()
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(p.home, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	addr, token := read("api.addr"), read("api.token")
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/v1/contacts/invite.png", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	if _, err := io.Copy(&sb, resp.Body); err != nil {
		t.Fatal(err)
	}
	return sb.String()
}
