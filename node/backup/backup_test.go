package backup

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/store"
)

// fill gives a home an identity and a vault as a node leaves them.
func fill(t *testing.T) (home.Home, *crypto.Identity) {
	t.Helper()
	h := home.Home(t.TempDir())
	id, err := h.Init(nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(store.Options{Dir: h.StoreDir(), Vault: h.VaultFile()})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"groups", "contacts", "ports"} {
		tb, err := st.VaultTable(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := tb.Put([]byte(name+"-key"), []byte(name+"-value")); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(string(h), "settings.toml"), []byte("name = \"Amina\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return h, id
}

func TestBackupRestoresIntoANewHome(t *testing.T) {
	h, id := fill(t)
	cfgFile := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfgFile, []byte("peers = [\"/ip4/10.0.0.2/tcp/7341/p2p/x\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := Create(Options{Home: h, ConfigFile: cfgFile}, id, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Vault["ports"]; ok {
		t.Fatal("the listen ports belong to the machine, not in a backup")
	}
	raw, err := Encode(b, []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("groups-value")) || bytes.Contains(raw, []byte("Amina")) {
		t.Fatal("the backup holds plaintext")
	}
	if _, err := Decode(raw, []byte("wrong")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	got, err := Decode(raw, []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}

	to := home.Home(filepath.Join(t.TempDir(), "new"))
	newCfg := filepath.Join(t.TempDir(), "banyan", "config.toml")
	out, err := Restore(Options{Home: to, ConfigFile: newCfg}, got, []byte("key pass"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if out.Identity.PeerID() != id.PeerID() || out.Config != newCfg {
		t.Fatalf("restored %s with config %q", out.Identity.PeerID(), out.Config)
	}
	again, err := to.Identity([]byte("key pass"))
	if err != nil || again.PeerID() != id.PeerID() {
		t.Fatalf("key file: %v", err)
	}
	if at, ok, err := to.RestoredAt(); err != nil || !ok || at.IsZero() {
		t.Fatalf("restored mark: %v %v %v", at, ok, err)
	}
	if to.NewIdentity() {
		t.Fatal("a restored identity passes for a new one")
	}
	if c, _ := os.ReadFile(newCfg); !strings.Contains(string(c), "10.0.0.2") {
		t.Fatalf("config: %q", c)
	}
	if s, _ := os.ReadFile(filepath.Join(string(to), "settings.toml")); !strings.Contains(string(s), "Amina") {
		t.Fatalf("settings: %q", s)
	}
	// The store, opened for the first time, has the vault's tables back.
	st, err := store.Open(store.Options{Dir: to.StoreDir(), Vault: to.VaultFile()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, name := range []string{"groups", "contacts"} {
		tb, err := st.VaultTable(name)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := tb.Get([]byte(name + "-key")); err != nil || string(v) != name+"-value" {
			t.Fatalf("%s: %q %v", name, v, err)
		}
	}

	if _, err := Restore(Options{Home: to}, got, nil, time.Now()); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("restore over an identity: %v", err)
	}
	if _, err := Restore(Options{Home: h}, got, nil, time.Now()); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("restore over a node: %v", err)
	}
}

func TestBackupKeepsAnExistingConfig(t *testing.T) {
	h, id := fill(t)
	b, err := Create(Options{Home: h}, id, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b.Config = "name = \"from the backup\"\n"
	cfg := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfg, []byte("name = \"here\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := Restore(Options{Home: home.Home(t.TempDir()), ConfigFile: cfg}, b, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := os.ReadFile(cfg); out.Config != "" || string(c) != "name = \"here\"\n" {
		t.Fatalf("config replaced: %q", c)
	}
}

func TestDamagedBackupIsRefused(t *testing.T) {
	h, id := fill(t)
	b, err := Create(Options{Home: h}, id, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := Encode(b, []byte("pass"))
	if err != nil {
		t.Fatal(err)
	}
	// A changed byte inside the sealed part: the PEM still decodes.
	lines := strings.Split(string(raw), "\n")
	mid := []byte(lines[len(lines)/2])
	mid[10] ^= 'A' ^ 'B'
	if mid[10] == lines[len(lines)/2][10] {
		mid[10] = 'C'
	}
	lines[len(lines)/2] = string(mid)
	if _, err := Decode([]byte(strings.Join(lines, "\n")), []byte("pass")); err == nil {
		t.Fatal("a damaged backup opened")
	}
	if _, err := Decode([]byte("-----BEGIN BANYAN IDENTITY-----\nAAAA\n-----END BANYAN IDENTITY-----\n"), []byte("pass")); !errors.Is(err, ErrNotBackup) {
		t.Fatalf("a key file as a backup: %v", err)
	}
	if _, err := Decode(bytes.Repeat([]byte("x"), MaxFile+1), []byte("pass")); !errors.Is(err, ErrNotBackup) {
		t.Fatalf("a huge file: %v", err)
	}
}

func FuzzDecodePlain(f *testing.F) {
	b := &Backup{Seed: make([]byte, 32), Config: "name = \"x\"\n", Vault: store.VaultRecords{"groups": {{[]byte("k"), []byte("v")}}}}
	w := wire{Version: formatV1, Seed: b.Seed, Config: b.Config, Tables: []table{{Name: "groups", Records: []record{{Key: []byte("k"), Value: []byte("v")}}}}}
	seed, err := crypto.CanonicalCBOR.Marshal(w)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, plain []byte) {
		got, err := decodePlain(plain)
		if err != nil {
			return
		}
		if len(got.Seed) != 32 || len(got.Config) > maxText || len(got.Settings) > maxText {
			t.Fatalf("decoded a backup outside its limits: seed %d, config %d", len(got.Seed), len(got.Config))
		}
		for name, recs := range got.Vault {
			if !tableName.MatchString(name) {
				t.Fatalf("table %q", name)
			}
			for _, r := range recs {
				if len(r[0]) == 0 {
					t.Fatal("a record without a key")
				}
			}
		}
	})
}
