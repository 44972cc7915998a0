package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/api"
)

// app is the state shared by the commands of one invocation.
type app struct {
	stdin  *os.File
	stdout *os.File
	stderr *os.File

	homeFlag string
	// stopSignals stops catching SIGINT and SIGTERM, so that a second
	// Ctrl-C kills a node that is slow to shut down.
	stopSignals func()
}

// execute runs the command line and returns the process exit code: 0, 1 for
// errors, 2 for usage errors.
func execute(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, stopSignals: stop}
	root := a.rootCmd()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	return a.report(ctx, cmd, err)
}

// report prints err and returns the exit code for it.
func (a *app) report(ctx context.Context, cmd *cobra.Command, err error) int {
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(a.stderr, "banyan: %s\n", ue.err)
		c := ue.cmd
		if c == nil {
			c = cmd
		}
		if c != nil {
			if c.Runnable() && c.HasParent() && !c.HasSubCommands() {
				fmt.Fprintf(a.stderr, "usage: %s\n", c.UseLine())
			}
			fmt.Fprintf(a.stderr, "see '%s --help'\n", c.CommandPath())
		}
		return 2
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		fmt.Fprintln(a.stderr, "banyan: interrupted")
		return 1
	}
	fmt.Fprintf(a.stderr, "banyan: %s\n", err)
	return 1
}

// usageError is a mistake in how the command line was written: exit code 2
// and a pointer to the help.
type usageError struct {
	cmd *cobra.Command
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(cmd *cobra.Command, format string, args ...any) error {
	return &usageError{cmd: cmd, err: fmt.Errorf(format, args...)}
}

const homeHelp = "data directory (env BANYAN_HOME; default $XDG_STATE_HOME/banyan or ~/.local/state/banyan)"

func (a *app) rootCmd() *cobra.Command {
	ro := &runOptions{}
	root := &cobra.Command{
		Use:   "banyan",
		Short: "Banyan: a peer-to-peer messenger for the local network",
		Long: `Banyan is a peer-to-peer messenger for villages and other places with a
local network and little or no internet. Every computer runs a node; nodes
find each other on the LAN (mDNS) or through static peers and spread group
chats between them.

Run without a command, banyan starts a node in the foreground on the data
directory (like 'banyan run'), creating an identity first if there is none.
The other commands talk to that running node.`,
		Example: `  banyan                          # start a node (creates an identity the first time)
  banyan group create family      # in another terminal
  banyan group invite family      # share the code with the others
  banyan send family hello everyone
  banyan watch`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := fmt.Sprintf("unknown command %q", args[0])
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf(" (did you mean %q?)", s[0])
			}
			return usagef(cmd, "%s", msg)
		},
		SilenceErrors:              true,
		SilenceUsage:               true,
		SuggestionsMinimumDistance: 2,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return applyEnv(cmd)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runNode(cmd, ro)
		},
	}
	root.CompletionOptions.HiddenDefaultCmd = false
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{cmd: cmd, err: err}
	})
	root.PersistentFlags().StringVar(&a.homeFlag, "home", "", homeHelp)
	setEnv(root.PersistentFlags(), "home", "BANYAN_HOME")
	_ = root.MarkPersistentFlagDirname("home")
	// The run flags also work without the run command, but are only
	// advertised there.
	addRunFlags(root.Flags(), ro)
	root.Flags().VisitAll(func(f *pflag.Flag) { f.Hidden = true })

	root.AddGroup(
		&cobra.Group{ID: "node", Title: "Node:"},
		&cobra.Group{ID: "chat", Title: "Chat:"},
	)
	for _, c := range []*cobra.Command{a.initCmd(), a.runCmd(), a.openCmd(), a.idCmd(), a.peersCmd()} {
		c.GroupID = "node"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.groupCmd(), a.sendCmd(), a.historyCmd(), a.contactCmd(), a.dmCmd(), a.watchCmd()} {
		c.GroupID = "chat"
		root.AddCommand(c)
	}
	root.AddGroup(&cobra.Group{ID: "wallet", Title: "Wallet:"})
	wc := a.walletCmd()
	wc.GroupID = "wallet"
	root.AddCommand(wc)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	wrapArgs(root)
	return root
}

// wrapArgs makes every positional-argument error a usage error, including
// those of the commands cobra adds (help, completion).
func wrapArgs(c *cobra.Command) {
	if orig := c.Args; orig != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			err := orig(cmd, args)
			var ue *usageError
			if err != nil && !errors.As(err, &ue) {
				return &usageError{cmd: cmd, err: err}
			}
			return err
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

// subcommandsOnly is the Args of a command that only groups others: an
// argument is an unknown subcommand.
func subcommandsOnly(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	return usagef(cmd, "%s", msg)
}

// exactArgs accepts exactly the named arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return usagef(cmd, "missing %s argument", names[len(args)])
		case len(args) > len(names):
			extra := args[len(names):]
			return usagef(cmd, "too many arguments: %q (quote an argument that contains spaces)", strings.Join(extra, " "))
		}
		return nil
	}
}

// env vars mirror flags; a flag given on the command line wins.
const envAnnotation = "banyan_env"

func setEnv(fs *pflag.FlagSet, flag, env string) {
	if err := fs.SetAnnotation(flag, envAnnotation, []string{env}); err != nil {
		panic(err)
	}
}

// applyEnv sets every flag of cmd that was not given from its environment
// variable, if set. List flags take comma-separated values.
func applyEnv(cmd *cobra.Command) error {
	fs := cmd.Flags()
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		envs := f.Annotations[envAnnotation]
		if err != nil || f.Changed || len(envs) == 0 {
			return
		}
		v := os.Getenv(envs[0])
		if v == "" {
			return
		}
		vals := []string{v}
		if t := f.Value.Type(); t == "stringArray" || t == "stringSlice" {
			vals = vals[:0]
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					vals = append(vals, s)
				}
			}
		}
		for _, s := range vals {
			if e := fs.Set(f.Name, s); e != nil {
				err = usagef(cmd, "environment variable %s=%q: %v", envs[0], v, e)
				return
			}
		}
	})
	return err
}

// home returns the data directory: --home, $BANYAN_HOME or the default.
func (a *app) home() (node.Home, error) {
	if a.homeFlag != "" {
		return node.Home(a.homeFlag), nil
	}
	d, err := node.DefaultHome()
	if err != nil {
		return "", err
	}
	return node.Home(d), nil
}

// client connects to the node running on the data directory.
func (a *app) client(ctx context.Context) (*api.Client, error) {
	h, err := a.home()
	if err != nil {
		return nil, err
	}
	c, err := api.Dial(ctx, h.APIAddrFile(), h.APITokenFile())
	if errors.Is(err, api.ErrNoNode) {
		q := shellQuote(string(h))
		return nil, fmt.Errorf("no banyan node is running on %s; start one with 'banyan run --home %s'", h, q)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to node on %s: %w", h, err)
	}
	return c, nil
}

// shellQuote quotes s for a POSIX shell if it needs it. It uses double
// quotes, because the result is often shown inside single quotes.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:@%=,~_", r))
	}) < 0 {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`, "`", "\\`")
	return `"` + r.Replace(s) + `"`
}
