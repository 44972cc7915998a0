package clock_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/goleak"

	"github.com/banyan-mesh/banyan/mesh/clock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.DiscardHandler)

func newHost(t *testing.T) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// serve runs a clock on h whose time is off by offset, until the test ends.
func serve(t *testing.T, h host.Host, offset time.Duration) *clock.Clock {
	t.Helper()
	c := clock.New(h, clock.Options{Now: func() time.Time { return time.Now().Add(offset) }, Tolerance: 5 * time.Minute, Logger: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Serve(ctx); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Over real libp2p hosts, a node a day ahead of its two peers is told so,
// and the peers, who agree with each other, are not.
func TestSkewOverTheWire(t *testing.T) {
	ha, hb, hc := newHost(t), newHost(t), newHost(t)
	a := serve(t, ha, 24*time.Hour)
	b := serve(t, hb, 0)
	c := serve(t, hc, 0)
	ctx := context.Background()
	for _, pair := range [][2]host.Host{{ha, hb}, {ha, hc}, {hb, hc}} {
		if err := pair[0].Connect(ctx, peer.AddrInfo{ID: pair[1].ID(), Addrs: pair[1].Addrs()}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every clock to hear from both peers", func() bool {
		return a.Skew().Peers == 2 && b.Skew().Peers == 2 && c.Skew().Peers == 2
	})
	if off, ok := b.Offset(ha.ID()); !ok || off < 24*time.Hour-time.Second || off > 24*time.Hour+time.Second {
		t.Errorf("b sees a's clock %v ahead, want a day", off)
	}
	sk := a.Skew()
	if sk.Ahead < 24*time.Hour-time.Second || !strings.Contains(sk.Warning, "1 day ahead of 2 peers' clocks; others cannot accept your messages") {
		t.Errorf("a's skew: %+v", sk)
	}
	for name, cl := range map[string]*clock.Clock{"b": b, "c": c} {
		if sk := cl.Skew(); sk.Warning != "" {
			t.Errorf("%s warns though it agrees with one of two peers: %+v", name, sk)
		}
	}
	hb.Close()
	waitFor(t, "a to forget the peer that left", func() bool { return a.Skew().Peers == 1 })
}

// A peer that answers nothing, or is not allowed to ask, gives no offset.
func TestRefusedAsk(t *testing.T) {
	ha, hb := newHost(t), newHost(t)
	c := clock.New(hb, clock.Options{Allow: func(peer.ID) bool { return false }, Logger: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	if err := ha.Connect(context.Background(), peer.AddrInfo{ID: hb.ID(), Addrs: hb.Addrs()}); err != nil {
		t.Fatal(err)
	}
	if _, err := clock.Ask(context.Background(), ha, hb.ID(), time.Now); err == nil {
		t.Fatal("a refused ask gave an offset")
	}
}

func TestWarnings(t *testing.T) {
	const tol = 5 * time.Minute
	for _, tc := range []struct {
		offs []time.Duration
		want string
	}{
		{nil, ""},
		{[]time.Duration{20 * time.Second}, ""},
		{[]time.Duration{-26 * time.Hour}, "your clock is 1 day ahead of the clock of the one peer that answered; others cannot accept your messages until it is fixed"},
		{[]time.Duration{3 * time.Hour, 3 * time.Hour, 0}, "your clock is 3 hours behind 3 peers' clocks; you cannot accept others' messages until it is fixed"},
		{[]time.Duration{-3 * time.Minute, -3 * time.Minute}, "your clock is 3 minutes ahead of 2 peers' clocks; at 5 minutes, others cannot accept your messages"},
		{[]time.Duration{0, 48 * time.Hour}, ""},
		{[]time.Duration{-(24*time.Hour - time.Second)}, "your clock is 1 day ahead of the clock of the one peer that answered; others cannot accept your messages until it is fixed"},
		{[]time.Duration{-(60*time.Minute - time.Second)}, "your clock is 1 hour ahead of the clock of the one peer that answered; others cannot accept your messages until it is fixed"},
	} {
		if got := clock.SkewOf(tc.offs, tol).Warning; got != tc.want {
			t.Errorf("offsets %v: %q, want %q", tc.offs, got, tc.want)
		}
	}
}
