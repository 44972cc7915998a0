package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/banyan-mesh/banyan/node/cli"
	"github.com/banyan-mesh/banyan/node/config"
)

func (a *app) initCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "init",
		Short: "Create an identity in the data directory, and a configuration file",
		Long: `Create the data directory and a new identity (an Ed25519 key) in it, and
print the peer ID that other nodes will know this one by.

The key can be encrypted with a passphrase: give it in a file with
--passphrase-file, or type it when asked (on a terminal; leave it empty for
no encryption). init never replaces an existing identity.

If there is no configuration file yet (--config, or the default one), init
writes one with every option, commented out, to edit later.`,
		Example: `  banyan init
  banyan init --home /var/lib/banyan --passphrase-file /etc/banyan/passphrase --config /etc/banyan/config.toml`,
		Args:        cli.ExactArgs(),
		Annotations: map[string]string{writesConfig: "yes"},
		RunE: func(cmd *cobra.Command, args []string) error {
			home, err := a.Home()
			if err != nil {
				return err
			}
			switch err := config.WriteDefaultFile(a.cfg.File); {
			case err == nil:
				fmt.Fprintf(a.Stderr, "wrote the configuration file %s (every option, commented out)\n", a.cfg.File)
			case !errors.Is(err, config.ErrFileExists):
				return err
			}
			if home.Initialized() {
				return fmt.Errorf("%s already has an identity (%s); refusing to replace it", home, home.KeyFile())
			}
			var pass []byte
			switch {
			case a.cfg.PassphraseFile != "":
				if pass, err = readPassphraseFile(a.cfg.PassphraseFile); err != nil {
					return err
				}
			case term.IsTerminal(int(a.Stdin.Fd())):
				if pass, err = a.newPassphrase(cmd.Context()); err != nil {
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
	config.AddFlags(c.Flags(), "passphrase_file")
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

// prompt asks for a secret on the terminal. Ctrl-C (which cancels ctx)
// ends it, and gives the terminal its echo back.
func (a *app) prompt(ctx context.Context, msg string) ([]byte, error) {
	fd := int(a.Stdin.Fd())
	before, err := term.GetState(fd)
	if err != nil {
		return nil, fmt.Errorf("read passphrase: %w", err)
	}
	fmt.Fprint(a.Stderr, msg)
	type answer struct {
		p   []byte
		err error
	}
	got := make(chan answer, 1)
	// The read cannot be cancelled: on Ctrl-C it is left behind, and the
	// process exits.
	go func() {
		p, err := term.ReadPassword(fd)
		got <- answer{p, err}
	}()
	select {
	case ans := <-got:
		fmt.Fprintln(a.Stderr)
		if ans.err != nil {
			return nil, fmt.Errorf("read passphrase: %w", ans.err)
		}
		return ans.p, nil
	case <-ctx.Done():
		_ = term.Restore(fd, before)
		fmt.Fprintln(a.Stderr)
		return nil, ctx.Err()
	}
}

// newPassphrase asks for a new passphrase of the key twice; empty means
// none.
func (a *app) newPassphrase(ctx context.Context) ([]byte, error) {
	return a.askTwice(ctx, "Passphrase to encrypt the key (empty for none): ", false)
}

// askTwice asks for a new passphrase, then for it again; empty is an
// error if required, else it means none.
func (a *app) askTwice(ctx context.Context, msg string, required bool) ([]byte, error) {
	p, err := a.prompt(ctx, msg)
	if err != nil {
		return nil, err
	}
	if len(p) == 0 {
		if required {
			return nil, errors.New("a passphrase is needed")
		}
		return nil, nil
	}
	again, err := a.prompt(ctx, "Repeat the passphrase: ")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(p, again) {
		return nil, errors.New("the passphrases do not match")
	}
	return p, nil
}
