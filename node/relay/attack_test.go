package relay_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/node/relay"
	"github.com/banyan-mesh/banyan/store"
)

// rawPeer is a bare libp2p host, with no Banyan node behind it, connected
// to target.
func rawPeer(t *testing.T, target *nodetest.Node) (host.Host, *crypto.Identity) {
	t.Helper()
	return nodetest.RawHost(t, target)
}

// sendRaw writes b on a new RelayProtocol stream and returns what comes
// back before the stream ends.
func sendRaw(t *testing.T, h host.Host, target *nodetest.Node, b []byte) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	s, err := h.NewStream(ctx, target.ID(), mesh.RelayProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := s.Write(b); err != nil {
		return nil, err
	}
	s.CloseWrite()
	return io.ReadAll(s)
}

func randomScope(t *testing.T) event.Scope {
	t.Helper()
	var sc event.Scope
	rand.Read(sc[:])
	return sc
}

// Hostile requests on RelayProtocol from a raw peer: short, unknown and
// malformed requests get no answer; one peer registers at most
// MaxRelayScopes groups and the relay at most MaxGroups; a peer asking
// too fast is refused; a list shows a peer only its own registrations.
func TestHostileRelayRequests(t *testing.T) {
	r := startRelay(t, nil, relay.Quotas{MaxGroups: mesh.MaxRelayScopes + 4})
	h, _ := rawPeer(t, r)
	ctx := context.Background()

	stray := randomScope(t)
	for name, req := range map[string][]byte{
		"short":               {byte(mesh.RelayAdd), 1, 2, 3},
		"unknown op":          append([]byte{9}, make([]byte, event.ScopeSize)...),
		"op zero":             make([]byte, 1+event.ScopeSize),
		"list with a scope":   append([]byte{byte(mesh.RelayList)}, stray[:]...),
		"nothing but a close": nil,
	} {
		if got, _ := sendRaw(t, h, r, req); len(got) != 0 {
			t.Fatalf("%s request: answered %x", name, got)
		}
	}
	if st, _ := r.Relay().Status(); len(st.Groups) != 0 {
		t.Fatalf("malformed requests registered %d groups", len(st.Groups))
	}

	var mine []event.Scope
	for range mesh.MaxRelayScopes {
		sc := randomScope(t)
		if _, err := mesh.AskRelay(ctx, h, r.ID(), mesh.RelayAdd, sc); err != nil {
			t.Fatal(err)
		}
		mine = append(mine, sc)
	}
	if _, err := mesh.AskRelay(ctx, h, r.ID(), mesh.RelayAdd, randomScope(t)); !errors.Is(err, mesh.ErrRelayRefused) {
		t.Fatalf("a registration beyond MaxRelayScopes from one peer: %v", err)
	}
	// Registering twice is no second registration.
	if _, err := mesh.AskRelay(ctx, h, r.ID(), mesh.RelayAdd, mine[0]); err != nil {
		t.Fatalf("registering a group again: %v", err)
	}

	// Another peer fills the relay to MaxGroups, and sees only its own.
	h2, _ := rawPeer(t, r)
	for i := range 5 {
		_, err := mesh.AskRelay(ctx, h2, r.ID(), mesh.RelayAdd, randomScope(t))
		if i < 4 && err != nil {
			t.Fatalf("registration %d of the second peer: %v", i, err)
		}
		if i == 4 && !errors.Is(err, mesh.ErrRelayRefused) {
			t.Fatalf("a registration beyond MaxGroups: %v", err)
		}
	}
	// Registering a group someone else registered takes no room.
	if _, err := mesh.AskRelay(ctx, h2, r.ID(), mesh.RelayAdd, mine[1]); err != nil {
		t.Fatalf("registering a group already kept: %v", err)
	}
	theirs, err := mesh.AskRelay(ctx, h2, r.ID(), mesh.RelayList, event.Scope{})
	if err != nil || len(theirs) != 5 {
		t.Fatalf("the second peer's list: %d scopes, %v", len(theirs), err)
	}
	st, err := r.Relay().Status()
	if err != nil || len(st.Groups) != mesh.MaxRelayScopes+4 {
		t.Fatalf("the relay keeps %d groups (%v), want %d", len(st.Groups), err, mesh.MaxRelayScopes+4)
	}

	// Withdrawing a group both registered keeps it for the other; the
	// last one out deletes it.
	if _, err := mesh.AskRelay(ctx, h, r.ID(), mesh.RelayRemove, mine[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := mesh.AskRelay(ctx, h2, r.ID(), mesh.RelayRemove, mine[2]); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.Relay().Status(); len(st.Groups) != mesh.MaxRelayScopes+4 {
		t.Fatalf("after withdrawing shared and foreign registrations: %d groups", len(st.Groups))
	}
	if _, err := mesh.AskRelay(ctx, h2, r.ID(), mesh.RelayRemove, mine[1]); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.Relay().Status(); len(st.Groups) != mesh.MaxRelayScopes+3 {
		t.Fatalf("after the last registrant withdrew: %d groups", len(st.Groups))
	}

	// Asking too fast is refused (1 a second, bursts of 64).
	refused := false
	for range 100 {
		if _, err := mesh.AskRelay(ctx, h, r.ID(), mesh.RelayList, event.Scope{}); errors.Is(err, mesh.ErrRelayRefused) {
			refused = true
			break
		}
	}
	if !refused {
		t.Fatal("100 requests in a row were all answered")
	}
}

// A registered group's events are checked without the key: a forged
// signature, a wrong kind and a wrong scope are refused and counted; a
// signed event whose ciphertext means nothing is kept, since the relay
// cannot tell (the quotas bound what such an author can make it keep).
func TestRelayChecksWhatItCannotOpen(t *testing.T) {
	r := startRelay(t, nil, relay.Quotas{})
	h, id := rawPeer(t, r)
	ctx := context.Background()
	scope := randomScope(t)
	if _, err := mesh.AskRelay(ctx, h, r.ID(), mesh.RelayAdd, scope); err != nil {
		t.Fatal(err)
	}
	sign := func(edit func(*event.Body)) []byte {
		payload := make([]byte, 100)
		rand.Read(payload)
		b := event.Body{Scope: scope[:], Seq: 1, Time: time.Now().UnixMilli(), Kind: event.KindGroupMessage, Payload: payload}
		if edit != nil {
			edit(&b)
		}
		e, err := event.Sign(id, b)
		if err != nil {
			t.Fatal(err)
		}
		return e.Raw
	}
	forged := sign(nil)
	forged[len(forged)-1] ^= 1
	other := randomScope(t)
	for name, raw := range map[string][]byte{
		engine.ReasonSignature: forged,
		engine.ReasonKind:      sign(func(b *event.Body) { b.Kind = event.KindSealed }),
		engine.ReasonScope:     sign(func(b *event.Body) { b.Scope = other[:] }),
	} {
		before := r.Stats().Rejected()[name]
		if err := mesh.SendDirect(ctx, h, mesh.DirectProtocol, r.ID(), raw); !errors.Is(err, mesh.ErrRefused) {
			t.Fatalf("%s: %v", name, err)
		}
		if after := r.Stats().Rejected()[name]; after != before+1 {
			t.Fatalf("%s counted %d times, want once", name, after-before)
		}
	}
	good := sign(nil)
	if err := mesh.SendDirect(ctx, h, mesh.DirectProtocol, r.ID(), good); err != nil {
		t.Fatal(err)
	}
	ev, err := event.Decode(good)
	if err != nil {
		t.Fatal(err)
	}
	if has, _ := r.Store().HasEvent(ev.ID); !has {
		t.Fatal("a well-signed event of a registered group was not kept")
	}
}

// A relay that is a member of a group itself (group chat keeps it) still
// takes its registration, and starts again with it.
func TestRelayThatIsAMember(t *testing.T) {
	r := startRelay(t, nil, relay.Quotas{})
	g, err := r.Groups().Create("the relay's own")
	if err != nil {
		t.Fatal(err)
	}
	h, _ := rawPeer(t, r)
	if _, err := mesh.AskRelay(context.Background(), h, r.ID(), mesh.RelayAdd, g.Scope()); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Groups().Send(context.Background(), g, "kept by the relay as a member"); err != nil {
		t.Fatal(err)
	}
	r.Stop()
	r = nodetest.StartWith(t, r.Home, func(o *node.Options) { o.Relay = true })
	if st, err := r.Relay().Status(); err != nil || len(st.Groups) != 1 || st.Groups[0].Scope != g.Scope().String() {
		t.Fatalf("after a restart the relay shows %+v, %v", st, err)
	}
	h, _ = rawPeer(t, r)
	if _, err := mesh.AskRelay(context.Background(), h, r.ID(), mesh.RelayRemove, g.Scope()); err != nil {
		t.Fatal(err)
	}
	// Withdrawing the registration leaves the member's own history.
	if n, err := r.Store().CountAfter(g.Scope(), store.Cursor{}); n != 1 {
		t.Fatalf("after the registration was withdrawn the relay holds %d of its own 1 message (%v)", n, err)
	}
}

// A client flooding a registered group with well-signed events the relay
// cannot tell from real ones is throttled, then disconnected, while a
// member's messages keep arriving; what it got in before that is bounded
// by its rate.
func TestFloodingClientIsCutOff(t *testing.T) {
	ctx := context.Background()
	r, member, g := relayedGroup(t)
	scope := g.Scope()
	h, id := rawPeer(t, r)
	w := &writer{id: id, scope: scope}
	sent := 0
	var honest []string
	for ; sent < 2000; sent++ {
		if sent%100 == 0 {
			honest = append(honest, nodetest.SendN(t, member, g, 1, fmt.Sprint("still here ", sent, " %d"))...)
		}
		raw := w.write(t, 1, time.Now())[0]
		if err := mesh.SendDirect(ctx, h, mesh.DirectProtocol, r.ID(), raw); err != nil && !errors.Is(err, mesh.ErrRefused) {
			break // disconnected
		}
	}
	if sent == 2000 {
		t.Fatal("a client sent 2000 events in a row and was not disconnected")
	}
	nodetest.Eventually(t, 20*time.Second, "the member's messages to reach the relay", func() (bool, string) {
		missing := 0
		for _, s := range honest {
			id, err := event.ParseID(s)
			if err != nil {
				t.Fatal(err)
			}
			if has, _ := r.Store().HasEvent(id); !has {
				missing++
			}
		}
		return missing == 0, fmt.Sprint(missing, " of ", len(honest), " missing")
	})
	if k := w.kept(t, r); k > 200 {
		t.Fatalf("the flood got %d events into the relay before it was cut off", k)
	}
	if member.Host().Network().Connectedness(r.ID()) != network.Connected {
		t.Fatal("the member lost its connection to the relay")
	}
	t.Logf("cut off after %d events, %d of them kept", sent, w.kept(t, r))
}

// Well-signed events that no member can open, which the relay keeps for
// the group (it cannot tell), reach a member once: the member refuses
// them and remembers them, so that later syncs with the relay neither
// send them again nor count them again.
func TestMembersRefuseGarbageOnce(t *testing.T) {
	ctx := context.Background()
	r, member, g := relayedGroup(t)
	h, id := rawPeer(t, r)
	w := &writer{id: id, scope: g.Scope()}
	const garbage = 20 // within the direct stream's burst
	for _, raw := range w.write(t, garbage, time.Now()) {
		if err := mesh.SendDirect(ctx, h, mesh.DirectProtocol, r.ID(), raw); err != nil {
			t.Fatal(err)
		}
	}
	if k := w.kept(t, r); k != garbage {
		t.Fatalf("the relay keeps %d of the %d garbage events, want all", k, garbage)
	}
	refused := func() uint64 { return member.Stats().Rejected()["decrypt"] }
	syncs := func() uint64 { return member.Syncer().Counters().Sessions }
	member.Syncer().TriggerNow(r.ID())
	nodetest.Eventually(t, 20*time.Second, "the member to refuse the garbage", func() (bool, string) {
		return refused() == garbage, fmt.Sprint(refused(), " refused")
	})
	// More syncs, each with a message of the member's own to carry, so
	// that the sets differ and the relay offers what the member lacks.
	for i := range 3 {
		before := syncs()
		own := nodetest.SendN(t, member, g, 1, fmt.Sprint("round ", i, " %d"))
		member.Syncer().TriggerNow(r.ID())
		nodetest.Eventually(t, 20*time.Second, "another sync with the relay", func() (bool, string) {
			id, err := event.ParseID(own[0])
			if err != nil {
				t.Fatal(err)
			}
			has, _ := r.Store().HasEvent(id)
			return has && syncs() > before, fmt.Sprint(syncs(), " syncs, the relay has the new message: ", has)
		})
	}
	if n := refused(); n != garbage {
		t.Fatalf("the member refused %d garbage events over four syncs, want each of the %d once", n, garbage)
	}
	if msgs, _, err := member.Groups().History(g, store.Cursor{}, 100); err != nil || len(msgs) != 3 {
		t.Fatalf("the member's history holds %d messages (%v), want its own 3", len(msgs), err)
	}
}

// relayedGroup starts a relay and a member connected to it, whose new
// group is registered with the relay.
func relayedGroup(t *testing.T) (*nodetest.Node, *nodetest.Node, *groupchat.Group) {
	t.Helper()
	r := startRelay(t, nil, relay.Quotas{})
	member := nodetest.Start(t, "", r.Info())
	nodetest.Eventually(t, 20*time.Second, "the member to reach the relay", func() (bool, string) {
		return mesh.IsRelay(member.Host(), r.ID()), "not yet"
	})
	g, err := member.Groups().Create("family")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := member.Groups().AddRelay(context.Background(), g, r.ID().String()); err != nil {
		t.Fatal(err)
	}
	return r, member, g
}
