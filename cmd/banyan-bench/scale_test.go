package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestScaleTiny runs the scale scenario on four online members of a group
// of ten through the command line: every message reaches every online
// member, every one of them held the absent members' history, and the
// bytes are split by protocol.
func TestScaleTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four libp2p hosts and Badger stores")
	}
	var stdout, stderr bytes.Buffer
	root := newRootCmd(&stdout, &stderr)
	root.SetArgs([]string{"scale", "--nodes", "4", "--members", "10", "--history", "3", "--rate", "20",
		"--duration", "1s", "--warmup", "300ms", "--drain", "20s", "--setup-timeout", "60s"})
	if err := root.Execute(); err != nil {
		t.Fatalf("scale: %v\nstderr: %s", err, stderr.String())
	}
	var out ScaleReport
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("output is not a scale report: %v\n%s", err, stdout.String())
	}
	if out.Members != 10 || out.Online != 4 || out.Offline != 6 || out.OfflineHistory != 3 || out.HeldAtStart != 18 {
		t.Errorf("parameters not echoed: %+v", out)
	}
	r := out.Run
	if r == nil {
		t.Fatal("no run in the report")
	}
	// --degree 0: everyone connected to everyone.
	if r.Nodes != 4 || r.Degree != 3 || r.Rate != 20 {
		t.Errorf("run parameters: %d nodes, degree %d, rate %v; want 4, 3, 20", r.Nodes, r.Degree, r.Rate)
	}
	if r.Sent != 20 || r.SendErrors != 0 {
		t.Errorf("sent %d with %d errors, want 20 and 0", r.Sent, r.SendErrors)
	}
	if r.ExpectedDeliveries != r.Sent*3 || r.Delivered != r.ExpectedDeliveries || out.DeliveryPct != 100 {
		t.Errorf("delivered %d of %d (%v%%), want all", r.Delivered, r.ExpectedDeliveries, out.DeliveryPct)
	}
	if l := r.LatencyMS; !(l.P50 > 0 && l.P50 <= l.P99) {
		t.Errorf("latency quantiles: %+v", l)
	}
	// Every node receives at least its share of the payloads by gossip.
	if min := float64(r.Size) * 3 / 4; out.GossipBytesPerNodePerMsg < min {
		t.Errorf("%v gossip bytes in per node per message, less than the payload share %v", out.GossipBytesPerNodePerMsg, min)
	}
	if out.SyncBytesPerNodePerMsg < 0 || r.CPUS <= 0 {
		t.Errorf("sync bytes %v, CPU %v", out.SyncBytesPerNodePerMsg, r.CPUS)
	}
	if n := r.Rejected["bad_signature"] + r.Rejected["malformed"] + r.Rejected["decrypt"] + r.Rejected["bad_body"]; n != 0 {
		t.Errorf("%d messages rejected as broken", n)
	}
}

// TestScaleRefusesFewerMembersThanNodes checks the flags before anything
// starts.
func TestScaleRefusesFewerMembersThanNodes(t *testing.T) {
	var stdout, stderr bytes.Buffer
	root := newRootCmd(&stdout, &stderr)
	root.SetArgs([]string{"scale", "--nodes", "4", "--members", "3"})
	if err := root.Execute(); err == nil {
		t.Fatal("a group with fewer members than online nodes was accepted")
	}
}
