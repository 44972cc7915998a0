package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/banyan-mesh/banyan/node/cli"
)

func (a *app) initCmd() *cobra.Command {
	var passFile string
	c := &cobra.Command{
		Use:   "init",
		Short: "Create an identity in the data directory",
		Long: `Create the data directory and a new identity (an Ed25519 key) in it, and
print the peer ID that other nodes will know this one by.

The key can be encrypted with a passphrase: give it in a file with
--passphrase-file, or type it when asked (on a terminal; leave it empty for
no encryption). init never replaces an existing identity.`,
		Example: `  banyan init
  banyan init --home /var/lib/banyan --passphrase-file /etc/banyan/passphrase`,
		Args: cli.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			home, err := a.Home()
			if err != nil {
				return err
			}
			if home.Initialized() {
				return fmt.Errorf("%s already has an identity (%s); refusing to replace it", home, home.KeyFile())
			}
			var pass []byte
			switch {
			case passFile != "":
				if pass, err = readPassphraseFile(passFile); err != nil {
					return err
				}
			case term.IsTerminal(int(a.Stdin.Fd())):
				if pass, err = a.newPassphrase(); err != nil {
					return err
				}
			}
			id, err := home.Init(pass)
			if err != nil {
				return err
			}
			how := "not encrypted"
			if len(pass) > 0 {
				how = "encrypted with a passphrase"
			}
			fmt.Fprintf(a.Stderr, "created an identity in %s (key file %s, %s)\n", home, home.KeyFile(), how)
			fmt.Fprintln(a.Stdout, id.PeerID())
			return nil
		},
	}
	c.Flags().StringVar(&passFile, "passphrase-file", "", "encrypt the key with the passphrase in this file (env BANYAN_PASSPHRASE_FILE)")
	setEnv(c.Flags(), "passphrase-file", "BANYAN_PASSPHRASE_FILE")
	_ = c.MarkFlagFilename("passphrase-file")
	return c
}

// maxPassphrase bounds what is read from a passphrase file.
const maxPassphrase = 4096

// readPassphraseFile reads a passphrase from a file, without its trailing
// line break.
func readPassphraseFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("passphrase file: %w", err)
	}
	if len(b) > maxPassphrase {
		return nil, fmt.Errorf("passphrase file %s is longer than %d bytes", path, maxPassphrase)
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) == 0 {
		return nil, fmt.Errorf("passphrase file %s is empty", path)
	}
	return b, nil
}

// prompt asks for a secret on the terminal.
func (a *app) prompt(msg string) ([]byte, error) {
	fmt.Fprint(a.Stderr, msg)
	p, err := term.ReadPassword(int(a.Stdin.Fd()))
	fmt.Fprintln(a.Stderr)
	if err != nil {
		return nil, fmt.Errorf("read passphrase: %w", err)
	}
	return p, nil
}

// newPassphrase asks for a new passphrase twice; empty means none.
func (a *app) newPassphrase() ([]byte, error) {
	p, err := a.prompt("Passphrase to encrypt the key (empty for none): ")
	if err != nil || len(p) == 0 {
		return nil, err
	}
	again, err := a.prompt("Repeat the passphrase: ")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(p, again) {
		return nil, errors.New("the passphrases do not match")
	}
	return p, nil
}
