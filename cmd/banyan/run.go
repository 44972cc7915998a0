package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/gologshim"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/cli"
	"github.com/banyan-mesh/banyan/node/config"
	"github.com/banyan-mesh/banyan/node/heapgoal"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/node/pay"
	"github.com/banyan-mesh/banyan/node/private"
	"github.com/banyan-mesh/banyan/node/relay"
)

func (a *app) runCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "run",
		Short: "Run a node in the foreground",
		Long: `Run a Banyan node in the foreground until interrupted (Ctrl-C or SIGTERM).

If the data directory has no identity yet, run creates one first (not
encrypted unless --passphrase-file is given; use 'banyan init' to choose).
If the key file is encrypted, the passphrase is read from --passphrase-file
or asked for on the terminal.

Every option below can also be set in the configuration file or in its
environment variable; 'banyan config show' prints what is in effect.
Logs go to stderr: text on a terminal, JSON otherwise.`,
		Example: `  banyan run
  banyan run --no-mdns --peer /ip4/192.168.1.10/tcp/7341/p2p/12D3KooW...
  BANYAN_HOME=/var/lib/banyan banyan run --log-format json`,
		Args: cli.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runNode(cmd)
		},
	}
	config.AddFlags(c.Flags(), config.RunKeys()...)
	_ = c.MarkFlagFilename("passphrase-file")
	_ = c.RegisterFlagCompletionFunc("log-level", cobra.FixedCompletions([]string{"debug", "info", "warn", "error"}, cobra.ShellCompDirectiveNoFileComp))
	_ = c.RegisterFlagCompletionFunc("log-format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

// newLogger builds the node's logger on w, and sends what libraries log,
// through libp2p's logger or the standard log package, to it as well.
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
	l := slog.New(h)
	slog.SetDefault(l)
	// mDNS (zeroconf) and QUIC print with the standard log package: their
	// lines become records too, so that a JSON log holds only JSON.
	log.SetFlags(0)
	log.SetOutput(stdLog{l: l})
	return l, nil
}

// stdLog turns the lines libraries print with the standard log package
// into records. zeroconf's warnings are about interfaces without
// multicast, which every machine with a bridge or loopback has: debug.
type stdLog struct{ l *slog.Logger }

func (s stdLog) Write(b []byte) (int, error) {
	msg := strings.TrimSpace(string(b))
	sys := "libp2p"
	lower := strings.ToLower(msg)
	if strings.Contains(lower, "mdns") || strings.Contains(lower, "zeroconf") || strings.Contains(lower, "bonjour") {
		sys = "mdns"
	}
	level := slog.LevelInfo
	switch {
	case strings.Contains(msg, "[ERR]"):
		level = slog.LevelWarn
	case strings.Contains(msg, "[WARN]"), sys == "mdns":
		level = slog.LevelDebug
	}
	s.l.Log(context.Background(), level, msg, "sys", sys)
	return len(b), nil
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

// nodeOptions are the node's options from the configuration.
func nodeOptions(l *config.Loaded) node.Options {
	cfg := &l.Config
	fixed := map[string]string{}
	for _, key := range config.AppKeys {
		if src := l.From(key); src.Kind >= config.FromEnv {
			fixed[key] = src.Setting(key)
		}
	}
	// A unit left at its default is no choice: the node keeps using the
	// unit it kept (node/pay/unit.go).
	unit := cfg.Wallet.Unit
	if l.From("wallet.unit").Kind == config.FromDefault {
		unit = ""
	}
	return node.Options{
		FixedSettings:  fixed,
		Home:           home.Home(cfg.Home),
		Listen:         cfg.Listen,
		Peers:          cfg.Peers,
		API:            cfg.API,
		Metrics:        cfg.Metrics,
		NoMDNS:         !cfg.MDNS,
		Name:           cfg.Name,
		NoReadReceipts: !cfg.ReadReceipts,
		Mailbox:        private.MailboxOptions{NoCarry: !cfg.CarryMail},
		Wallet: pay.WalletOptions{Unit: unit, Guarantors: cfg.Wallet.Guarantors, OfflineCap: cfg.Wallet.OfflineCap,
			Redefine: cfg.Wallet.Redefine},
		Relay: cfg.Relay.Enabled,
		RelayQuotas: relay.Quotas{
			Total: mib(cfg.Relay.Quota), Group: mib(cfg.Relay.GroupQuota), Author: mib(cfg.Relay.AuthorQuota),
			Retention: time.Duration(min(cfg.Relay.RetentionDays, maxDays)) * 24 * time.Hour,
		},
		NoCircuits: !cfg.Relay.Circuit,
		CircuitLimits: mesh.CircuitLimits{
			Reservations:      int(min(cfg.Relay.CircuitReservations, 1<<20)),
			ReservationsPerIP: int(min(cfg.Relay.CircuitReservations, 1<<20)+1) / 2,
			Duration:          time.Duration(min(cfg.Relay.CircuitMinutes, maxDays*24*60)) * time.Minute,
			Data:              mib(cfg.Relay.CircuitMiB),
		},
	}
}

// testClockEnv shifts the node's clock by a duration ("24h", "-24h"), for
// process tests of a wrong clock that cannot change the machine's; it is
// not a setting and is left out of the help on purpose.
const testClockEnv = "BANYAN_TEST_CLOCK_OFFSET"

func testClockOffset(opts *node.Options) error {
	v := os.Getenv(testClockEnv)
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%s: %w", testClockEnv, err)
	}
	opts.Now = func() time.Time { return time.Now().Add(d) }
	return nil
}

