package store_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/banyan-mesh/banyan/store"
)

// A vault table's records survive the loss of the whole store; records
// of tables not opened in a run are kept; a damaged vault restores
// nothing and is written again from the store.
func TestVaultRestoresLostTables(t *testing.T) {
	dir := t.TempDir()
	opts := store.Options{Dir: filepath.Join(dir, "store"), Vault: filepath.Join(dir, "vault"), Logger: quietLogger}
	s, err := store.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := s.VaultTable("keys")
	people, _ := s.VaultTable("people")
	plain, _ := s.Table("plain")
	for _, tb := range []*store.Table{keys, people, plain} {
		if err := tb.Put([]byte("k1"), []byte("v1")); err != nil {
			t.Fatal(err)
		}
	}
	if err := keys.Delete([]byte("k1")); err != nil {
		t.Fatal(err)
	}
	if err := keys.Put([]byte("k2"), []byte("v2")); err != nil {
		t.Fatal(err)
	}
	s.Close()

	lose := func() {
		t.Helper()
		if err := os.RemoveAll(opts.Dir); err != nil {
			t.Fatal(err)
		}
	}
	lose()
	// A run that opens only one of the vault tables keeps the other's.
	s, err = store.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ = s.VaultTable("keys")
	if v, err := keys.Get([]byte("k2")); err != nil || string(v) != "v2" {
		t.Fatalf("k2 after the loss: %q, %v", v, err)
	}
	if _, err := keys.Get([]byte("k1")); err == nil {
		t.Fatal("a deleted record came back")
	}
	s.Close()
	lose()
	s, err = store.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	people, _ = s.VaultTable("people")
	plain, _ = s.Table("plain")
	if v, err := people.Get([]byte("k1")); err != nil || string(v) != "v1" {
		t.Fatalf("a table not opened in the last run: %q, %v", v, err)
	}
	if _, err := plain.Get([]byte("k1")); err == nil {
		t.Fatal("a plain table came back from the vault")
	}
	s.Close()

	b, err := os.ReadFile(opts.Vault)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(opts.Vault, b, 0o600); err != nil {
		t.Fatal(err)
	}
	lose()
	s, err = store.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	people, _ = s.VaultTable("people")
	if _, err := people.Get([]byte("k1")); err == nil {
		t.Fatal("a damaged vault was restored")
	}
	if err := people.Put([]byte("k3"), []byte("v3")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	lose()
	s, err = store.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	people, _ = s.VaultTable("people")
	if v, err := people.Get([]byte("k3")); err != nil || string(v) != "v3" {
		t.Fatalf("the vault was not written again after damage: %q, %v", v, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
