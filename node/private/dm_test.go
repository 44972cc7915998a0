package private_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/crypto/ratchet"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/node/private"
)

func TestMain(m *testing.M) { nodetest.VerifyNoLeaks(m) }

func dmTexts(t *testing.T, n *nodetest.Node, p peer.ID) []string {
	t.Helper()
	ms, err := n.DMs().Conversation(p, time.Time{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Text)
	}
	return out
}

// A burst of messages faster than a peer takes on the direct stream all
// arrive, and the sender is never refused for it: what goes beyond the
// pace goes by sync.
func TestBurstOfMailArrivesAndSenderStaysWelcome(t *testing.T) {
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	nodetest.Befriend(t, a, b)
	contact, err := a.DMs().Contact(b.ID())
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := range n {
		if _, err := a.DMs().Send(context.Background(), contact, fmt.Sprintf("line %d of the harvest list", i)); err != nil {
			t.Fatal(err)
		}
	}
	nodetest.Eventually(t, 60*time.Second, "b to get every message", func() (bool, string) {
		got := len(dmTexts(t, b, a.ID()))
		return got == n, fmt.Sprintf("%d of %d", got, n)
	})
	if th := b.Stats().Rejected()[engine.ReasonThrottled]; th != 0 {
		t.Errorf("b refused %d envelopes from a for coming too fast", th)
	}
	if b.Host().Network().Connectedness(a.ID()) != network.Connected {
		t.Error("b sent a away")
	}
}

// Receipts wait before they go; those still waiting when a node stops are
// sent on its way out, not lost.
func TestReceiptsGoOutOnStop(t *testing.T) {
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	nodetest.Befriend(t, a, b)
	b.DMs().DelayReceipts(time.Hour)
	contact, err := a.DMs().Contact(b.ID())
	if err != nil {
		t.Fatal(err)
	}
	m, err := a.DMs().Send(context.Background(), contact, "see you at the well")
	if err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, "b to hold the message and owe a receipt", func() (bool, string) {
		return len(dmTexts(t, b, a.ID())) == 1 && b.DMs().PendingReceipts() == 1, fmt.Sprint(b.DMs().PendingReceipts())
	})
	b.Stop()
	nodetest.Eventually(t, 20*time.Second, "a to see 'delivered'", func() (bool, string) {
		got, err := a.DMs().DMByID(m.ID)
		return err == nil && got.Status == private.StatusDelivered, fmt.Sprint(got, err)
	})
}

// A writes to B while B is offline; C holds the envelope; A leaves; B comes
// online and meets only C; B reads the message, and A later sees it
// delivered. C's database holds neither the text nor who sent it.
func TestPrivateMessageThroughMailbox(t *testing.T) {
	ctx := context.Background()
	aHome, bHome := home.Home(t.TempDir()), home.Home(t.TempDir())
	a := nodetest.Start(t, aHome)
	c := nodetest.Start(t, "", a.Info())
	b := nodetest.Start(t, bHome, a.Info())
	nodetest.Befriend(t, a, b)

	b.Stop()
	const secret = "the goat is hiding in the old mill"
	contact, err := a.DMs().Contact(b.ID())
	if err != nil {
		t.Fatal(err)
	}
	m, err := a.DMs().Send(ctx, contact, secret)
	if err != nil {
		t.Fatal(err)
	}
	env := event.ID(m.Envelope)
	nodetest.Eventually(t, 20*time.Second, "c to carry the envelope", func() (bool, string) {
		has, err := c.Store().HasEvent(env)
		return has, fmt.Sprint(err)
	})
	a.Stop()

	b = nodetest.Start(t, bHome, c.Info())
	nodetest.Eventually(t, 30*time.Second, "b to read the message", func() (bool, string) {
		texts := dmTexts(t, b, a.ID())
		return len(texts) == 1 && texts[0] == secret, fmt.Sprint(texts)
	})

	// A comes back and learns, through C, that B has it.
	a = nodetest.Start(t, aHome, c.Info())
	nodetest.Eventually(t, 30*time.Second, "a to see 'delivered'", func() (bool, string) {
		got, err := a.DMs().DMByID(m.ID)
		return err == nil && got.Status == private.StatusDelivered, fmt.Sprint(got, err)
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
	// C was connected to A, so its peer book and its record of whom it
	// synced with name A: that is what the connection itself
	// told C. Nothing about the message may.
	found := nodetest.ScanFor(t, c, forbidden, "peers", "synced")
	if len(found) > 0 {
		t.Fatalf("c's database contains %v", found)
	}
	// The same scan does find the envelope on C and the text on A, so it
	// would have caught them.
	if got := nodetest.ScanFor(t, c, map[string][]byte{"envelope": env[:]}); len(got) == 0 {
		t.Fatal("scan did not find the envelope on c: the scan is broken")
	}
	if got := nodetest.ScanFor(t, a, map[string][]byte{"text": []byte(secret)}); len(got) == 0 {
		t.Fatal("scan did not find the text on a, its author: the scan is broken")
	}
}

func mustIdentity(t *testing.T, h home.Home) *crypto.Identity {
	t.Helper()
	id, err := h.Identity(nil)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
