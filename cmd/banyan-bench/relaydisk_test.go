package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestRelayDiskTiny runs the relay-disk scenario small and checks what
// must hold on any machine: the quota holds after eviction and the store
// takes less disk than before.
func TestRelayDiskTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("writes about 12 MB to disk")
	}
	var stdout, stderr bytes.Buffer
	root := newRootCmd(&stdout, &stderr)
	root.SetArgs([]string{"relay-disk", "--groups", "2", "--authors", "4", "--events", "4000", "--size", "1500", "--quota-mib", "2"})
	if err := root.Execute(); err != nil {
		t.Fatalf("relay-disk: %v\nstderr: %s", err, stderr.String())
	}
	var out relayDiskResult
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("output is not a relay-disk result: %v\n%s", err, stdout.String())
	}
	if out.Events != 8000 || out.HeldAfter > out.QuotaBytes || out.Evicted == 0 {
		t.Fatalf("%d events, %d evicted, %d held of a %d quota", out.Events, out.Evicted, out.HeldAfter, out.QuotaBytes)
	}
	if out.DiskAfter >= out.DiskWritten/2 {
		t.Fatalf("disk %d before eviction, %d after", out.DiskWritten, out.DiskAfter)
	}
}
