// Package backup writes and restores a person's backup: their identity and
// what cannot be fetched again from the village (the vault's tables: group
// keys, contacts, the wallet's settings; the configuration), sealed with a
// passphrase. History is not in it: peers hold it, and a restored node
// gets it back by sync, writing nothing to its own chains until it has
// (node/engine's restored identities).
package backup

import (
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/node/config"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/store"
)

// Backup is what a backup file holds.
type Backup struct {
	Created time.Time
	// Seed is the identity's Ed25519 seed.
	Seed []byte
	// Config is the configuration file's text, Settings the app's
	// settings (config.AppFile); either may be empty.
	Config, Settings string
	// Vault holds the records of the vault's tables.
	Vault store.VaultRecords
}

// Limits of a backup, checked before anything is allocated for it.
const (
	MaxFile      = 4 << 20
	maxRecords   = 1 << 16
	maxText      = 64 << 10
	pemType      = "BANYAN BACKUP"
	formatV1     = 1
	associated   = "banyan/backup/v1"
	maxTableName = 64
)

// skipTables are vault tables that belong to the machine, not the person:
// the listen ports.
var skipTables = map[string]bool{"ports": true}

var tableName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// ErrNotBackup reports a file that is not a Banyan backup.
var ErrNotBackup = errors.New("not a Banyan backup file")

// ErrWrongPassphrase reports a passphrase that does not open the backup,
// or a backup whose bytes were changed.
var ErrWrongPassphrase = errors.New("wrong passphrase, or the backup file is damaged")

type wire struct {
	Version  int     `cbor:"1,keyasint"`
	Created  int64   `cbor:"2,keyasint"`
	Seed     []byte  `cbor:"3,keyasint"`
	Config   string  `cbor:"4,keyasint,omitempty"`
	Settings string  `cbor:"5,keyasint,omitempty"`
	Tables   []table `cbor:"6,keyasint"`
}

type table struct {
	Name    string   `cbor:"1,keyasint"`
	Records []record `cbor:"2,keyasint"`
}

type record struct {
	_     struct{} `cbor:",toarray"`
	Key   []byte
	Value []byte
}

var decMode = crypto.StrictCBOR(6, maxRecords)

// Encode seals b with passphrase into a backup file's bytes.
func Encode(b *Backup, passphrase []byte) ([]byte, error) {
	if len(passphrase) == 0 {
		return nil, errors.New("a backup needs a passphrase")
	}
	w := wire{Version: formatV1, Created: b.Created.UnixMilli(), Seed: b.Seed, Config: b.Config, Settings: b.Settings, Tables: []table{}}
	for _, name := range slices.Sorted(maps.Keys(b.Vault)) {
		t := table{Name: name, Records: []record{}}
		for _, kv := range b.Vault[name] {
			t.Records = append(t.Records, record{Key: kv[0], Value: kv[1]})
		}
		w.Tables = append(w.Tables, t)
	}
	if err := w.check(); err != nil {
		return nil, err
	}
	plain, err := crypto.CanonicalCBOR.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode backup: %w", err)
	}
	sealed, err := crypto.SealWithPassphrase(passphrase, plain, []byte(associated))
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: pemType, Headers: map[string]string{"Version": "1"}, Bytes: sealed})
	if len(out) > MaxFile {
		return nil, fmt.Errorf("the backup would be %d bytes, more than the %d a backup may hold", len(out), MaxFile)
	}
	return out, nil
}

// Decode opens a backup file's bytes with passphrase.
func Decode(file, passphrase []byte) (*Backup, error) {
	if len(file) > MaxFile {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrNotBackup, MaxFile)
	}
	blk, _ := pem.Decode(file)
	if blk == nil || blk.Type != pemType {
		return nil, ErrNotBackup
	}
	if v := blk.Headers["Version"]; v != "1" {
		return nil, fmt.Errorf("backup of version %q: this Banyan reads version 1; use a newer Banyan", v)
	}
	plain, err := crypto.OpenWithPassphrase(passphrase, blk.Bytes, []byte(associated))
	switch {
	case errors.Is(err, crypto.ErrWrongPassphrase):
		return nil, ErrWrongPassphrase
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrNotBackup, err)
	}
	return decodePlain(plain)
}

// decodePlain decodes and checks a backup's plaintext.
func decodePlain(plain []byte) (*Backup, error) {
	var w wire
	if err := decMode.Unmarshal(plain, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotBackup, err)
	}
	if err := w.check(); err != nil {
		return nil, err
	}
	b := &Backup{Created: time.UnixMilli(w.Created), Seed: w.Seed, Config: w.Config, Settings: w.Settings, Vault: store.VaultRecords{}}
	for _, t := range w.Tables {
		recs := make([][2][]byte, 0, len(t.Records))
		for _, r := range t.Records {
			recs = append(recs, [2][]byte{r.Key, r.Value})
		}
		b.Vault[t.Name] = recs
	}
	return b, nil
}

