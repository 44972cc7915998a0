package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/banyan-mesh/banyan/store"
)

// TestCatchupTiny runs both catch-up scenarios small through the command
// line and checks the JSON they print: everything caught up, one sync,
// nothing moved when in sync. It asserts nothing about speed.
func TestCatchupTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four nodes with Badger stores")
	}
	var stdout, stderr bytes.Buffer
	root := newRootCmd(&stdout, &stderr)
	traces := filepath.Join(t.TempDir(), "sync.trace")
	root.SetArgs([]string{"catchup", "--authors", "7", "--messages", "200,500", "--insync", "2000", "--timeout", "60s", "--sync-trace", traces})
	if err := root.Execute(); err != nil {
		t.Fatalf("catchup: %v\nstderr: %s", err, stderr.String())
	}
	var out CatchupOutput
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("output is not a catch-up report: %v\n%s", err, stdout.String())
	}
	peaks := resetPeakRSS() // the peak is reported where it can be reset
	if len(out.CatchUp) != 2 {
		t.Fatalf("%d catch-up runs, want 2", len(out.CatchUp))
	}
	for i, want := range []int{200, 500} {
		r := out.CatchUp[i]
		if r.Messages != want || r.Authors != 7 || r.Size != 256 {
			t.Errorf("run %d: parameters not echoed: %+v", i, r)
		}
		if r.Events != want || r.Stored != want || r.Rejected != 0 {
			t.Errorf("run %d: got %d events, stored %d, rejected %d; want %d, %d, 0", i, r.Events, r.Stored, r.Rejected, want, want)
		}
		if r.Rounds < 1 || r.BytesSent <= 0 || r.BytesGot <= r.EventBytes || r.EventBytes <= int64(want*r.Size) {
			t.Errorf("run %d: rounds %d, bytes sent %d, got %d, of events %d", i, r.Rounds, r.BytesSent, r.BytesGot, r.EventBytes)
		}
		// The libp2p streams carry the frames and a little negotiation:
		// one sync ran, not two.
		if d := r.StreamBytes - (r.BytesSent + r.BytesGot); d < 0 || d > 1000 {
			t.Errorf("run %d: %d stream bytes for %d frame bytes: not exactly one sync", i, r.StreamBytes, r.BytesSent+r.BytesGot)
		}
		if r.WireOverEvents < 1 || r.EnvelopeOverhead <= 1 || r.VerifyRate <= 0 || r.CaughtUpS <= 0 || r.SyncS <= 0 {
			t.Errorf("run %d: missing measurements: %+v", i, r)
		}
		// The late node ran in its own process and measured itself.
		if r.LateCPUS <= 0 || r.LateCPUS >= r.CPUS || r.LateAnonMB <= 0 || r.LateFileMB <= 0 {
			t.Errorf("run %d: the late process's CPU %.3fs of %.3fs, memory %.1f MB own and %.1f MB mapped", i, r.LateCPUS, r.CPUS, r.LateAnonMB, r.LateFileMB)
		}
		if peaks && (r.SyncPeakRSSMB < r.LateAnonMB || r.HolderSyncPeakRSSMB <= 0) {
			t.Errorf("run %d: peak RSS during the sync %.1f MB (late), %.1f MB (holder); late own memory after it %.1f MB", i, r.SyncPeakRSSMB, r.HolderSyncPeakRSSMB, r.LateAnonMB)
		}
	}
	// Each sync's trace, the late node's and the holder's.
	for _, name := range []string{".200", ".200.holder", ".500", ".500.holder"} {
		if fi, err := os.Stat(traces + name); err != nil || fi.Size() == 0 {
			t.Errorf("trace %s: %v", name, err)
		}
	}
	if l := out.Linearity; l == nil || l.Messages != [2]int{200, 500} || l.MessagesRatio != 2.5 || l.TimeRatio <= 0 {
		t.Errorf("linearity: %+v", out.Linearity)
	}
	s := out.InSync
	if s == nil {
		t.Fatal("no in-sync result")
	}
	if s.Events != 2000 || s.Rounds < 1 || s.EventsMoved != 0 || s.Scopes < 1 || s.WireBytes != s.BytesSent+s.BytesGot || s.WireBytes <= 0 {
		t.Errorf("in-sync: %+v", s)
	}
	if s.AgainRounds != s.Rounds || s.AgainWireBytes != s.WireBytes {
		t.Errorf("in-sync, again: %+v", s)
	}
	if d := s.StreamBytes - s.WireBytes; d < 0 || d > 1000 {
		t.Errorf("in-sync: %d stream bytes for %d frame bytes: not exactly one sync", s.StreamBytes, s.WireBytes)
	}
	if !strings.HasPrefix(out.GoVersion, "go") || out.Cores < 1 {
		t.Errorf("environment not reported: %q, %d cores", out.GoVersion, out.Cores)
	}
}

// The generated history is what a node accepts: every event validates
// through the group's own receive path, chained per author.
func TestGroupHistoryValidates(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node with a Badger store")
	}
	s := &scratch{}
	defer func() {
		if err := s.remove(); err != nil {
			t.Error(err)
		}
	}()
	h, err := s.home()
	if err != nil {
		t.Fatal(err)
	}
	n, err := startSoloNode(h, quietLog(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := n.stop(); err != nil {
			t.Error(err)
		}
	}()
	g, err := n.Groups().Create("bench")
	if err != nil {
		t.Fatal(err)
	}
	const authors, messages = 3, 50
	evs, err := groupHistory(g, authors, messages, 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	raws := make([][]byte, len(evs))
	for i, e := range evs {
		raws[i] = e.Raw
	}
	_, rejected, err := n.Engine().Accept(g.Scope(), raws)
	if err != nil || rejected != 0 {
		t.Fatalf("ReceiveBatch: %d rejected, %v", rejected, err)
	}
	if got, err := n.Store().CountAfter(g.Scope(), store.Cursor{}); err != nil || got != messages {
		t.Fatalf("stored %d of %d (%v)", got, messages, err)
	}
	msgs, _, err := n.Groups().History(g, store.Cursor{}, messages)
	if err != nil || len(msgs) != messages {
		t.Fatalf("history: %d messages, %v", len(msgs), err)
	}
	authorsSeen := map[string]uint64{}
	for i, m := range msgs {
		if len(m.Text) != 100 {
			t.Fatalf("message %d: text of %d bytes", i, len(m.Text))
		}
		if m.Event.ID != evs[i].ID {
			t.Fatalf("message %d is not in generation order", i)
		}
		a := string(m.Event.Author)
		if m.Event.Seq != authorsSeen[a]+1 {
			t.Fatalf("message %d: seq %d after %d", i, m.Event.Seq, authorsSeen[a])
		}
		authorsSeen[a] = m.Event.Seq
	}
	if len(authorsSeen) != authors {
		t.Fatalf("%d authors, want %d", len(authorsSeen), authors)
	}
	if head, _, err := n.Store().Head(g.Scope(), evs[0].Author); err != nil || head != authorsSeen[string(evs[0].Author)] {
		t.Fatalf("first author's head is %d, want %d (%v)", head, authorsSeen[string(evs[0].Author)], err)
	}
}

func quietLog() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}