// maxDays keeps a retention in days within a time.Duration.
const maxDays = 100 * 365

func mib(n uint64) int64 { return int64(min(n, 1<<40)) << 20 }

// relayCmd makes 'banyan relay' (whose subcommands relay.CLI gives) run a
// relay: 'banyan run --relay'.
func (a *app) relayCmd(c *cobra.Command) {
	c.Example = `  banyan relay
  banyan relay --no-mdns --listen /ip4/0.0.0.0/tcp/7341 --metrics 127.0.0.1:9341
  banyan relay status`
	c.Args = cli.ExactArgs()
	c.RunE = func(cmd *cobra.Command, args []string) error {
		a.cfg.Relay.Enabled = true
		return a.runNode(cmd)
	}
	config.AddFlags(c.Flags(), config.RunKeys()...)
	_ = c.MarkFlagFilename("passphrase-file")
}

// runNode runs a node until ctx is done. Every option is checked first,
// so that a mistake creates nothing; then the data directory is locked
// (other commands see a node starting), the identity created or
// unlocked, and the node built and served.
func (a *app) runNode(cmd *cobra.Command) error {
	cfg := a.cfg
	ctx := cmd.Context()
	log, err := newLogger(a.Stderr, cfg.Log.Level, cfg.Log.Format, term.IsTerminal(int(a.Stderr.Fd())))
	if err != nil {
		return &cli.UsageError{Cmd: cmd, Err: err}
	}
	opts := nodeOptions(cfg)
	opts.Logger = log
	if err := testClockOffset(&opts); err != nil {
		return &cli.UsageError{Cmd: cmd, Err: err}
	}
	if err := node.CheckOptions(opts); err != nil {
		return err
	}
	var filePass []byte
	if cfg.PassphraseFile != "" {
		if filePass, err = readPassphraseFile(cfg.PassphraseFile); err != nil {
			return err
		}
	}
	h := opts.Home
	lock, err := h.Lock()
	if err != nil {
		return err
	}
	if opts.Passphrase, err = a.identity(ctx, h, lock, filePass, log); err != nil {
		lock.Release()
		return err
	}
	opts.Lock = lock
	n, err := node.New(opts)
	if err != nil {
		return err
	}
	// After the first signal, a second one kills the process at once.
	go func() {
		<-ctx.Done()
		a.stopSignals()
	}()
	served := make(chan struct{})
	defer close(served)
	go func() {
		select {
		case <-n.Ready():
			if err := sdNotify("READY=1"); err != nil {
				log.Warn("tell systemd the node is ready", "err", err)
			}
			a.printNextSteps(n)
		case <-served:
			return
		}
		select {
		case <-ctx.Done():
			if err := sdNotify("STOPPING=1"); err != nil {
				log.Warn("tell systemd the node is stopping", "err", err)
			}
		case <-served:
		}
	}()
	// The collector's policy is the process's: one node per process here.
	defer heapgoal.Start(heapgoal.Options{Preallocated: n.Store().Preallocated(), Logger: log.With("sys", "heap")})()
	return n.Serve(ctx)
}

// identity creates the home's identity if there is none (encrypted with
// the passphrase from the file, if any), and returns the passphrase that
// unlocks it.
func (a *app) identity(ctx context.Context, h home.Home, lock *home.Lock, filePass []byte, log *slog.Logger) ([]byte, error) {
	if !h.Initialized() {
		id, err := h.Init(filePass)
		if err != nil {
			return nil, fmt.Errorf("create identity: %w", err)
		}
		log.Info("no identity in the data directory: created a new one", "home", string(h), "peer", id.PeerID().String(), "encrypted", len(filePass) > 0)
		return filePass, nil
	}
	enc, err := crypto.KeyFileEncrypted(h.KeyFile())
	if err != nil || !enc {
		return nil, err
	}
	if filePass != nil {
		return filePass, nil
	}
	if !term.IsTerminal(int(a.Stdin.Fd())) {
		return nil, fmt.Errorf("key file %s is encrypted: give its passphrase with --passphrase-file FILE (env BANYAN_PASSPHRASE_FILE), or run on a terminal to be asked for it", h.KeyFile())
	}
	if err := lock.SetState(home.StatePassphrase); err != nil {
		return nil, err
	}
	p, err := a.prompt(ctx, fmt.Sprintf("Passphrase for %s: ", h.KeyFile()))
	if err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, errors.New("no passphrase given")
	}
	return p, lock.SetState(home.StateStarting)
}
