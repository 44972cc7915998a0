package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/spf13/pflag"
)

// load loads a configuration from a file with the given text (none if
// empty), an environment and command-line arguments.
func load(t *testing.T, file string, env map[string]string, args ...string) (*Loaded, error) {
	t.Helper()
	dir := t.TempDir()
	// The user's own config file plays no part.
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("XDG_STATE_HOME", dir)
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	AddFileFlag(fs)
	AddFlags(fs, "home")
	AddFlags(fs, RunKeys()...)
	if file != "" {
		path := filepath.Join(dir, "config.toml")
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", path)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return Load(Input{Flags: fs, Getenv: func(k string) string { return env[k] }})
}

func TestDefaults(t *testing.T) {
	l, err := load(t, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.FileFound {
		t.Error("found a file that is not there")
	}
	c := l.Config
	if !c.MDNS || !c.ReadReceipts || !c.CarryMail || c.Log.Level != "info" || c.Wallet.Unit != "village" || c.Home == "" {
		t.Errorf("defaults: %+v", c)
	}
	for _, o := range Options {
		if l.From(o.Key).Kind != FromDefault {
			t.Errorf("%s from %v", o.Key, l.From(o.Key))
		}
	}
}

// Every source overrides the one below it, option by option: flags over
// the environment over the file over the defaults.
func TestPrecedence(t *testing.T) {
	file := `
name = "from-file"
api = "127.0.0.1:9000"
listen = ["/ip4/127.0.0.1/tcp/1"]
mdns = false
[wallet]
unit = "file-unit"
guarantors = ["g1", "g2"]
offline_cap = 5
[log]
level = "warn"
`
	env := map[string]string{
		"BANYAN_API":                "127.0.0.1:9001",
		"BANYAN_LISTEN":             "/ip4/127.0.0.1/tcp/2, /ip4/127.0.0.1/tcp/3",
		"BANYAN_WALLET_UNIT":        "env-unit",
		"BANYAN_NO_READ_RECEIPTS":   "true",
		"BANYAN_WALLET_OFFLINE_CAP": "7",
	}
	l, err := load(t, file, env, "--listen", "/ip4/127.0.0.1/tcp/4", "--wallet-unit", "flag-unit", "--no-carry-mail", "--log-level", "debug")
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	want := map[string]struct {
		v    any
		kind SourceKind
	}{
		"name":               {"from-file", FromFile},
		"api":                {"127.0.0.1:9001", FromEnv},
		"listen":             {[]string{"/ip4/127.0.0.1/tcp/4"}, FromFlag}, // a list given replaces the lists below
		"mdns":               {false, FromFile},
		"read_receipts":      {false, FromEnv},
		"carry_mail":         {false, FromFlag},
		"wallet.unit":        {"flag-unit", FromFlag},
		"wallet.guarantors":  {[]string{"g1", "g2"}, FromFile},
		"wallet.offline_cap": {uint64(7), FromEnv},
		"log.level":          {"debug", FromFlag},
		"log.format":         {"", FromDefault},
		"passphrase_file":    {"", FromDefault},
	}
	for key, w := range want {
		o := Lookup(key)
		if got := o.Value(&c); !reflect.DeepEqual(got, w.v) {
			t.Errorf("%s = %#v, want %#v", key, got, w.v)
		}
		if got := l.From(key); got.Kind != w.kind {
			t.Errorf("%s from %v, want kind %d", key, got, w.kind)
		}
	}
	if s := l.From("api").String(); s != "env BANYAN_API" {
		t.Errorf("api from %q", s)
	}
	if s := l.From("carry_mail").String(); s != "flag --no-carry-mail" {
		t.Errorf("carry_mail from %q", s)
	}
	if s := l.From("name").String(); !strings.HasPrefix(s, "file ") || !strings.HasSuffix(s, "config.toml") {
		t.Errorf("name from %q", s)
	}
	// The environment's list, without flags, splits at commas.
	l, err = load(t, file, env)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Listen; !reflect.DeepEqual(got, []string{"/ip4/127.0.0.1/tcp/2", "/ip4/127.0.0.1/tcp/3"}) {
		t.Errorf("listen from the environment: %q", got)
	}
	// Repeated flags make a list.
	l, err = load(t, "", nil, "--peer", "a", "--peer", "b")
	if err != nil || !reflect.DeepEqual(l.Peers, []string{"a", "b"}) {
		t.Errorf("repeated --peer: %q, %v", l.Peers, err)
	}
}

func TestBadValues(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  map[string]string
		args []string
		want []string
	}{
		{"unknown key", "lisen = []\n", nil, nil, []string{`unknown key "lisen"`, `did you mean "listen"?`}},
		{"unknown table key", "[wallet]\nunti = \"x\"\n", nil, nil, []string{`unknown key "wallet.unti"`, `"wallet.unit"`}},
		{"unknown far key", "colour = \"red\"\n", nil, nil, []string{`unknown key "colour"`, "banyan config show"}},
		{"wrong type", "listen = \"/ip4/1.2.3.4/tcp/1\"\n", nil, nil, []string{"line 1", "listen"}},
		{"not toml", "name = \n", nil, nil, []string{"line 1"}},
		{"bad level in file", "[log]\nlevel = \"loud\"\n", nil, nil, []string{"log.level in ", `"loud" is not one of debug, info, warn, error`}},
		{"bad env bool", "", map[string]string{"BANYAN_NO_MDNS": "perhaps"}, nil, []string{"BANYAN_NO_MDNS: ", `"perhaps" is not true or false`}},
		{"bad env number", "", map[string]string{"BANYAN_WALLET_OFFLINE_CAP": "-1"}, nil, []string{"BANYAN_WALLET_OFFLINE_CAP: "}},
		{"bad flag", "", nil, []string{"--log-format", "xml"}, []string{`"xml" is not one of text, json`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.file, tc.env, tc.args...)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	// A file that was named must exist; the default one need not.
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	AddFileFlag(fs)
	if err := fs.Parse([]string{"--config", filepath.Join(t.TempDir(), "nope.toml")}); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(Input{Flags: fs}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing --config file: %v", err)
	}
}

// The default file parses to the defaults as it is, and still does with
// every option uncommented; what 'config show' prints is a file that
// gives the same configuration.
func TestDefaultFileAndShow(t *testing.T) {
	text := DefaultFileText()
	def, err := load(t, text, nil)
	if err != nil {
		t.Fatal(err)
	}
	var un []string
	for _, line := range strings.Split(text, "\n") {
		if k, ok := strings.CutPrefix(line, "# "); ok && strings.Contains(k, " = ") {
			line = k
		}
		un = append(un, line)
	}
	uncommented := strings.Join(un, "\n")
	var c Config
	md, err := toml.Decode(uncommented, &c)
	if err != nil || len(md.Undecoded()) > 0 {
		t.Fatalf("uncommented default file: %v, undecoded %v\n%s", err, md.Undecoded(), uncommented)
	}
	if len(md.Keys()) < len(Options) {
		t.Errorf("the default file sets %d keys, want all %d", len(md.Keys()), len(Options))
	}
	all, err := load(t, uncommented, nil)
	if err != nil {
		t.Fatal(err)
	}
	all.Home, def.Home = "", ""
	if !reflect.DeepEqual(all.Config, def.Config) {
		t.Errorf("uncommented defaults differ:\n%+v\n%+v", all.Config, def.Config)
	}

	l, err := load(t, "name = \"mei\"\n[wallet]\nguarantors = [\"g\"]\n", map[string]string{"BANYAN_API": "off"}, "--no-mdns", "--home", "/tmp/x")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := l.Show(&out); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`name = "mei"`, "# file ", `api = "off"`, "# env BANYAN_API", "mdns = false", "# flag --no-mdns", `home = "/tmp/x"`, "[wallet]", `guarantors = ["g"]`} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("show does not say %q:\n%s", w, out.String())
		}
	}
	again, err := load(t, out.String(), nil)
	if err != nil {
		t.Fatalf("show's output is not a valid file: %v\n%s", err, out.String())
	}
	if !reflect.DeepEqual(again.Config, l.Config) {
		t.Errorf("show's output gives another configuration:\n%+v\n%+v", again.Config, l.Config)
	}
}

func TestWriteDefaultFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "banyan", "config.toml")
	if err := WriteDefaultFile(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("name = \"mine\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteDefaultFile(path); !errors.Is(err, ErrFileExists) {
		t.Errorf("second write: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "name = \"mine\"\n" {
		t.Errorf("the existing file was replaced: %q", b)
	}
}
