package private_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/node/private"
	"github.com/banyan-mesh/banyan/store"
)

// fakeMail is an envelope of bucket b as anyone can make: a one-time key
// and a sealed-looking payload.
func fakeMail(t *testing.T, b int) *event.Event {
	t.Helper()
	scope := private.MailboxScope(b)
	payload := make([]byte, 1024)
	rand.Read(payload)
	e, err := event.Sign(newID(t), event.Body{Scope: scope[:], Seq: 1, Time: time.Now().UnixMilli(), Kind: event.KindSealed, Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// A carrier over its mail quota evicts the mail of whoever gave it the
// most, keeps the others', and does not take back by sync what it evicted.
func TestMailQuotaIsFairAndFinal(t *testing.T) {
	const perBucket = 20 << 10
	small := func(o *node.Options) { o.Mailbox.Quota = private.MailboxBuckets * perBucket }
	carrier := nodetest.StartWith(t, "", small)
	holder := nodetest.Start(t, "") // holds everything, to sync from later
	var honest, flood [][]byte
	for range 5 {
		honest = append(honest, fakeMail(t, 3).Raw)
	}
	for range 60 {
		flood = append(flood, fakeMail(t, 3).Raw)
	}
	sendRaw(t, carrier, honest...) // from one peer
	sendRaw(t, carrier, flood...)  // from others, 50 at most each
	nodetest.Eventually(t, 20*time.Second, "the carrier to look at all of it", func() (bool, string) {
		n, _ := carrier.Store().CountAfter(private.MailboxScope(3), store.Cursor{})
		bytes, _ := carrier.Store().ScopeBytes(private.MailboxScope(3))
		return bytes <= perBucket && n > 0, fmt.Sprintf("%d envelopes, %d bytes", n, bytes)
	})
	for i, raw := range honest {
		id, _ := event.PeekID(raw)
		if has, _ := carrier.Store().HasEvent(id); !has {
			t.Fatalf("honest mail %d was evicted", i)
		}
	}
	// The holder has the flood too, and offers it.
	if _, _, err := holder.Engine().Accept(private.MailboxScope(3), append(honest, flood...)); err != nil {
		t.Fatal(err)
	}
	before, _ := carrier.Store().ScopeBytes(private.MailboxScope(3))
	if err := carrier.Host().Connect(context.Background(), holder.Info()); err != nil {
		t.Fatal(err)
	}
	st, err := carrier.Syncer().SyncPeer(context.Background(), holder.ID())
	if err != nil {
		t.Fatal(err)
	}
	if st.EventsGot != 0 {
		t.Fatalf("sync brought %d envelopes: what was evicted came back", st.EventsGot)
	}
	after, _ := carrier.Store().ScopeBytes(private.MailboxScope(3))
	if after > before {
		t.Fatalf("sync brought back evicted mail: %d bytes before, %d after", before, after)
	}
}
