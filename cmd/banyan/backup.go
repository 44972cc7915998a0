package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/node/backup"
	"github.com/banyan-mesh/banyan/node/cli"
	"github.com/banyan-mesh/banyan/node/config"
	"github.com/banyan-mesh/banyan/node/home"
)

func (a *app) backupCmd() *cobra.Command {
	var passFile string
	c := &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a backup of your identity, groups, contacts and settings",
		Long: `Write a backup: the identity, the keys of your groups, your contacts, the
wallet's settings (its unit, accept limits, red envelopes not yet dealt)
and the configuration, encrypted with a passphrase. Messages, payments and
other history are not in it: the village's nodes keep them, and a
restored node gets them back from its peers.

The backup's passphrase is asked twice on a terminal, or read from
--backup-passphrase-file. Without it the backup cannot be opened: keep it
apart from the file. The node may be running; backup reads only files.

Restore with 'banyan restore FILE' on a new data directory.`,
		Example: `  banyan backup /media/usb/banyan.backup
  banyan backup --backup-passphrase-file /root/backup-pass /var/backups/banyan.backup`,
		Args: cli.ExactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := a.Home()
			if err != nil {
				return err
			}
			if !h.Initialized() {
				return fmt.Errorf("%s: %w", h, home.ErrNoIdentity)
			}
			// Before the passphrase is asked for, not after.
			if dir := filepath.Dir(args[0]); !isDir(dir) {
				return fmt.Errorf("write the backup: there is no folder %s (create it, or give the backup another path)", dir)
			}
			pass, err := a.backupPassphrase(cmd.Context(), passFile, true)
			if err != nil {
				return err
			}
			id, err := a.keyIdentity(cmd.Context(), h)
			if err != nil {
				return err
			}
			b, err := backup.Create(a.backupOptions(h), id, time.Now())
			if err != nil {
				return err
			}
			raw, err := backup.Encode(b, pass)
			if err != nil {
				return err
			}
			if err := home.WriteFileAtomic(args[0], raw, 0o600); err != nil {
				return fmt.Errorf("write the backup: %w", err)
			}
			fmt.Fprintf(a.Stderr, "wrote a backup of %s to %s: %s\n", id.PeerID(), args[0], describeTables(b.Counts()))
			return nil
		},
	}
	c.Flags().StringVar(&passFile, "backup-passphrase-file", "", "read the backup's passphrase from this file")
	_ = c.MarkFlagFilename("backup-passphrase-file")
	config.AddFlags(c.Flags(), "passphrase_file")
	return c
}

func (a *app) restoreCmd() *cobra.Command {
	var passFile string
	c := &cobra.Command{
		Use:   "restore FILE",
		Short: "Restore a backup into a new data directory",
		Long: `Restore a backup written by 'banyan backup' into a data directory that has
no identity and no store yet (a new computer, or --home DIR).

It writes the identity, the groups' keys, the contacts, the wallet's
settings and, where there is none yet, the configuration. The key file is
encrypted with the passphrase of --passphrase-file, or one you type (empty
for none), as 'banyan init' does.

Then start the node. It gets its history back from its peers, and it
writes nothing of its own (no message, payment, profile or list change)
until a peer has brought back what this identity wrote before: writing
before would fork its chains, and a forked wallet is frozen. 'banyan id'
says "catching up" until then.`,
		Example: `  banyan restore /media/usb/banyan.backup
  banyan restore --home /var/lib/banyan --backup-passphrase-file /root/backup-pass banyan.backup`,
		Args:        cli.ExactArgs("FILE"),
		Annotations: map[string]string{writesConfig: "yes"},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			h, err := a.Home()
			if err != nil {
				return err
			}
			if st, err := h.Status(); err != nil {
				return err
			} else if st.Running {
				return fmt.Errorf("a node is running on %s: stop it first, and restore into a data directory of its own", h)
			}
			raw, err := readBackupFile(args[0])
			if err != nil {
				return err
			}
			pass, err := a.backupPassphrase(ctx, passFile, false)
			if err != nil {
				return err
			}
			b, err := backup.Decode(raw, pass)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			opts := a.backupOptions(h)
			if moved, err := otherHome(b.Config, h); err != nil || moved != "" {
				// Written as the configuration, it would send the next
				// start to another data directory than this one.
				opts.ConfigFile = filepath.Join(string(h), "config-from-backup.toml")
			}
			var keyPass []byte
			switch {
			case a.cfg.PassphraseFile != "":
				if keyPass, err = readPassphraseFile(a.cfg.PassphraseFile); err != nil {
					return err
				}
			case term.IsTerminal(int(a.Stdin.Fd())):
				if keyPass, err = a.newPassphrase(ctx); err != nil {
					return err
				}
			}
			out, err := backup.Restore(opts, b, keyPass, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Stderr, "restored the backup of %s (made %s) into %s: %s\n",
				out.Identity.PeerID(), b.Created.Local().Format("2 Jan 2006 15:04"), h, describeTables(out.Tables))
			if out.Config != "" {
				fmt.Fprintf(a.Stderr, "wrote its configuration to %s\n", out.Config)
			}
			fmt.Fprintln(a.Stderr, "start the node next: it gets its history back from its peers, and writes nothing of its own until they have brought back what it wrote before")
			fmt.Fprintln(a.Stdout, out.Identity.PeerID())
			return nil
		},
	}
	c.Flags().StringVar(&passFile, "backup-passphrase-file", "", "read the backup's passphrase from this file")
	_ = c.MarkFlagFilename("backup-passphrase-file")
	config.AddFlags(c.Flags(), "passphrase_file")
	return c
}

