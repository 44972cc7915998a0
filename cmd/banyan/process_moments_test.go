package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/banyan-mesh/banyan/node/moments"
	"github.com/banyan-mesh/banyan/node/private"
	"github.com/banyan-mesh/banyan/node/profile"
)

// Two contacts set profiles and share moments through the CLI: a profile
// names its owner on the other side, a moment with a picture goes across,
// is liked and commented on, and its deletion reaches the other node.
func TestProcessProfileAndMoments(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := startNode(t, "A", filepath.Join(dir, "a"))
	infoA := waitUp(t, a)
	b := startNode(t, "B", filepath.Join(dir, "b"), infoA.Addrs...)
	infoB := waitUp(t, b)
	waitFor(t, "A to connect to B", func() (bool, string) { return hasPeers(a, infoB.PeerID) })
	var inv private.CodeInfo
	mustJSON(t, a, &inv, "contact", "invite")
	var added private.ContactInfo
	mustJSON(t, b, &added, "contact", "add", inv.Link)
	waitFor(t, "A to see B's request", func() (bool, string) {
		var cs []private.ContactInfo
		err := cliJSON(a, &cs, "contact", "list")
		return err == nil && len(cs) == 1 && cs[0].State == "pending", fmt.Sprint(cs, err)
	})
	if r := runCLI("contact", "accept", infoB.PeerID, "--home", a.home); r.code != 0 {
		t.Fatal(r)
	}

	photo := filepath.Join(dir, "photo.png")
	img := image.NewRGBA(image.Rect(0, 0, 2000, 1500))
	for y := range 1500 {
		for x := range 2000 {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), uint8(x * y), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(photo, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	// A photo far larger than a request is shrunk on the way.
	var mine profile.Info
	mustJSON(t, b, &mine, "profile", "set", "--display-name", "Bo the baker", "--place", "Market", "--avatar", photo)
	if mine.Name != "Bo the baker" || mine.Place != "Market" || mine.Avatar == "" {
		t.Fatalf("profile set: %+v", mine)
	}
	waitFor(t, "A to see B by his profile's name", func() (bool, string) {
		var p profile.Info
		err := cliJSON(a, &p, "profile", "show", infoB.PeerID)
		return err == nil && p.Name == "Bo the baker" && strings.HasPrefix(p.Person.Label, "~Bo the baker ("), fmt.Sprint(p, err)
	})
	if r := runCLI("profile", "show", infoB.PeerID, "--home", a.home); r.code != 0 || !strings.Contains(r.stdout, "place:  Market") {
		t.Fatalf("profile show: %s", r)
	}
	var shown profile.Info
	mustJSON(t, b, &shown, "profile", "set", "--show-nearby")
	if !shown.Public || shown.Name != "Bo the baker" {
		t.Fatalf("profile set --show-nearby: %+v", shown)
	}
	if r := runCLI("profile", "set", "--home", a.home); r.code != 2 {
		t.Fatalf("profile set without a field: %s", r)
	}

	var m moments.Info
	mustJSON(t, a, &m, "moments", "post", "--image", photo, "fresh", "bread", "at", "the", "market")
	if m.Text != "fresh bread at the market" || m.Image == "" {
		t.Fatalf("moments post: %+v", m)
	}
	waitFor(t, "B to see A's moment as new", func() (bool, string) {
		var f moments.Feed
		err := cliJSON(b, &f, "moments", "feed", "--keep-unread")
		return err == nil && len(f.Moments) == 1 && f.Moments[0].Unread && f.Unread == 1, fmt.Sprint(f, err)
	})
	id := m.ID[:moments.ShortID]
	var liked moments.Info
	mustJSON(t, b, &liked, "moments", "like", id)
	if !liked.Liked || liked.Likes != 1 {
		t.Fatalf("moments like: %+v", liked)
	}
	// The first 6 or 7 digits find it too, as for groups, events and
	// wallet entries; 5 are refused in plain words.
	mustJSON(t, b, &liked, "moments", "comment", m.ID[:7], "two", "loaves", "please")
	if r := runCLI("moments", "like", m.ID[:5], "--home", b.home); r.code == 0 || !strings.Contains(r.stderr, "give the ID, or its first 6 characters or more") {
		t.Errorf("moments like with 5 digits: %s", r)
	}
	if r := runCLI("moments", "feed", "--home", b.home); r.code != 0 || !strings.Contains(r.stdout, "fresh bread at the market [picture]") || !strings.Contains(r.stdout, "two loaves please") {
		t.Fatalf("moments feed: %s", r)
	}
	waitFor(t, "A to see B's like and comment", func() (bool, string) {
		var f moments.Feed
		err := cliJSON(a, &f, "moments", "feed")
		return err == nil && len(f.Moments) == 1 && f.Moments[0].Likes == 1 && len(f.Moments[0].Comments) == 1, fmt.Sprint(f, err)
	})
	if r := runCLI("moments", "delete", id, "--home", b.home, "--yes"); r.code == 0 {
		t.Fatalf("B deleted A's moment: %s", r)
	}
	if r := runCLI("moments", "delete", id, "--yes", "--home", a.home); r.code != 0 {
		t.Fatal(r)
	}
	waitFor(t, "the deletion to reach B", func() (bool, string) {
		var f moments.Feed
		err := cliJSON(b, &f, "moments", "feed")
		return err == nil && len(f.Moments) == 0, fmt.Sprint(f, err)
	})

	// A diary entry is shared by the ID that 'diary list' shows.
	if r := runCLI("diary", "add", "--home", a.home, "the", "mango", "tree", "flowered"); r.code != 0 {
		t.Fatal(r)
	}
	r := runCLI("diary", "list", "--home", a.home)
	f := strings.Fields(r.stdout)
	if r.code != 0 || len(f) < 3 || len(f[1]) != 8 || f[2] != "the" {
		t.Fatalf("diary list: %s", r)
	}
	if r := runCLI("diary", "share", f[1], "--home", a.home); r.code != 0 || !strings.Contains(r.stdout, "shared the entry") {
		t.Fatalf("diary share %s: %s", f[1], r)
	}
}
