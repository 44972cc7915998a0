package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUsageAndNoNodeErrors(t *testing.T) {
	t.Parallel()
	fresh := filepath.Join(t.TempDir(), "fresh")
	tests := []struct {
		name string
		args []string
		code int
		want []string // substrings of stderr
	}{
		{"unknown command", []string{"frobnicate"}, 2,
			[]string{`banyan: unknown command "frobnicate"`, "see 'banyan --help'"}},
		{"unknown subcommand", []string{"group", "frobnicate"}, 2,
			[]string{`unknown command "frobnicate" for "banyan group"`, "see 'banyan group --help'"}},
		{"suggestion", []string{"sned"}, 2,
			[]string{`unknown command "sned"`, `did you mean "send"?`}},
		{"unknown flag", []string{"peers", "--bogus"}, 2,
			[]string{"unknown flag: --bogus", "see 'banyan peers --help'"}},
		{"send without group", []string{"send", "--home", fresh}, 2,
			[]string{"missing GROUP argument", "usage: banyan send GROUP [TEXT...]", "see 'banyan send --help'"}},
		{"history bad limit", []string{"history", "g", "--limit", "abc", "--home", fresh}, 2,
			[]string{`invalid argument "abc"`, "--limit", "see 'banyan history --help'"}},
		{"history zero limit", []string{"history", "g", "--limit", "0", "--home", fresh}, 2,
			[]string{"--limit must be at least 1", "see 'banyan history --help'"}},
		{"history too many args", []string{"history", "g", "h", "--home", fresh}, 2,
			[]string{`too many arguments: "h"`, "see 'banyan history --help'"}},
		{"group create without name", []string{"group", "create", "--home", fresh}, 2,
			[]string{"missing NAME argument", "see 'banyan group create --help'"}},
		{"join garbage without node", []string{"group", "join", "garbage", "--home", fresh}, 1,
			[]string{"banyan: no banyan node is running on " + fresh + "; start one with 'banyan run --home " + fresh + "'"}},
		{"send without node", []string{"send", "g", "hi", "--home", fresh}, 1,
			[]string{"banyan: no banyan node is running on " + fresh, "banyan run --home " + fresh}},
		{"id without node", []string{"id", "--home", fresh}, 1,
			[]string{"no banyan node is running on " + fresh}},
		{"watch without node", []string{"watch", "--home", fresh}, 1,
			[]string{"no banyan node is running on " + fresh}},
		{"bad log level", []string{"run", "--home", fresh, "--log-level", "loud"}, 2,
			[]string{`--log-level`, `"loud" is not one of debug, info, warn, error`, "see 'banyan run --help'"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(tc.args...)
			if r.code != tc.code {
				t.Fatalf("want exit %d, got\n%v", tc.code, r)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not mention %q:\n%s", w, r.stderr)
				}
			}
			if r.stdout != "" {
				t.Errorf("unexpected stdout: %q", r.stdout)
			}
		})
	}
	if _, err := os.Stat(fresh); err == nil {
		t.Errorf("a failed command created %s", fresh)
	}
}

func TestInitTwice(t *testing.T) {
	t.Parallel()
	home := filepath.Join(t.TempDir(), "home")
	r := runCLI("init", "--home", home)
	if r.code != 0 {
		t.Fatalf("init: %v", r)
	}
	if id := strings.TrimSpace(r.stdout); !strings.HasPrefix(id, "12D3KooW") || strings.Contains(id, "\n") {
		t.Errorf("init printed %q, want a peer ID", r.stdout)
	}
	keyFile := filepath.Join(home, "identity.key")
	before, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	r2 := runCLI("init", "--home", home)
	if r2.code != 1 || !strings.Contains(r2.stderr, "already has an identity") || !strings.HasPrefix(r2.stderr, "banyan: ") {
		t.Errorf("second init: want exit 1 and 'already has an identity', got\n%v", r2)
	}
	after, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("second init changed the key file")
	}
	st, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if m := st.Mode().Perm(); m != 0o600 {
		t.Errorf("key file mode %o, want 600", m)
	}
}

func TestEnvMirrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	envHome, flagHome := filepath.Join(dir, "env"), filepath.Join(dir, "flag")
	r := invocation{args: []string{"init"}, env: []string{"BANYAN_HOME=" + envHome}}.run()
	if r.code != 0 {
		t.Fatalf("init with BANYAN_HOME: %v", r)
	}
	if _, err := os.Stat(filepath.Join(envHome, "identity.key")); err != nil {
		t.Errorf("BANYAN_HOME not used: %v", err)
	}
	// The flag wins over the environment.
	r = invocation{args: []string{"init", "--home", flagHome}, env: []string{"BANYAN_HOME=" + envHome}}.run()
	if r.code != 0 {
		t.Fatalf("init with --home and BANYAN_HOME: %v", r)
	}
	if _, err := os.Stat(filepath.Join(flagHome, "identity.key")); err != nil {
		t.Errorf("--home did not win over BANYAN_HOME: %v", err)
	}
	// A bad value in the environment is reported as such.
	r = invocation{args: []string{"run", "--home", flagHome}, env: []string{"BANYAN_NO_MDNS=perhaps"}}.run()
	if r.code != 2 || !strings.Contains(r.stderr, "BANYAN_NO_MDNS") {
		t.Errorf("bad BANYAN_NO_MDNS: want exit 2 naming the variable, got\n%v", r)
	}
}

func TestEncryptedKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	pass, wrong := filepath.Join(dir, "pass"), filepath.Join(dir, "wrong")
	if err := os.WriteFile(pass, []byte("correct horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wrong, []byte("battery staple\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI("init", "--home", home, "--passphrase-file", pass); r.code != 0 {
		t.Fatalf("init: %v", r)
	}
	raw, err := os.ReadFile(filepath.Join(home, "identity.key"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("ENCRYPTED")) {
		t.Errorf("key file is not encrypted:\n%s", raw)
	}
	nodeArgs := []string{"run", "--home", home, "--no-mdns", "--api", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0"}
	// stdin is not a terminal, so there is nobody to ask.
	r := runCLI(nodeArgs...)
	if r.code != 1 || !strings.Contains(r.stderr, "encrypted") || !strings.Contains(r.stderr, "--passphrase-file") {
		t.Errorf("run without passphrase: want exit 1 explaining the passphrase, got\n%v", r)
	}
	r = runCLI(append(nodeArgs, "--passphrase-file", wrong)...)
	if r.code != 1 || !strings.Contains(r.stderr, "wrong passphrase") {
		t.Errorf("run with wrong passphrase: want exit 1 'wrong passphrase', got\n%v", r)
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	cmds := [][]string{
		{}, {"init"}, {"run"}, {"id"}, {"peers"}, {"group"}, {"group", "create"}, {"group", "invite"},
		{"group", "join"}, {"group", "leave"}, {"group", "list"}, {"send"}, {"history"}, {"watch"}, {"completion"},
	}
	for _, c := range cmds {
		r := runCLI(append(c, "--help")...)
		if r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("%v --help: %v", c, r)
		}
	}
	r := runCLI("run", "--help")
	for _, env := range []string{"BANYAN_HOME", "BANYAN_LISTEN", "BANYAN_PEERS", "BANYAN_API", "BANYAN_PASSPHRASE_FILE"} {
		if !strings.Contains(r.stdout, env) {
			t.Errorf("run --help does not mention %s", env)
		}
	}
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		if r := runCLI("completion", sh); r.code != 0 || len(r.stdout) < 100 {
			t.Errorf("completion %s: exit %d, %d bytes", sh, r.code, len(r.stdout))
		}
	}
}
