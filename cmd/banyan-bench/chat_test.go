package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestChatCompareTiny runs the chat scenario on three nodes in both modes
// through the command line and checks the JSON it prints. It asserts what
// must hold on any machine (every message delivered, consistent counts),
// never how fast.
func TestChatCompareTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six libp2p hosts and three Badger stores")
	}
	var stdout, stderr bytes.Buffer
	root := newRootCmd(&stdout, &stderr)
	root.SetArgs([]string{"chat", "--compare", "--rounds", "1", "--nodes", "3", "--degree", "2", "--rate", "50",
		"--duration", "1s", "--warmup", "300ms", "--drain", "20s", "--setup-timeout", "30s"})
	if err := root.Execute(); err != nil {
		t.Fatalf("chat: %v\nstderr: %s", err, stderr.String())
	}
	var out CompareReport
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("output is not a comparison report: %v\n%s", err, stdout.String())
	}
	if len(out.Rounds) != 1 || len(out.BaselineDifferences) == 0 {
		t.Fatalf("%d rounds, %d differences listed; want 1 round and the differences", len(out.Rounds), len(out.BaselineDifferences))
	}
	for _, tc := range []struct {
		mode string
		r    *ChatReport
	}{{"baseline", out.Rounds[0].Baseline}, {"banyan", out.Rounds[0].Banyan}} {
		r := tc.r
		if r == nil {
			t.Fatalf("%s: missing", tc.mode)
		}
		if r.Mode != tc.mode || r.Nodes != 3 || r.Degree != 2 || r.Size != 256 || r.Rate != 50 || r.DurationS != 1 {
			t.Errorf("%s: parameters not echoed: %+v", tc.mode, r)
		}
		if r.Sent != 50 || r.SendErrors != 0 {
			t.Errorf("%s: sent %d with %d errors, want 50 and 0", tc.mode, r.Sent, r.SendErrors)
		}
		if r.ExpectedDeliveries != r.Sent*2 || r.Delivered != r.ExpectedDeliveries || r.DeliveryRatio != 1 {
			t.Errorf("%s: delivered %d of %d (ratio %v), want all", tc.mode, r.Delivered, r.ExpectedDeliveries, r.DeliveryRatio)
		}
		l := r.LatencyMS
		if !(l.P50 > 0 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max) {
			t.Errorf("%s: latency quantiles not ordered or not positive: %+v", tc.mode, l)
		}
		// Every node receives at least the payload of every message it did
		// not send.
		if min := float64(r.Size) * 2 / 3; r.BytesInPerNodePerMsg < min {
			t.Errorf("%s: %v bytes in per node per message, less than the payload share %v", tc.mode, r.BytesInPerNodePerMsg, min)
		}
		if r.BytesInRatio <= 0 || r.CPUS <= 0 || r.PeakRSSMB <= 0 || r.RSSMB <= 0 || r.DeliveredMsgsPerS <= 0 {
			t.Errorf("%s: missing measurements: %+v", tc.mode, r)
		}
		if !strings.HasPrefix(r.GoVersion, "go") || r.Cores < 1 {
			t.Errorf("%s: environment not reported: %q, %d cores", tc.mode, r.GoVersion, r.Cores)
		}
	}
	if w := out.Rounds[0].Banyan.OwnWriteMS; w["mark"] <= 0 || w["store"] <= 0 {
		t.Errorf("banyan: own writes' steps not timed: %v", w)
	}
	if w := out.Rounds[0].Baseline.OwnWriteMS; w != nil {
		t.Errorf("baseline: own writes' steps timed: %v", w)
	}
	if out.Ratios.P50 <= 0 || out.Ratios.P99 <= 0 || out.Ratios.Delivered != 1 {
		t.Errorf("ratios: %+v", out.Ratios)
	}
}

func TestRingLattice(t *testing.T) {
	for _, tc := range []struct{ n, degree, edges int }{
		{2, 1, 1}, {3, 2, 3}, {10, 4, 20}, {10, 3, 15}, {6, 5, 15}, {7, 6, 21},
	} {
		edges, err := ringLattice(tc.n, tc.degree)
		if err != nil {
			t.Errorf("n=%d degree=%d: %v", tc.n, tc.degree, err)
			continue
		}
		if len(edges) != tc.edges {
			t.Errorf("n=%d degree=%d: %d edges, want %d", tc.n, tc.degree, len(edges), tc.edges)
		}
		if !connected(tc.n, edges) {
			t.Errorf("n=%d degree=%d: not connected", tc.n, tc.degree)
		}
	}
	for _, tc := range []struct{ n, degree int }{{1, 0}, {3, 3}, {4, 1}, {5, 3}, {5, 0}} {
		if _, err := ringLattice(tc.n, tc.degree); err == nil {
			t.Errorf("n=%d degree=%d accepted", tc.n, tc.degree)
		}
	}
}

func connected(n int, edges [][2]int) bool {
	adj := make([][]int, n)
	for _, e := range edges {
		adj[e[0]] = append(adj[e[0]], e[1])
		adj[e[1]] = append(adj[e[1]], e[0])
	}
	seen := map[int]bool{0: true}
	stack := []int{0}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, w := range adj[v] {
			if !seen[w] {
				seen[w] = true
				stack = append(stack, w)
			}
		}
	}
	return len(seen) == n
}

func TestMakePayload(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{8, 16, 256} {
		for _, bin := range []bool{false, true} {
			p := makePayload(rng, size, 0xabc, bin)
			if len(p) != size {
				t.Fatalf("size %d: got %d bytes", size, len(p))
			}
			if !bin {
				for _, c := range p {
					if c < '!' || c > '~' {
						t.Fatalf("size %d: byte %q is not printable ASCII", size, c)
					}
				}
				if size >= 16 && string(p[:16]) != "0000000000000abc" {
					t.Fatalf("text prefix %q", p[:16])
				}
			} else if p[6] != 0x0a || p[7] != 0xbc {
				t.Fatalf("binary prefix %x", p[:8])
			}
		}
	}
}
