package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/libp2p/go-libp2p/gologshim"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/cli"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/node/pay"
	"github.com/banyan-mesh/banyan/node/private"
)

// runOptions are the flags of 'banyan run'.
type runOptions struct {
	listen           []string
	peers            []string
	api              string
	noMDNS           bool
	name             string
	noReadReceipts   bool
	noCarry          bool
	passphraseFile   string
	logLevel         string
	logFormat        string
	walletUnit       string
	walletGuarantors []string
	walletOfflineCap uint64
}

func addRunFlags(fs *pflag.FlagSet, o *runOptions) {
	fs.StringArrayVar(&o.listen, "listen", nil, "multiaddr to listen on, repeatable (env BANYAN_LISTEN, comma-separated; default TCP and QUIC on port 7341, or a free port if it is taken)")
	setEnv(fs, "listen", "BANYAN_LISTEN")
	fs.StringArrayVar(&o.peers, "peer", nil, "static peer to keep connected, a multiaddr ending in /p2p/PEER-ID, repeatable (env BANYAN_PEERS, comma-separated)")
	setEnv(fs, "peer", "BANYAN_PEERS")
	fs.StringVar(&o.api, "api", "", `local API address host:port (env BANYAN_API; default 127.0.0.1:7342, or a free port if it is taken; "off" disables the API)`)
	setEnv(fs, "api", "BANYAN_API")
	fs.BoolVar(&o.noMDNS, "no-mdns", false, "do not discover peers on the local network with mDNS (env BANYAN_NO_MDNS=true)")
	setEnv(fs, "no-mdns", "BANYAN_NO_MDNS")
	fs.StringVar(&o.name, "name", "", "the name you give yourself in contact codes and requests (env BANYAN_NAME)")
	setEnv(fs, "name", "BANYAN_NAME")
	fs.BoolVar(&o.noReadReceipts, "no-read-receipts", false, "do not tell contacts which of their messages you read (env BANYAN_NO_READ_RECEIPTS=true)")
	setEnv(fs, "no-read-receipts", "BANYAN_NO_READ_RECEIPTS")
	fs.BoolVar(&o.noCarry, "no-carry-mail", false, "do not carry other people's sealed private messages (env BANYAN_NO_CARRY_MAIL=true)")
	setEnv(fs, "no-carry-mail", "BANYAN_NO_CARRY_MAIL")
	fs.StringVar(&o.passphraseFile, "passphrase-file", "", "read the key file's passphrase from this file (env BANYAN_PASSPHRASE_FILE); without it, an encrypted key is unlocked by a prompt on the terminal")
	setEnv(fs, "passphrase-file", "BANYAN_PASSPHRASE_FILE")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error (env BANYAN_LOG_LEVEL)")
	setEnv(fs, "log-level", "BANYAN_LOG_LEVEL")
	fs.StringVar(&o.logFormat, "log-format", "", "log format: text or json (env BANYAN_LOG_FORMAT; default text on a terminal, json otherwise)")
	setEnv(fs, "log-format", "BANYAN_LOG_FORMAT")
	fs.StringVar(&o.walletUnit, "wallet-unit", "", `the wallet's unit of mutual credit (env BANYAN_WALLET_UNIT; default "village"; every node of the unit must agree)`)
	setEnv(fs, "wallet-unit", "BANYAN_WALLET_UNIT")
	fs.StringArrayVar(&o.walletGuarantors, "wallet-guarantor", nil, "a guarantor of the unit, whose credit limit grants count: a peer ID or hex account, repeatable (env BANYAN_WALLET_GUARANTORS, comma-separated)")
	setEnv(fs, "wallet-guarantor", "BANYAN_WALLET_GUARANTORS")
	fs.Uint64Var(&o.walletOfflineCap, "wallet-offline-cap", 0, "the most unconfirmed spending accepted from a payer, in minor units; 0 for no cap (env BANYAN_WALLET_OFFLINE_CAP)")
	setEnv(fs, "wallet-offline-cap", "BANYAN_WALLET_OFFLINE_CAP")
}

