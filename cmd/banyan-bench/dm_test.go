package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestDMTiny runs the private-message scenario small through the command
// line and checks the JSON it prints: every message delivered live, every
// waiting message collected from the carrier. It asserts nothing about
// speed.
func TestDMTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes with Badger stores, and restarts one")
	}
	var stdout, stderr bytes.Buffer
	root := newRootCmd(&stdout, &stderr)
	root.SetArgs([]string{"dm", "--messages", "20", "--waiting", "20", "--timeout", "60s"})
	if err := root.Execute(); err != nil {
		t.Fatalf("dm: %v\nstderr: %s", err, stderr.String())
	}
	var out DMOutput
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("output is not a dm report: %v\n%s", err, stdout.String())
	}
	l := out.Live
	if l == nil {
		t.Fatal("no live result")
	}
	if l.Messages != 20 || l.Size != 256 || l.Sent != 20 || l.Delivered != 20 {
		t.Errorf("live: sent %d, delivered %d of %d", l.Sent, l.Delivered, l.Messages)
	}
	q := l.LatencyMS
	if !(q.P50 > 0 && q.P50 <= q.P90 && q.P90 <= q.P99 && q.P99 <= q.Max) {
		t.Errorf("live: latency quantiles not ordered or not positive: %+v", q)
	}
	// B receives at least every envelope once.
	if l.MeanEnvelopeBytes <= float64(l.Size) || l.BytesInBPerMsg < l.MeanEnvelopeBytes {
		t.Errorf("live: %v bytes in per message, envelopes of %v", l.BytesInBPerMsg, l.MeanEnvelopeBytes)
	}
	if l.MsgsPerS <= 0 || l.SendMsgsPerS <= 0 || l.AcknowledgedS <= 0 || l.CPUS <= 0 {
		t.Errorf("live: missing measurements: %+v", l)
	}
	w := out.Waiting
	if w == nil {
		t.Fatal("no waiting result")
	}
	if w.Messages != 20 || w.Collected != 20 {
		t.Errorf("waiting: collected %d of %d", w.Collected, w.Messages)
	}
	if w.EnvelopeBytes <= 0 || w.BytesInB < w.EnvelopeBytes || w.BytesOverEnvelopes < 1 {
		t.Errorf("waiting: B received %d bytes for %d bytes of envelopes", w.BytesInB, w.EnvelopeBytes)
	}
	if w.CollectS <= 0 || w.CarriedS <= 0 || w.MsgsPerS <= 0 {
		t.Errorf("waiting: missing measurements: %+v", w)
	}
}
