package private_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/node/private"
)

// sendRaw hands envelopes to target on the direct stream from bare libp2p
// hosts, as any peers on the network can; each sends no more than a peer
// may at once.
func sendRaw(t *testing.T, target *nodetest.Node, raws ...[]byte) {
	t.Helper()
	for len(raws) > 50 {
		sendRaw(t, target, raws[:50]...)
		raws = raws[50:]
	}
	h, _ := nodetest.RawHost(t, target)
	defer h.Close() // a fresh peer for each batch, within the limit per address
	ctx := context.Background()
	for _, raw := range raws {
		if err := mesh.SendDirect(ctx, h, mesh.DirectProtocol, target.ID(), raw); err != nil {
			t.Fatal(err)
		}
	}
}

func newID(t *testing.T) *crypto.Identity {
	t.Helper()
	id, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// A stranger who says they are "bob" before the real Bob is added does not
// become "bob": the real Bob does, and "bob" finds him.
func TestStrangerCannotTakeAName(t *testing.T) {
	a := nodetest.StartWith(t, "", nil)
	bob := nodetest.StartWith(t, "", nil)
	stranger := newID(t)
	req, err := a.DMs().MailFrom(stranger, "request", "bob", "")
	if err != nil {
		t.Fatal(err)
	}
	sendRaw(t, a, req.Raw)
	nodetest.Eventually(t, 20*time.Second, "a to hold the stranger's request", func() (bool, string) {
		_, err := a.DMs().Contact(stranger.PeerID())
		return err == nil, fmt.Sprint(err)
	})
	c, _ := a.DMs().Contact(stranger.PeerID())
	if c.Nickname != "" || c.Name != "bob" || c.State != private.ContactPending {
		t.Fatalf("the stranger's contact: %+v", c)
	}
	if _, err := a.DMs().Find("bob"); err == nil {
		t.Fatal(`"bob" names someone before anyone was called that by the user`)
	}
	code := bob.DMs().Code()
	code.Name = "bob"
	added, err := a.DMs().Add(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	if added.Nickname != "bob" {
		t.Fatalf("the real Bob is %q", added.Nickname)
	}
	if got, err := a.DMs().Find("bob"); err != nil || got.ID != bob.ID() {
		t.Fatalf(`"bob" finds %v (%v), want the real Bob`, got, err)
	}
}

// Strangers can make a node keep only so much: requests beyond the bound
// are dropped, a stranger's messages beyond its share are dropped, and
// nobody unaccepted gets a receipt.
func TestStrangersAreBounded(t *testing.T) {
	a := nodetest.StartWith(t, "", nil)
	const strangers = 105
	var raws [][]byte
	chatty := newID(t)
	for i := range 30 {
		e, err := a.DMs().MailFrom(chatty, "text", "", fmt.Sprintf("hello? %d", i))
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, e.Raw)
	}
	for i := range strangers - 1 {
		e, err := a.DMs().MailFrom(newID(t), "text", "", fmt.Sprintf("buy my goat %d", i))
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, e.Raw)
	}
	sendRaw(t, a, raws...)
	nodetest.Eventually(t, 30*time.Second, "a to look at all the mail", func() (bool, string) {
		n := 0
		for _, e := range raws {
			if has, _ := a.Store().HasEvent(mustID(t, e)); has {
				n++
			}
		}
		return n == len(raws), fmt.Sprintf("%d of %d stored", n, len(raws))
	})
	nodetest.Eventually(t, 30*time.Second, "the pending requests to reach the bound", func() (bool, string) {
		n := pending(t, a)
		return n == 100, fmt.Sprintf("%d pending", n)
	})
	if ms, err := a.DMs().Conversation(chatty.PeerID(), time.Time{}, 100); err != nil || len(ms) != 20 {
		t.Fatalf("a stranger got %d messages kept (%v), want 20", len(ms), err)
	}
	if n := a.DMs().PendingReceipts(); n != 0 {
		t.Fatalf("%d receipts wait to go to strangers", n)
	}
}

func pending(t *testing.T, n *nodetest.Node) int {
	t.Helper()
	cs, err := private.NewClient(n.Client(t)).Contacts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	k := 0
	for _, c := range cs {
		if c.State == private.ContactPending {
			k++
		}
	}
	return k
}

func mustID(t *testing.T, raw []byte) event.ID {
	t.Helper()
	id, ok := event.PeekID(raw)
	if !ok {
		t.Fatal("not an envelope")
	}
	return id
}

// The direct stream answers before the receiver tries to open what it
// was given, so a carrier cannot tell by the time of the answer whether
// the receiver is the recipient.
func TestDirectAnswersBeforeOpening(t *testing.T) {
	a := nodetest.StartWith(t, "", nil)
	from := newID(t)
	e, err := a.DMs().MailFrom(from, "text", "", "a secret for a")
	if err != nil {
		t.Fatal(err)
	}
	release := a.DMs().HoldDeliveries()
	sendRaw(t, a, e.Raw) // returns once a has answered
	if ms, _ := a.DMs().Conversation(from.PeerID(), time.Time{}, 10); len(ms) != 0 {
		t.Fatal("the message was opened before the answer")
	}
	release()
	nodetest.Eventually(t, 20*time.Second, "the message to be opened after the answer", func() (bool, string) {
		ms, err := a.DMs().Conversation(from.PeerID(), time.Time{}, 10)
		return err == nil && len(ms) == 1, fmt.Sprint(len(ms), err)
	})
}
