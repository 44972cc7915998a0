package main

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// asBenchEnv, set to 1 in a process's environment, has the test binary run
// as banyan-bench.
const asBenchEnv = "BANYAN_BENCH_AS_MAIN"

// TestMain lets the test binary stand in for banyan-bench when a scenario
// starts itself as a second process (the attacker of 'flood').
func TestMain(m *testing.M) {
	if os.Getenv(asBenchEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Setenv(asBenchEnv, "1")
	os.Exit(m.Run())
}

// TestFloodTiny runs the flood scenario briefly and checks what must hold
// on any machine: every honest message delivered in both runs, and the
// attacker's events refused by the node it floods.
func TestFloodTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six nodes and a second process")
	}
	var stdout, stderr bytes.Buffer
	root := newRootCmd(&stdout, &stderr)
	root.SetArgs([]string{"flood", "--rate", "20", "--duration", "2s", "--warmup", "300ms",
		"--drain", "20s", "--setup-timeout", "30s", "--flood-rate", "300"})
	if err := root.Execute(); err != nil {
		t.Fatalf("flood: %v\nstderr: %s", err, stderr.String())
	}
	var out FloodReport
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("output is not a flood report: %v\n%s", err, stdout.String())
	}
	for name, r := range map[string]*ChatReport{"quiet": out.Quiet, "flooded": out.Flooded} {
		if r == nil {
			t.Fatalf("%s: missing", name)
		}
		if r.Sent != 40 || r.Delivered != r.ExpectedDeliveries || r.ExpectedDeliveries != 80 {
			t.Errorf("%s: sent %d, delivered %d of %d; want 40 sent and all delivered", name, r.Sent, r.Delivered, r.ExpectedDeliveries)
		}
	}
	a := out.Flooded.Attack
	if a == nil || a.Published == 0 || a.Identities == 0 {
		t.Fatalf("the attacker did nothing: %+v", a)
	}
	var refused uint64
	for _, n := range out.Flooded.Rejected {
		refused += n
	}
	if refused == 0 {
		t.Errorf("no hostile event was refused: %v", out.Flooded.Rejected)
	}
	if out.Quiet.Attack != nil {
		t.Errorf("the quiet run had an attacker: %+v", out.Quiet.Attack)
	}
}
