package node_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/store"
)

// A node whose store was damaged on disk while it was stopped (bytes
// flipped in its biggest table, or that table cut to half) starts, says
// so, and gets every message back from a peer, word for word.
func TestDamagedStoreIsRepairedFromAPeer(t *testing.T) {
	for name, damage := range map[string]func(t *testing.T, path string){
		"bytes flipped": func(t *testing.T, path string) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 64 {
				raw[len(raw)/3+i] ^= 0xff
			}
			if err := os.WriteFile(path, raw, 0o600); err != nil {
				t.Fatal(err)
			}
		},
		"cut short": func(t *testing.T, path string) {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			aHome := home.Home(t.TempDir())
			a := nodetest.Start(t, aHome)
			b := nodetest.Start(t, "", a.Info())
			g := nodetest.JoinAll(t, []*nodetest.Node{a, b})
			sent := nodetest.SendN(t, b, g, 300, "message %d "+strings.Repeat("y", 2000))
			sent = append(sent, nodetest.SendN(t, a, g, 5, "a's own %d")...)
			nodetest.Eventually(t, 30*time.Second, "a to hold every message", func() (bool, string) { return nodetest.HasAll(t, a, g, sent) })
			nodetest.Eventually(t, 30*time.Second, "b to hold a's messages", func() (bool, string) { return nodetest.HasAll(t, b, g, sent) })
			a.Stop() // writes the store out into tables
			damage(t, biggestTable(t, aHome.StoreDir()))

			a = nodetest.Start(t, aHome, b.Info())
			ch, err := a.Client(t).Check(context.Background(), api.CheckRequest{})
			if err != nil || ch.Found == "" {
				t.Fatalf("check of the damaged store: %+v, %v", ch, err)
			}
			t.Logf("check: %+v", ch)
			nodetest.Eventually(t, 60*time.Second, "a to get every message back from b", func() (bool, string) {
				return nodetest.HasAll(t, a, g, sent)
			})
			want, got := texts(t, b, g), texts(t, a, g)
			if len(got) != len(sent) || len(want) != len(sent) {
				t.Fatalf("a holds %d messages, b %d, %d were sent", len(got), len(want), len(sent))
			}
			for id, text := range want {
				if got[id] != text {
					t.Fatalf("message %s on a: %.20q, on b %.20q", id, got[id], text)
				}
			}
			if miss, err := a.Store().Missing(g.Scope()); err != nil || miss != 0 {
				t.Fatalf("a still misses %d events (%v)", miss, err)
			}
			// a writes on after the repair.
			nodetest.SendN(t, a, g, 1, "after the repair %d")
		})
	}
}

func biggestTable(t *testing.T, dir string) string {
	t.Helper()
	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	var biggest string
	var size int64
	for _, p := range tables {
		if fi, err := os.Stat(p); err == nil && fi.Size() > size {
			biggest, size = p, fi.Size()
		}
	}
	if biggest == "" {
		t.Fatal("no table in the store")
	}
	return biggest
}

// texts maps each message of g on n to its text.
func texts(t *testing.T, n *nodetest.Node, g *groupchat.Group) map[string]string {
	t.Helper()
	msgs, _, err := n.Groups().History(nodetest.GroupOn(t, n, g), store.Cursor{}, 100000)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string, len(msgs))
	for _, m := range msgs {
		out[m.Event.ID.String()] = m.Text
	}
	return out
}
