package mesh

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

// A refused input counts as many strikes as its rate says: a peer flooding
// an input worth ten strikes is banned after 20 refusals, one flooding an
// input worth one only after 200.
func TestRefusalsCountTheirStrikes(t *testing.T) {
	for _, tc := range []struct {
		strikes, refusals int
	}{{0, strikesToBan}, {1, strikesToBan}, {10, strikesToBan / 10}} {
		g := NewGuard(nil)
		p := peer.ID("flooder")
		r := Rate{Per: 0.001, Burst: 1, Strikes: tc.strikes}
		if !g.Allow(p, "direct", r) {
			t.Fatalf("strikes %d: the first input was refused", tc.strikes)
		}
		for i := 1; i <= tc.refusals; i++ {
			if g.Allow(p, "direct", r) {
				t.Fatalf("strikes %d: input %d beyond the burst was allowed", tc.strikes, i)
			}
			if banned := g.Banned(p); banned != (i == tc.refusals) {
				t.Fatalf("strikes %d: after %d refusals banned is %v, want it only after %d", tc.strikes, i, banned, tc.refusals)
			}
		}
	}
}
