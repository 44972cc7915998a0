package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestObserverTiny runs the observer scenario on three people and checks
// what must hold on any machine: the observer gets every envelope, an
// envelope forwarded to it came from its author, and one it first got by
// gossip never did (authors do not gossip their own mail).
func TestObserverTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes and an observer")
	}
	var stdout, stderr bytes.Buffer
	root := newRootCmd(&stdout, &stderr)
	root.SetArgs([]string{"observer", "--people", "3", "--away", "1", "--messages", "12", "--rate", "20"})
	if err := root.Execute(); err != nil {
		t.Fatalf("observer: %v\nstderr: %s", err, stderr.String())
	}
	var out ObserverReport
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("output is not an observer report: %v\n%s", err, stdout.String())
	}
	if out.Messages != 12 || out.Seen != 12 {
		t.Fatalf("the observer saw %d of %d messages", out.Seen, out.Messages)
	}
	if v := out.ByVia["forward"]; v != nil && v.AuthorFirst != 1 {
		t.Errorf("forwarded mail came from someone else than its author: %+v", v)
	}
	if v := out.ByVia["gossip"]; v != nil && v.AuthorFirst != 0 {
		t.Errorf("an author gossiped its own mail first: %+v", v)
	}
}
