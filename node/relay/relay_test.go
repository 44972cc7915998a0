package relay_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/node/relay"
	"github.com/banyan-mesh/banyan/store"
)

func TestMain(m *testing.M) { nodetest.VerifyNoLeaks(m) }

// logBuffer collects a node's logs, at debug level, for a test to read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startRelay starts a relay that logs everything, at debug level, to logs.
func startRelay(t *testing.T, logs *logBuffer, q relay.Quotas) *nodetest.Node {
	t.Helper()
	return nodetest.StartWith(t, "", func(o *node.Options) {
		o.Relay, o.RelayQuotas, o.Metrics = true, q, "127.0.0.1:0"
		if logs != nil {
			o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	})
}

func fullAddr(t *testing.T, n *nodetest.Node) string {
	t.Helper()
	ai := n.Info()
	as, err := peer.AddrInfoToP2pAddrs(&ai)
	if err != nil {
		t.Fatal(err)
	}
	return as[0].String()
}

// Two members of a group who are never online together talk through a
// relay that cannot read them: A writes while B is away and leaves; B
// comes, gets everything from the relay alone, and answers; A, back, gets
// the answer from the relay alone. The relay's store and its logs (at
// debug level) hold neither the texts nor the group's key.
func TestMembersTalkThroughTheRelay(t *testing.T) {
	ctx := context.Background()
	logs := &logBuffer{}
	r := startRelay(t, logs, relay.Quotas{})
	a := nodetest.Start(t, "", r.Info())
	nodetest.Eventually(t, 20*time.Second, "A to see the relay's role in identify", func() (bool, string) {
		return mesh.IsRelay(a.Host(), r.ID()), "not a relay yet"
	})
	if mesh.IsRelay(r.Host(), a.ID()) {
		t.Fatal("the relay takes a plain node for a relay")
	}
	peers, err := a.Client(t).Peers(ctx)
	if err != nil || len(peers) != 1 || !peers[0].Relay {
		t.Fatalf("A's API does not show the relay as one: %+v, %v", peers, err)
	}
	g, err := a.Groups().Create("family")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Groups().AddRelay(ctx, g, fullAddr(t, r)); err != nil {
		t.Fatal(err)
	}
	rs, err := a.Groups().Relays(ctx, g)
	if err != nil || len(rs) != 1 || rs[0].Registered == nil || !*rs[0].Registered {
		t.Fatalf("A's relays of the group: %+v, %v", rs, err)
	}
	texts := []string{"the spare key is under the blue pot", "grandma lands at six", "bring the ledger"}
	var ids []string
	for _, text := range texts[:2] {
		m, err := a.Groups().Send(ctx, g, text)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.Event.ID.String())
	}
	scope := g.Scope()
	nodetest.Eventually(t, 20*time.Second, "the relay to keep A's messages", func() (bool, string) {
		n, err := r.Store().CountAfter(scope, store.Cursor{})
		return n == 2, fmt.Sprint(n, err)
	})
	invite := a.Groups().Invite(g).String()
	a.Stop()

	b := nodetest.Start(t, "", r.Info())
	in, err := groupchat.ParseInvite(invite)
	if err != nil {
		t.Fatal(err)
	}
	gb, err := b.Groups().Join(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 30*time.Second, "B to get A's messages from the relay", func() (bool, string) {
		return nodetest.HasAll(t, b, gb, ids)
	})
	m, err := b.Groups().Send(ctx, gb, texts[2])
	if err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, "the relay to keep B's answer", func() (bool, string) {
		has, err := r.Store().HasEvent(m.Event.ID)
		return has, fmt.Sprint(err)
	})
	b.Stop()

	a = nodetest.Start(t, a.Home, r.Info())
	nodetest.Eventually(t, 30*time.Second, "A to get B's answer from the relay", func() (bool, string) {
		return nodetest.HasAll(t, a, g, []string{m.Event.ID.String()})
	})
	if a.Host().Network().Connectedness(b.ID()) == network.Connected {
		t.Fatal("A and B were connected")
	}

	needles := map[string][]byte{
		"group key":     g.Key[:],
		"group key hex": []byte(hex.EncodeToString(g.Key[:])),
		"group key b64": []byte(base64.StdEncoding.EncodeToString(g.Key[:])),
		"group ID":      g.ID[:],
		"group ID hex":  []byte(hex.EncodeToString(g.ID[:])),
	}
	for i, text := range texts {
		needles[fmt.Sprint("text ", i)] = []byte(text)
	}
	if found := nodetest.ScanFor(t, r, needles); len(found) > 0 {
		t.Fatalf("the relay's store holds %v", found)
	}
	// The scan does find what is there: the scope, and the sealed
	// envelopes.
	if found := nodetest.ScanFor(t, r, map[string][]byte{"scope": scope[:]}); len(found) != 1 {
		t.Fatal("the scan does not find the group's scope in the relay's store")
	}
	if n, err := r.Store().CountAfter(scope, store.Cursor{}); n != 3 {
		t.Fatalf("the relay keeps %d of the group's 3 events (%v)", n, err)
	}
	resp, err := http.Get("http://" + r.MetricsAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"banyan_relay_groups 3", `banyan_relay_bytes{of="held"}`, `banyan_relay_bytes{of="quota"} 2.147483648e+09`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	r.Stop()
	log := logs.String()
	if !strings.Contains(log, "group registered") || !strings.Contains(log, scope.String()) {
		t.Fatalf("the relay's log does not show the registration:\n%.2000s", log)
	}
	for name, b := range needles {
		if strings.Contains(log, string(b)) {
			t.Fatalf("the relay's log holds the %s", name)
		}
	}
}