func (a *app) backupOptions(h home.Home) backup.Options {
	o := backup.Options{Home: h}
	if a.cfg != nil {
		o.ConfigFile = a.cfg.File
	}
	return o
}

// backupPassphrase reads the backup's passphrase from file, or asks for it
// on the terminal (twice for a new backup).
func (a *app) backupPassphrase(ctx context.Context, file string, isNew bool) ([]byte, error) {
	if file != "" {
		return readPassphraseFile(file)
	}
	if !term.IsTerminal(int(a.Stdin.Fd())) {
		return nil, errors.New("a backup has a passphrase: give it in a file with --backup-passphrase-file FILE, or run on a terminal to be asked for it")
	}
	if !isNew {
		p, err := a.prompt(ctx, "Passphrase of the backup: ")
		if err == nil && len(p) == 0 {
			err = errors.New("no passphrase given")
		}
		return p, err
	}
	return a.askTwice(ctx, "Passphrase to encrypt the backup (keep it apart from the file): ", true)
}

// keyIdentity opens the home's key file, with the passphrase from the
// configuration's file or, on a terminal, typed.
func (a *app) keyIdentity(ctx context.Context, h home.Home) (*crypto.Identity, error) {
	enc, err := crypto.KeyFileEncrypted(h.KeyFile())
	if err != nil {
		return nil, err
	}
	var pass []byte
	switch {
	case !enc:
	case a.cfg.PassphraseFile != "":
		if pass, err = readPassphraseFile(a.cfg.PassphraseFile); err != nil {
			return nil, err
		}
	case term.IsTerminal(int(a.Stdin.Fd())):
		if pass, err = a.prompt(ctx, fmt.Sprintf("Passphrase for %s: ", h.KeyFile())); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("key file %s is encrypted: give its passphrase with --passphrase-file FILE (env BANYAN_PASSPHRASE_FILE), or run on a terminal to be asked for it", h.KeyFile())
	}
	return h.Identity(pass)
}

func readBackupFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read the backup: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, backup.MaxFile+1))
	if err != nil {
		return nil, fmt.Errorf("read the backup: %w", err)
	}
	if len(raw) > backup.MaxFile {
		return nil, fmt.Errorf("%s is larger than any backup (%d bytes): %w", path, backup.MaxFile, backup.ErrNotBackup)
	}
	return raw, nil
}

// otherHome returns the data directory a configuration's text names, if
// it is not h.
func otherHome(text string, h home.Home) (string, error) {
	var c struct {
		Home string `toml:"home"`
	}
	if _, err := toml.Decode(text, &c); err != nil {
		return "", err
	}
	if c.Home == "" || filepath.Clean(c.Home) == filepath.Clean(string(h)) {
		return "", nil
	}
	return c.Home, nil
}

// describeTables says in words what a backup holds.
func describeTables(n map[string]int) string {
	words := map[string][2]string{
		"groups": {"group", "groups"}, "contacts": {"contact", "contacts"}, "unit": {"wallet unit", "wallet units"},
		"accept-caps": {"wallet accept limit", "wallet accept limits"}, "envelope-seeds": {"red envelope", "red envelopes"},
		"requests": {"payment request", "payment requests"},
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(n)) {
		w, ok := words[name]
		if !ok {
			w = [2]string{name, name}
		}
		word := w[1]
		if n[name] == 1 {
			word = w[0]
		}
		parts = append(parts, fmt.Sprintf("%d %s", n[name], word))
	}
	if len(parts) == 0 {
		return "the identity only"
	}
	return "the identity, " + strings.Join(parts, ", ")
}

// isDir reports whether path is a directory.
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
