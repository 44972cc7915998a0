package moments_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/crypto/ratchet"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/node/moments"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/node/private"
	"github.com/banyan-mesh/banyan/store"
)

// Sizes of the benchmark's village.
const (
	benchContacts  = 100
	benchPerPerson = 10
)

// prepare writes, into the store of a home whose node is not running,
// contacts accepted already and, optionally, events.
func prepare(b *testing.B, h home.Home, friends []*crypto.Identity, evs []*event.Event) {
	b.Helper()
	st, err := store.Open(store.Options{Dir: h.StoreDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	t, err := st.Table("contacts")
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range friends {
		c := &private.Contact{ID: f.PeerID(), Bundle: ratchet.NewKeys(f).Bundle().Encode(), State: private.ContactAccepted, Added: time.Now()}
		if err := store.PutJSON(t, []byte(c.ID), c); err != nil {
			b.Fatal(err)
		}
	}
	if len(evs) > 0 {
		if _, err := st.PutEvents(evs, store.PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func newHome(b *testing.B) (home.Home, *crypto.Identity) {
	b.Helper()
	h := home.Home(b.TempDir())
	id, err := h.Init(nil)
	if err != nil {
		b.Fatal(err)
	}
	return h, id
}

// village makes 100 people who each posted 10 moments over the past week,
// sealed to their audience: themselves and the viewer.
func village(b *testing.B, viewer *crypto.Identity) ([]*crypto.Identity, []*event.Event) {
	b.Helper()
	var people []*crypto.Identity
	var evs []*event.Event
	viewerDH := ratchet.NewKeys(viewer).Bundle().DHKey
	weekAgo := time.Now().Add(-7 * 24 * time.Hour).UnixMilli()
	step := int64(7*24*time.Hour/time.Millisecond) / (benchPerPerson + 1)
	for i := range benchContacts {
		id, err := crypto.NewIdentity()
		if err != nil {
			b.Fatal(err)
		}
		people = append(people, id)
		scope := moments.ScopeOf(id.PublicKey())
		key, err := crypto.NewKey()
		if err != nil {
			b.Fatal(err)
		}
		own := ratchet.NewKeys(id).Bundle().DHKey
		kp, err := moments.KeyPayload(scope, 1, key, [][]byte{own[:], viewerDH[:]})
		if err != nil {
			b.Fatal(err)
		}
		var prev []byte
		for seq := uint64(1); seq <= benchPerPerson+1; seq++ {
			body := event.Body{Scope: scope[:], Seq: seq, Prev: prev, Time: weekAgo + int64(seq)*step + int64(i)*1000}
			if seq == 1 {
				body.Kind, body.Payload = moments.KindKey, kp
			} else {
				text := fmt.Sprintf("moment %d of person %d: the rains came early to the upper fields this year", seq-1, i)
				if body.Payload, err = moments.PostPayload(key, scope, id.PublicKey(), seq, 1, text); err != nil {
					b.Fatal(err)
				}
				body.Kind = moments.KindPost
			}
			e, err := event.Sign(id, body)
			if err != nil {
				b.Fatal(err)
			}
			evs = append(evs, e)
			prev = e.ID[:]
		}
	}
	return people, evs
}

// A viewer back after a week: a neighbour's node holds 1,000 moments of
// the viewer's 100 contacts; the viewer's node starts, syncs with it and
// opens every moment. Reported: the time from start to the whole feed,
// and the time to open the first page (20 moments, with likes and
// comments) through the API.
func BenchmarkFeedCatchUp(b *testing.B) {
	vhome, vid := newHome(b)
	people, evs := village(b, vid)
	chome, _ := newHome(b)
	prepare(b, chome, people, evs)
	carrier := nodetest.Start(b, chome)
	var catchUp, firstPage time.Duration
	for b.Loop() {
		b.StopTimer()
		h := home.Home(b.TempDir())
		if err := copyIdentity(vhome, h); err != nil {
			b.Fatal(err)
		}
		prepare(b, h, people, nil)
		b.StartTimer()
		start := time.Now()
		v := nodetest.Start(b, h, peer.AddrInfo{ID: carrier.ID(), Addrs: carrier.Host().Addrs()})
		nodetest.Eventually(b, 5*time.Minute, "the whole feed", func() (bool, string) {
			ps, _, err := v.Moments().Feed(store.Cursor{}, 2000)
			return err == nil && len(ps) == benchContacts*benchPerPerson, fmt.Sprintf("%d moments", len(ps))
		})
		catchUp += time.Since(start)
		cl := moments.NewClient(v.Client(b))
		const pages = 20
		t0 := time.Now()
		for range pages {
			f, err := cl.Feed(context.Background(), 20, "")
			if err != nil || len(f.Moments) != 20 || f.Unread != benchContacts*benchPerPerson {
				b.Fatalf("first page: %v, %v", f, err)
			}
		}
		firstPage += time.Since(t0) / pages
		b.StopTimer()
		v.Stop()
		b.StartTimer()
	}
	b.ReportMetric(catchUp.Seconds()/float64(b.N), "s/catchup")
	b.ReportMetric(float64(firstPage.Microseconds())/1000/float64(b.N), "ms/firstpage")
}

func copyIdentity(from, to home.Home) error {
	id, err := from.Identity(nil)
	if err != nil {
		return err
	}
	return id.WriteKeyFile(to.KeyFile(), nil)
}