func (a *app) runCmd() *cobra.Command {
	o := &runOptions{}
	c := &cobra.Command{
		Use:   "run",
		Short: "Run a node in the foreground",
		Long: `Run a Banyan node in the foreground until interrupted (Ctrl-C or SIGTERM).

If the data directory has no identity yet, run creates one first (not
encrypted unless --passphrase-file is given; use 'banyan init' to choose).
If the key file is encrypted, the passphrase is read from --passphrase-file
or asked for on the terminal.

Logs go to stderr: text on a terminal, JSON otherwise.`,
		Example: `  banyan run
  banyan run --no-mdns --peer /ip4/192.168.1.10/tcp/7341/p2p/12D3KooW...
  BANYAN_HOME=/var/lib/banyan banyan run --log-format json`,
		Args: cli.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runNode(cmd, o)
		},
	}
	addRunFlags(c.Flags(), o)
	_ = c.MarkFlagFilename("passphrase-file")
	_ = c.RegisterFlagCompletionFunc("log-level", cobra.FixedCompletions([]string{"debug", "info", "warn", "error"}, cobra.ShellCompDirectiveNoFileComp))
	_ = c.RegisterFlagCompletionFunc("log-format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

// newLogger builds the node's logger on w.
func newLogger(w io.Writer, level, format string, terminal bool) (*slog.Logger, error) {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "info", "":
		lv = slog.LevelInfo
	case "warn", "warning":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		return nil, fmt.Errorf("unknown log level %q (use debug, info, warn or error)", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	switch strings.ToLower(format) {
	case "":
		if terminal {
			h = slog.NewTextHandler(w, opts)
		} else {
			h = slog.NewJSONHandler(w, opts)
		}
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("unknown log format %q (use text or json)", format)
	}
	// libp2p logs through the same handler; it is chatty, so below debug
	// only its warnings and errors are shown.
	gologshim.SetDefaultHandler(minLevel{Handler: h.WithAttrs([]slog.Attr{slog.String("sys", "libp2p")}), min: max(lv, slog.LevelWarn)})
	return slog.New(h), nil
}

// minLevel drops records below min.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.Handler.Enabled(ctx, l)
}

func (m minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{Handler: m.Handler.WithAttrs(as), min: m.min}
}

func (m minLevel) WithGroup(name string) slog.Handler {
	return minLevel{Handler: m.Handler.WithGroup(name), min: m.min}
}

func (a *app) runNode(cmd *cobra.Command, o *runOptions) error {
	log, err := newLogger(a.Stderr, o.logLevel, o.logFormat, term.IsTerminal(int(a.Stderr.Fd())))
	if err != nil {
		return &cli.UsageError{Cmd: cmd, Err: err}
	}
	home, err := a.Home()
	if err != nil {
		return err
	}
	var pass []byte
	if !home.Initialized() {
		if o.passphraseFile != "" {
			if pass, err = readPassphraseFile(o.passphraseFile); err != nil {
				return err
			}
		}
		id, err := home.Init(pass)
		if err != nil {
			return fmt.Errorf("create identity: %w", err)
		}
		log.Info("no identity in the data directory: created a new one", "home", string(home), "peer", id.PeerID().String(), "encrypted", len(pass) > 0)
	} else if pass, err = a.unlockPassphrase(home, o.passphraseFile); err != nil {
		return err
	}
	n, err := node.New(node.Options{
		Home:           home,
		Passphrase:     pass,
		Listen:         o.listen,
		Peers:          o.peers,
		API:            o.api,
		NoMDNS:         o.noMDNS,
		Name:           o.name,
		NoReadReceipts: o.noReadReceipts,
		Mailbox:        private.MailboxOptions{NoCarry: o.noCarry},
		Wallet:         pay.WalletOptions{Unit: o.walletUnit, Guarantors: o.walletGuarantors, OfflineCap: o.walletOfflineCap},
		Logger:         log,
	})
	if err != nil {
		return err
	}
	a.printUIURL(home, n)
	ctx := cmd.Context()
	// After the first signal, a second one kills the process at once.
	go func() {
		<-ctx.Done()
		a.stopSignals()
	}()
	return n.Serve(ctx)
}

// unlockPassphrase returns the passphrase for home's key file: nil if it is
// not encrypted, else from file, else from a prompt on the terminal.
func (a *app) unlockPassphrase(home home.Home, file string) ([]byte, error) {
	enc, err := crypto.KeyFileEncrypted(home.KeyFile())
	if err != nil {
		return nil, err
	}
	if !enc {
		return nil, nil
	}
	if file != "" {
		return readPassphraseFile(file)
	}
	if !term.IsTerminal(int(a.Stdin.Fd())) {
		return nil, fmt.Errorf("key file %s is encrypted: give its passphrase with --passphrase-file FILE (env BANYAN_PASSPHRASE_FILE), or run on a terminal to be asked for it", home.KeyFile())
	}
	p, err := a.prompt(fmt.Sprintf("Passphrase for %s: ", home.KeyFile()))
	if err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, errors.New("no passphrase given")
	}
	return p, nil
}