func (w *wire) check() error {
	switch {
	case w.Version != formatV1:
		return fmt.Errorf("backup of version %d: this Banyan reads version 1; use a newer Banyan", w.Version)
	case len(w.Seed) != 32:
		return fmt.Errorf("%w: the identity's seed is %d bytes, not 32", ErrNotBackup, len(w.Seed))
	case len(w.Config) > maxText || len(w.Settings) > maxText:
		return fmt.Errorf("%w: a configuration text above %d bytes", ErrNotBackup, maxText)
	}
	seen := map[string]bool{}
	for _, t := range w.Tables {
		if len(t.Name) > maxTableName || !tableName.MatchString(t.Name) || seen[t.Name] {
			return fmt.Errorf("%w: a table named %q", ErrNotBackup, t.Name)
		}
		seen[t.Name] = true
		for _, r := range t.Records {
			if len(r.Key) == 0 {
				return fmt.Errorf("%w: a record without a key in table %s", ErrNotBackup, t.Name)
			}
		}
	}
	return nil
}

// Counts returns how many records the backup holds, by vault table.
func (b *Backup) Counts() map[string]int {
	out := make(map[string]int, len(b.Vault))
	for name, rs := range b.Vault {
		out[name] = len(rs)
	}
	return out
}

// Options says where a node's files are.
type Options struct {
	Home home.Home
	// ConfigFile is the configuration file, if there is one.
	ConfigFile string
}

// Create gathers the backup of the node with identity id. It reads files
// only (the vault is written whole and checksummed), so it works whether
// the node runs or not.
func Create(opts Options, id *crypto.Identity, now time.Time) (*Backup, error) {
	b := &Backup{Created: now, Seed: id.Seed(), Vault: store.VaultRecords{}}
	recs, err := store.ReadVault(opts.Home.VaultFile())
	switch {
	case errors.Is(err, os.ErrNotExist):
		// A node that never ran has nothing in its vault yet.
	case err != nil:
		return nil, err
	}
	for name, rs := range recs {
		if !skipTables[name] && len(rs) > 0 {
			b.Vault[name] = rs
		}
	}
	if b.Config, err = readText(opts.ConfigFile); err != nil {
		return nil, err
	}
	if b.Settings, err = readText(filepath.Join(string(opts.Home), config.AppFile)); err != nil {
		return nil, err
	}
	return b, nil
}

func readText(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	t, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	if len(t) > maxText {
		return "", fmt.Errorf("backup: %s is larger than %d bytes", path, maxText)
	}
	return string(t), nil
}

// Restored says what Restore wrote.
type Restored struct {
	Identity *crypto.Identity
	// Config and Settings are the files written; empty where the backup
	// had none or a file was there already (it is kept).
	Config, Settings string
	// Tables counts the vault's records by table.
	Tables map[string]int
}

// ErrNotEmpty refuses a restore onto a data directory that holds a node.
var ErrNotEmpty = errors.New("a backup is restored only into a data directory without an identity or a store")

// Restore writes b into a new data directory: the vault, the settings and
// the configuration file (where there is none), and last the identity,
// marked as restored, with its key file encrypted with keyPassphrase
// (none if empty).
func Restore(opts Options, b *Backup, keyPassphrase []byte, now time.Time) (*Restored, error) {
	h := opts.Home
	if h.Initialized() {
		return nil, fmt.Errorf("%s has an identity already: %w", h, ErrNotEmpty)
	}
	if _, err := os.Stat(h.StoreDir()); err == nil {
		return nil, fmt.Errorf("%s has a store already: %w", h, ErrNotEmpty)
	}
	id, err := crypto.IdentityFromSeed(b.Seed)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if err := os.MkdirAll(string(h), 0o700); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	out := &Restored{Identity: id, Tables: b.Counts()}
	if err := store.WriteVault(h.VaultFile(), b.Vault); err != nil {
		return nil, err
	}
	if out.Settings, err = writeNew(filepath.Join(string(h), config.AppFile), b.Settings); err != nil {
		return nil, err
	}
	if out.Config, err = writeNew(opts.ConfigFile, b.Config); err != nil {
		return nil, err
	}
	if err := h.Restore(id, keyPassphrase, now); err != nil {
		return nil, err
	}
	return out, nil
}

// writeNew writes text to path unless text is empty or path exists, and
// returns the path written, if any.
func writeNew(path, text string) (string, error) {
	if path == "" || text == "" {
		return "", nil
	}
	if _, err := os.Stat(path); err == nil {
		return "", nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	if err := home.WriteFileAtomic(path, []byte(text), 0o600); err != nil {
		return "", fmt.Errorf("restore %s: %w", path, err)
	}
	return path, nil
}
