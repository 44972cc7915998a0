package reconcile

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkReconcile runs whole reconciliations of two sets in memory:
// every message of both sides, Start and Process.
func BenchmarkReconcile(b *testing.B) { benchmarkReconcile(b, false) }

// BenchmarkReconcileSums is BenchmarkReconcile with sets that keep sums
// (SummedSet), as a store's scopes do.
func BenchmarkReconcileSums(b *testing.B) { benchmarkReconcile(b, true) }

func benchmarkReconcile(b *testing.B, sums bool) {
	for _, tc := range []struct{ common, onlyA, onlyB int }{
		{100000, 0, 0}, {20000, 100, 100}, {20000, 5000, 0}, {50000, 25000, 25000},
	} {
		b.Run(fmt.Sprintf("%d+%d+%d", tc.common, tc.onlyA, tc.onlyB), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			pa, pb := twoSets(rng, tc.common+tc.onlyA+tc.onlyB, tc.common, tc.onlyA, tc.onlyB)
			var sa, sb Set = pa, pb
			if sums {
				sa, sb = newSumSet(pa), newSumSet(pb)
			}
			msgs := 0
			for b.Loop() {
				msg, err := Start(sa, Bound{})
				if err != nil {
					b.Fatal(err)
				}
				sides := []Set{sb, sa}
				for turn := 0; msg != nil; turn++ {
					res, err := Process(sides[turn%2], Bound{}, msg)
					if err != nil {
						b.Fatal(err)
					}
					msg = res.Reply
					msgs++
				}
			}
			b.ReportMetric(float64(msgs)/float64(b.N), "msgs/op")
		})
	}
}
