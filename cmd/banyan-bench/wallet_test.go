package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestWalletTiny runs the wallet scenario small through the command line
// and checks the structure of what it prints: the merged ledger equals the
// builder's, the late node's ledger equals the holder's after one sync,
// and every node froze the forked account. It asserts nothing about speed.
func TestWalletTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts eight nodes with Badger stores")
	}
	var stdout, stderr bytes.Buffer
	root := newRootCmd(&stdout, &stderr)
	root.SetArgs([]string{"wallet", "--entries", "300", "--payers", "5", "--mesh", "4", "--topology", "line", "--timeout", "60s"})
	if err := root.Execute(); err != nil {
		t.Fatalf("wallet: %v\nstderr: %s", err, stderr.String())
	}
	var out WalletOutput
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("output is not a wallet report: %v\n%s", err, stdout.String())
	}
	m := out.Merge
	if m == nil || m.Entries != 300 || m.Payers != 5 || m.Grants != 5 || m.Grants+m.Payments+m.Receipts != 300 ||
		!m.HashMatches || m.EntriesPerS <= 0 || m.DecodePerS <= 0 || m.AddPerS <= 0 {
		t.Errorf("merge: %+v", m)
	}
	r := out.Reconcile
	if r == nil || r.Entries != 300 || r.Events != 300 || r.Rejected != 0 || r.LedgerLen != 300 || !r.HashesEqual ||
		r.Rounds < 1 || r.CaughtUpS <= 0 || r.EventBytes <= 0 || r.BytesGot <= r.EventBytes {
		t.Errorf("reconcile: %+v", r)
	}
	// One sync: the streams carry its frames and a little negotiation.
	if r != nil {
		if d := r.StreamBytes - (r.BytesSent + r.BytesGot); d < 0 || d > 1000 {
			t.Errorf("reconcile: %d stream bytes for %d frame bytes: not exactly one sync", r.StreamBytes, r.BytesSent+r.BytesGot)
		}
	}
	f := out.ForkSpread
	if f == nil || f.Nodes != 4 || f.Topology != "line" || len(f.CutLinks) != 1 || f.CutLinks[0] != [2]int{1, 2} ||
		f.Anchors != [2]int{0, 3} || !f.AllFrozen || len(f.FrozenS) != 4 || f.X1FrozenS <= 0 || f.X2FrozenS <= 0 {
		t.Fatalf("fork spread: %+v", f)
	}
	for i, s := range f.FrozenS {
		if s <= 0 || s > f.AllFrozenS {
			t.Errorf("node %d frozen at %vs, all at %vs", i, s, f.AllFrozenS)
		}
	}
}

// TestForkMesh checks the halves of the lattice and the line.
func TestForkMesh(t *testing.T) {
	inner, cut, anchors, err := forkMesh("lattice", 10, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(inner)+len(cut) != 20 || len(cut) != 6 || anchors != [2]int{2, 7} {
		t.Errorf("lattice: %d inner, cut %v, anchors %v", len(inner), cut, anchors)
	}
	for _, e := range cut {
		if (e[0] < 5) == (e[1] < 5) {
			t.Errorf("cut link %v within a half", e)
		}
	}
	if got := len(bfsTree(inner, 2)); got != 4 {
		t.Errorf("tree of the left half has %d links, want 4", got)
	}
	inner, cut, anchors, err = forkMesh("line", 10, 0)
	if err != nil || len(inner) != 8 || len(cut) != 1 || cut[0] != [2]int{4, 5} || anchors != [2]int{0, 9} {
		t.Errorf("line: %v %v %v %v", inner, cut, anchors, err)
	}
}
