package reconcile_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/banyan-mesh/banyan/mesh/reconcile"
	"github.com/banyan-mesh/banyan/node/nodetest"
)

// Attack 1 on a real node holding 2,000 events of a mailbox scope: it sent
// back 1,061 MB for 40 KB. The message is refused unanswered.
func TestAttackAmplifyOnARealNode(t *testing.T) {
	n, sc, _ := carrier(t, 2000, 400)
	before := n.Syncer().Counters()
	turn := reconcile.AmplifyTurn(sc, recentFloor(), 1<<16)
	out, err := attack(t, n, turn, nil, 1)
	t.Logf("in %d B, out %d B, ended by %v", len(turn), out, err)
	if !errors.Is(err, network.ErrReset) || out > 0 {
		t.Errorf("the node answered (%d bytes) and ended the stream with %v", out, err)
	}
	nodetest.Eventually(t, 10*time.Second, "the refusal counted", func() (bool, string) {
		c := n.Syncer().Counters()
		return c.Malformed[reconcile.ReasonOrder] > before.Malformed[reconcile.ReasonOrder], ""
	})
	// And shown to whoever runs the node.
	info, err := n.Client(t).Node(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Stats.Sync.Malformed[reconcile.ReasonOrder] == 0 {
		t.Errorf("the node's API does not show the refused sync: %+v", info.Stats.Sync)
	}
}

// A peer that says every turn that it has nothing is sent the scope once:
// each event at most once in a sync.
func TestEachEventOnceOnARealNode(t *testing.T) {
	n, sc, total := carrier(t, 2000, 400)
	turn := reconcile.NothingTurn(sc, recentFloor())
	out, err := attack(t, n, turn, turn, 20)
	t.Logf("scope %d B; in %d B a turn for 20 turns, out %d B, ended by %v", total, len(turn), out, err)
	if out < total || out > total+total/20+64<<10 {
		t.Errorf("the node sent %d bytes for a scope of %d in one sync", out, total)
	}
}
