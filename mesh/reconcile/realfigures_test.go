//go:build syncfigures

package reconcile_test

import (
	"testing"

	"github.com/banyan-mesh/banyan/mesh/reconcile"
)

// Figures of attacks on a real node, without assertions (see
// figures_test.go). The amplification turn has 512 ranges here: with
// 65,536 the unhardened node would need tens of GB.

func TestFiguresRealAmplify(t *testing.T) {
	n, sc, total := carrier(t, 2000, 400)
	turn := reconcile.AmplifyTurn(sc, recentFloor(), 512)
	out, err := attack(t, n, turn, nil, 1)
	t.Logf("scope %d B; in %d B, out %d B (x%.0f), ended by %v", total, len(turn), out, float64(out)/float64(len(turn)), err)
}

func TestFiguresRealNothingEveryTurn(t *testing.T) {
	n, sc, total := carrier(t, 2000, 400)
	turn := reconcile.NothingTurn(sc, recentFloor())
	out, err := attack(t, n, turn, turn, 20)
	t.Logf("scope %d B; in %d B a turn for 20 turns, out %d B, ended by %v", total, len(turn), out, err)
}