// A relay serves no web UI; a plain node does.
func TestRelayHasNoWebUI(t *testing.T) {
	r := startRelay(t, nil, relay.Quotas{})
	n := nodetest.Start(t, "")
	for _, c := range []struct {
		n    *nodetest.Node
		want int
	}{{r, http.StatusNotFound}, {n, http.StatusOK}} {
		resp, err := http.Get("http://" + c.n.APIAddr() + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Fatalf("GET / on %s: %d, want %d", c.n.ID(), resp.StatusCode, c.want)
		}
	}
}

// Several groups through one relay: in each, a writer registers the group
// and writes while its readers are away, then goes; the readers come,
// connected to the relay alone, and each gets its own group's history
// from it, complete.
func TestGroupsThroughOneRelay(t *testing.T) {
	if testing.Short() {
		t.Skip("runs seven nodes")
	}
	ctx := context.Background()
	r := startRelay(t, nil, relay.Quotas{})
	const groups, messages = 3, 20
	type written struct {
		invite string
		ids    []string
	}
	var ws []written
	for i := range groups {
		w := nodetest.Start(t, "", r.Info())
		nodetest.Eventually(t, 20*time.Second, "the writer to reach the relay, its static peer", func() (bool, string) {
			return mesh.IsRelay(w.Host(), r.ID()), "not yet"
		})
		g, err := w.Groups().Create(fmt.Sprint("group ", i))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Groups().AddRelay(ctx, g, r.ID().String()); err != nil {
			t.Fatal(err)
		}
		ids := nodetest.SendN(t, w, g, messages, fmt.Sprintf("group %d says %%d", i))
		nodetest.Eventually(t, 30*time.Second, "the relay to keep the group", func() (bool, string) {
			n, err := r.Store().CountAfter(g.Scope(), store.Cursor{})
			return n == messages, fmt.Sprint(n, err)
		})
		ws = append(ws, written{w.Groups().Invite(g).String(), ids})
		w.Stop()
	}
	for i, w := range ws {
		rd := nodetest.Start(t, "", r.Info())
		in, err := groupchat.ParseInvite(w.invite)
		if err != nil {
			t.Fatal(err)
		}
		g, err := rd.Groups().Join(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		nodetest.Eventually(t, 30*time.Second, fmt.Sprint("reader ", i, " to get its group from the relay"), func() (bool, string) {
			return nodetest.HasAll(t, rd, g, w.ids)
		})
		if got := nodetest.HistoryIDs(t, rd, g); len(got) != messages {
			t.Fatalf("reader %d holds %d messages of its group, want %d", i, len(got), messages)
		}
		if peers := rd.Host().Network().Peers(); len(peers) != 1 || peers[0] != r.ID() {
			t.Fatalf("reader %d is connected to %v, not the relay alone", i, peers)
		}
	}
	// Each group is kept with its lists and its events.
	if st, err := r.Relay().Status(); err != nil || len(st.Groups) != 3*groups {
		t.Fatalf("the relay shows %d groups (%v)", len(st.Groups), err)
	}
}

// A member registers a group with a relay and withdraws it: the relay
// then deletes what it kept. A plain node is no relay.
func TestAddAndRemoveRelay(t *testing.T) {
	ctx := context.Background()
	r := startRelay(t, nil, relay.Quotas{})
	plain := nodetest.Start(t, "")
	a := nodetest.Start(t, "")
	g, err := a.Groups().Create("family")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Groups().AddRelay(ctx, g, fullAddr(t, plain)); err == nil || !strings.Contains(err.Error(), "is not a relay") {
		t.Fatalf("registering with a plain node: %v", err)
	}
	if _, err := a.Groups().AddRelay(ctx, g, fullAddr(t, r)); err != nil {
		t.Fatal(err)
	}
	ids := nodetest.SendN(t, a, g, 3, "hello %d")
	nodetest.Eventually(t, 20*time.Second, "the relay to keep the messages", func() (bool, string) {
		n, err := r.Store().CountAfter(g.Scope(), store.Cursor{})
		return n == len(ids), fmt.Sprint(n, err)
	})
	if err := a.Groups().RemoveRelay(ctx, g, r.ID().String()); err != nil {
		t.Fatal(err)
	}
	if n, _ := r.Store().CountAfter(g.Scope(), store.Cursor{}); n != 0 {
		t.Fatalf("the relay still keeps %d messages of a group nobody registers", n)
	}
	if st, _ := r.Relay().Status(); len(st.Groups) != 0 {
		t.Fatalf("the relay still shows %d groups", len(st.Groups))
	}
	if rs, err := a.Groups().Relays(ctx, g); err != nil || len(rs) != 0 {
		t.Fatalf("A still lists relays %+v (%v)", rs, err)
	}
	if err := a.Groups().RemoveRelay(ctx, g, r.ID().String()); err == nil {
		t.Fatal("withdrawing twice: no error")
	}
}
