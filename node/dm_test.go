package node

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/crypto/ratchet"
	"github.com/banyan-mesh/banyan/store"
)

// befriend makes a and b contacts: b adds a's code, a accepts.
func befriend(t *testing.T, a, b *testNode) {
	t.Helper()
	ctx := context.Background()
	if _, err := b.DMs().Add(ctx, a.DMs().Code()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "a to get b's request", func() (bool, string) {
		c, err := a.Store().Contact(b.ID())
		return err == nil && c.State == store.ContactPending, fmt.Sprint(c, err)
	})
	c, _ := a.Store().Contact(b.ID())
	if _, err := a.DMs().Accept(ctx, c); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "b to see the acceptance", func() (bool, string) {
		c, err := b.Store().Contact(a.ID())
		return err == nil && c.State == store.ContactAccepted, fmt.Sprint(c, err)
	})
}

func dmTexts(t *testing.T, n *testNode, p peer.ID) []string {
	t.Helper()
	ms, err := n.Store().DMs(p, time.Time{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Text)
	}
	return out
}

// A writes to B while B is offline; C holds the envelope; A leaves; B comes
// online and meets only C; B reads the message, and A later sees it
// delivered. C's database holds neither the text nor who sent it.
func TestPrivateMessageThroughMailbox(t *testing.T) {
	ctx := context.Background()
	aHome, bHome := Home(t.TempDir()), Home(t.TempDir())
	a := startNode(t, aHome)
	c := startNode(t, "", a.info())
	b := startNode(t, bHome, a.info())
	befriend(t, a, b)

	b.stop()
	const secret = "the goat is hiding in the old mill"
	contact, err := a.Store().Contact(b.ID())
	if err != nil {
		t.Fatal(err)
	}
	m, err := a.DMs().Send(ctx, contact, secret)
	if err != nil {
		t.Fatal(err)
	}
	env := event.ID(m.Envelope)
	eventually(t, 20*time.Second, "c to carry the envelope", func() (bool, string) {
		has, err := c.Store().HasEvent(env)
		return has, fmt.Sprint(err)
	})
	a.stop()

	b = startNode(t, bHome, c.info())
	eventually(t, 30*time.Second, "b to read the message", func() (bool, string) {
		texts := dmTexts(t, b, a.ID())
		return len(texts) == 1 && texts[0] == secret, fmt.Sprint(texts)
	})

	// A comes back and learns, through C, that B has it.
	a = startNode(t, aHome, c.info())
	eventually(t, 30*time.Second, "a to see 'delivered'", func() (bool, string) {
		got, err := a.Store().DMByID(m.ID)
		return err == nil && got.Status == statusDelivered, fmt.Sprint(got, err)
	})

	// What C keeps: no text, no sender.
	aBundle := ratchet.NewKeys(mustIdentity(t, aHome)).Bundle()
	forbidden := map[string][]byte{
		"the text":            []byte(secret),
		"a's identity key":    aBundle.IdentityKey[:],
		"a's DM key":          aBundle.DHKey[:],
		"a's peer ID":         []byte(a.ID()),
		"a's peer ID as text": []byte(a.ID().String()),
	}
	// C was connected to A, so its peer book ('p') and its record of
	// whom it synced with ('w') name A: that is what the connection itself
	// told C. Nothing about the message may.
	found := scanFor(t, c, forbidden, 'p', 'w')
	if len(found) > 0 {
		t.Fatalf("c's database contains %v", found)
	}
	// The same scan does find the envelope on C and the text on A, so it
	// would have caught them.
	if got := scanFor(t, c, map[string][]byte{"envelope": env[:]}); len(got) == 0 {
		t.Fatal("scan did not find the envelope on c: the scan is broken")
	}
	if got := scanFor(t, a, map[string][]byte{"text": []byte(secret)}); len(got) == 0 {
		t.Fatal("scan did not find the text on a, its author: the scan is broken")
	}
}

func mustIdentity(t *testing.T, h Home) *crypto.Identity {
	t.Helper()
	id, err := h.Identity(nil)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// scanFor lists which of the byte strings occur in any key or value of n's
// store, except under the given table prefixes.
func scanFor(t *testing.T, n *testNode, needles map[string][]byte, skip ...byte) []string {
	t.Helper()
	seen := map[string]bool{}
	err := n.Store().Scan(func(k, v []byte) error {
		if bytes.IndexByte(skip, k[0]) >= 0 {
			return nil
		}
		for name, b := range needles {
			if bytes.Contains(k, b) || bytes.Contains(v, b) {
				seen[name] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for name := range seen {
		out = append(out, name)
	}
	return out
}
