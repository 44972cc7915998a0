package node_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/config"
	"github.com/banyan-mesh/banyan/node/nodetest"
)

// A setting changed through the API applies at once where it can, is kept
// for the next start, and one that a flag fixes is refused with the flag
// named.
func TestSettingsChange(t *testing.T) {
	n := nodetest.StartWith(t, "", func(o *node.Options) {
		o.FixedSettings = map[string]string{"read_receipts": "--no-read-receipts"}
		o.NoReadReceipts = true
	})
	c := n.Client(t)
	ctx := context.Background()
	var got api.Settings
	if err := c.Do(ctx, "GET", "/v1/settings", nil, &got); err != nil {
		t.Fatal(err)
	}
	if got.ReadReceipts || !got.CarryMail || !got.CarryingMail || got.Fixed["read_receipts"] != "--no-read-receipts" {
		t.Fatalf("settings at start: %+v", got)
	}
	name, carry := "Amina at the mill", false
	if err := c.Do(ctx, "PUT", "/v1/settings", api.SettingsChange{Name: &name, CarryMail: &carry}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Name != name || got.CarryMail || !got.CarryingMail {
		t.Errorf("after the change: %+v", got)
	}
	if code := n.DMs().Code(); code.Name != name {
		t.Errorf("the contact code still names %q", code.Name)
	}
	var kept map[string]any
	if _, err := toml.DecodeFile(filepath.Join(string(n.Home), config.AppFile), &kept); err != nil {
		t.Fatal(err)
	}
	if kept["name"] != name || kept["carry_mail"] != false {
		t.Errorf("kept for the next start: %v", kept)
	}
	on := true
	err := c.Do(ctx, "PUT", "/v1/settings", api.SettingsChange{ReadReceipts: &on}, nil)
	if !api.IsStatus(err, http.StatusConflict) || !strings.Contains(err.Error(), "--no-read-receipts") {
		t.Errorf("changing a setting a flag fixes: %v", err)
	}
	long := strings.Repeat("x", 500)
	if err := c.Do(ctx, "PUT", "/v1/settings", api.SettingsChange{Name: &long}, nil); !api.IsStatus(err, http.StatusBadRequest) {
		t.Errorf("a name of 500 letters: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(string(n.Home), config.AppFile)); err != nil || strings.Contains(string(b), long) {
		t.Errorf("a refused name was kept: %v", err)
	}
	var info api.Node
	if err := c.Do(ctx, "GET", "/v1/node", nil, &info); err != nil {
		t.Fatal(err)
	}
	if info.Storage.Dir != string(n.Home) || info.Storage.StoreBytes <= 0 {
		t.Errorf("storage: %+v", info.Storage)
	}
}
