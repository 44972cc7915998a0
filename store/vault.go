package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"sync"

	"github.com/banyan-mesh/banyan/store/safefile"
)

// The vault.
//
// Some records cannot be fetched again from peers: a group's key (without
// it no peer's copy of the history can be read), the contacts, the
// wallet's settings. Features keep them in vault tables (VaultTable): the
// store keeps every record of every vault table also in one small file
// beside the store (Options.Vault, written with safefile: checksummed,
// fsynced), rewritten after every write to a vault table. A vault table
// found empty in the store while the vault holds records for it (the
// store was lost, damaged beyond opening and moved aside, or started
// afresh) gets them back when it is opened.

// vault is the store's copy of its vault tables.
type vault struct {
	path string
	mu   sync.Mutex
	// tables are the open vault tables; loaded what the file held when it
	// was first read (nil until then).
	tables []*Table
	loaded VaultRecords
}

func newVault(path string) *vault {
	if path == "" {
		return nil
	}
	return &vault{path: path}
}

// vaultFile is the vault's format: every record of every vault table.
type vaultFile struct {
	Tables VaultRecords `json:"tables"`
}

// VaultTable is Table for records that cannot be fetched again from
// peers: they are kept in the vault as well, and restored from it when
// the table is found empty.
func (s *Store) VaultTable(name string) (*Table, error) {
	t, err := s.Table(name)
	if err != nil || s.vault == nil {
		return t, err
	}
	t.vault = true
	v := s.vault
	v.mu.Lock()
	v.tables = append(v.tables, t)
	if v.loaded == nil {
		v.loaded = VaultRecords{}
		recs, err := ReadVault(v.path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			s.log.Error("the vault cannot be read; it is written again from the store", "err", err)
		default:
			v.loaded = recs
		}
	}
	saved := v.loaded[name]
	v.mu.Unlock()
	if len(saved) == 0 {
		return t, nil
	}
	empty := true
	if err := t.Scan(Range{}, func(_, _ []byte) error { empty = false; return ErrStop }); err != nil {
		return nil, err
	}
	if !empty {
		return t, nil
	}
	err = s.Write(func(b *Batch) error {
		for _, kv := range saved {
			if err := b.Put(t, kv[0], kv[1]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("restore %s from the vault: %w", name, err)
	}
	s.log.Warn("a table that peers cannot give back was empty in the store: filled it from the vault (as it should be after 'banyan restore' or the loss of the store; otherwise the store was damaged)", "table", name, "records", len(saved))
	return t, nil
}

// saveVault writes every record of every vault table to the vault.
func (s *Store) saveVault() {
	v := s.vault
	if v == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	// Tables not opened (yet) in this run keep what the vault held.
	f := vaultFile{Tables: maps.Clone(v.loaded)}
	if f.Tables == nil {
		f.Tables = VaultRecords{}
	}
	for _, t := range v.tables {
		recs := [][2][]byte{}
		err := t.Scan(Range{}, func(k, val []byte) error {
			recs = append(recs, [2][]byte{append([]byte(nil), k...), append([]byte(nil), val...)})
			return nil
		})
		if err != nil {
			s.log.Error("vault not written", "table", t.name, "err", err)
			return
		}
		f.Tables[t.name] = recs
	}
	b, err := json.Marshal(f)
	if err == nil {
		err = safefile.Write(v.path, b, 0o600)
	}
	if err != nil {
		s.log.Error("vault not written: it is behind the store until the next change", "err", err)
		return
	}
	v.loaded = f.Tables
}

// VaultRecords are the records of vault tables, by table name.
type VaultRecords map[string][][2][]byte

// ReadVault reads the vault file at path, as a backup does: it is written
// whole and checksummed, so a running node's vault can be read at any
// time.
func ReadVault(path string) (VaultRecords, error) {
	b, err := safefile.Read(path)
	if err != nil {
		return nil, fmt.Errorf("read the vault: %w", err)
	}
	var f vaultFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("read the vault %s: %w", path, err)
	}
	return f.Tables, nil
}

// WriteVault writes a vault file at path for a store not yet opened (a
// restore): the store's vault tables get the records when it first opens
// them, as they do after the loss of a store.
func WriteVault(path string, recs VaultRecords) error {
	b, err := json.Marshal(vaultFile{Tables: recs})
	if err != nil {
		return fmt.Errorf("write the vault: %w", err)
	}
	if err := safefile.Write(path, b, 0o600); err != nil {
		return fmt.Errorf("write the vault: %w", err)
	}
	return nil
}
