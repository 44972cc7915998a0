package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A setting changed in the app wins over the config file and loses to the
// environment and the flags, and survives the next start.
func TestAppSettings(t *testing.T) {
	home := t.TempDir()
	file := "name = \"from-file\"\nread_receipts = true\n"
	if err := SaveApp(home, "name", "from-app"); err != nil {
		t.Fatal(err)
	}
	if err := SaveApp(home, "read_receipts", false); err != nil {
		t.Fatal(err)
	}
	if err := SaveApp(home, "carry_mail", true); err != nil {
		t.Fatal(err)
	}
	l, err := load(t, file, map[string]string{"BANYAN_NO_READ_RECEIPTS": "false"}, "--home", home, "--no-carry-mail")
	if err != nil {
		t.Fatal(err)
	}
	if l.Name != "from-app" || l.From("name").Kind != FromApp {
		t.Errorf("name %q from %v, want the app's", l.Name, l.From("name"))
	}
	if !l.ReadReceipts || l.From("read_receipts").Kind != FromEnv {
		t.Errorf("read_receipts %v from %v, want the environment's", l.ReadReceipts, l.From("read_receipts"))
	}
	if l.CarryMail || l.From("carry_mail").Kind != FromFlag {
		t.Errorf("carry_mail %v from %v, want the flag's", l.CarryMail, l.From("carry_mail"))
	}
	if s := l.From("name").Setting("name"); !strings.Contains(s, AppFile) {
		t.Errorf("the app's setting is named %q", s)
	}
}

// What the app may not set is refused, and a damaged file is named with a
// way out.
func TestAppSettingsRefused(t *testing.T) {
	home := t.TempDir()
	if err := SaveApp(home, "listen", []string{"/ip4/0.0.0.0/tcp/1"}); err == nil {
		t.Error("the app set listen")
	}
	if err := os.WriteFile(filepath.Join(home, AppFile), []byte("api = \"0.0.0.0:80\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := load(t, "", nil, "--home", home); err == nil || !strings.Contains(err.Error(), "api cannot be set there") {
		t.Errorf("api in the app's file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(home, AppFile), []byte("name = \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := load(t, "", nil, "--home", home); err == nil || !strings.Contains(err.Error(), "remove the file") {
		t.Errorf("a damaged app file: %v", err)
	}
}
