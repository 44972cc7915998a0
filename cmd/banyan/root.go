package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/cli"
	"github.com/banyan-mesh/banyan/node/config"
)

// app is the state shared by the commands of one invocation.
type app struct {
	*cli.App
	// stopSignals stops catching SIGINT and SIGTERM, so that a second
	// Ctrl-C kills a node that is slow to shut down.
	stopSignals func()
	// cfg is the configuration, loaded before any command runs.
	cfg *config.Loaded
}

// execute runs the command line and returns the process exit code: 0, 1 for
// errors, 2 for usage errors.
func execute(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{App: &cli.App{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}, stopSignals: stop}
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
	var ue *cli.UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(a.Stderr, "banyan: %s\n", ue.Err)
		c := ue.Cmd
		if c == nil {
			c = cmd
		}
		if c != nil {
			if c.Runnable() && c.HasParent() && !c.HasSubCommands() {
				fmt.Fprintf(a.Stderr, "usage: %s\n", c.UseLine())
			}
			fmt.Fprintf(a.Stderr, "see '%s --help'\n", c.CommandPath())
		}
		return 2
	}
	var ce *config.Error
	var oe *node.OptionError
	switch {
	case errors.As(err, &ce) && ce.Source.Kind >= config.FromEnv:
		return a.report(ctx, cmd, &cli.UsageError{Cmd: cmd, Err: err})
	case errors.As(err, &oe) && a.cfg != nil:
		if src := a.cfg.From(oe.Key); src.Kind >= config.FromEnv {
			return a.report(ctx, cmd, &cli.UsageError{Cmd: cmd, Err: a.cfg.Errorf(oe.Key, oe.Err)})
		}
		err = a.cfg.Errorf(oe.Key, oe.Err)
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		fmt.Fprintln(a.Stderr, "banyan: interrupted")
		return 1
	}
	fmt.Fprintf(a.Stderr, "banyan: %s\n", err)
	return 1
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "banyan",
		Short: "Banyan: a peer-to-peer messenger for the local network",
		Long: `Banyan is a peer-to-peer messenger for villages and other places with a
local network and little or no internet. Every computer runs a node; nodes
find each other on the LAN (mDNS) or through static peers and spread group
chats between them.

Run without a command, banyan starts a node in the foreground on the data
directory (like 'banyan run'), creating an identity first if there is none.
The other commands talk to that running node.

Every option of 'banyan run' can also be set in the configuration file
('banyan config show' prints what is in effect, and where it comes from)
or in its environment variable; a flag wins over the environment, which
wins over the file.`,
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
			return cli.Usagef(cmd, "%s", msg)
		},
		Version:                    node.Version,
		SilenceErrors:              true,
		SilenceUsage:               true,
		SuggestionsMinimumDistance: 2,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Annotations[noConfig] != "" {
				return nil
			}
			return a.loadConfig(cmd)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runNode(cmd)
		},
	}
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	root.CompletionOptions.HiddenDefaultCmd = false
	root.SetIn(a.Stdin)
	root.SetOut(a.Stdout)
	root.SetErr(a.Stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &cli.UsageError{Cmd: cmd, Err: err}
	})
	config.AddFlags(root.PersistentFlags(), "home")
	config.AddFileFlag(root.PersistentFlags())
	_ = root.MarkPersistentFlagDirname("home")
	_ = root.MarkPersistentFlagFilename(config.FileFlag, "toml")
	// The run flags also work without the run command, but are only
	// advertised there.
	config.AddFlags(root.Flags(), config.RunKeys()...)
	root.Flags().VisitAll(func(f *pflag.Flag) { f.Hidden = true })

	root.AddGroup(
		&cobra.Group{ID: "node", Title: "Node:"},
		&cobra.Group{ID: "chat", Title: "Chat:"},
		&cobra.Group{ID: "wallet", Title: "Wallet:"},
	)
	for _, c := range []*cobra.Command{a.initCmd(), a.runCmd(), a.openCmd(), a.idCmd(), a.checkCmd(), a.peersCmd(), a.watchCmd(), a.configCmd(), a.backupCmd(), a.restoreCmd(), a.versionCmd()} {
		c.GroupID = "node"
		root.AddCommand(c)
	}
	for _, f := range node.Commands {
		for _, c := range f.Commands(a.App) {
			c.GroupID = f.Group
			if c.Name() == "relay" {
				a.relayCmd(c)
			}
			root.AddCommand(c)
		}
	}
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "help" || c.Name() == "completion" {
			skipConfig(c)
		}
	}
	wrapArgs(root)
	return root
}

// noConfig marks a command that works whatever the configuration says
// (help, completion, version): it does not load it.
const noConfig = "banyan_no_config"

// writesConfig marks the command that writes the configuration file
// (init): the file it is given need not exist yet.
const writesConfig = "banyan_writes_config"

func skipConfig(c *cobra.Command) {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[noConfig] = "yes"
	for _, sub := range c.Commands() {
		skipConfig(sub)
	}
}

// loadConfig loads the configuration: defaults, file, environment and the
// command's flags. The data directory it names is the one every command
// uses.
func (a *app) loadConfig(cmd *cobra.Command) error {
	cfg, err := config.Load(config.Input{Flags: cmd.Flags(), Missing: cmd.Annotations[writesConfig] != ""})
	if err != nil {
		return err
	}
	a.cfg = cfg
	a.HomeFlag = cfg.Home
	return nil
}

// wrapArgs makes every positional-argument error a usage error, including
// those of the commands cobra adds (help, completion).
func wrapArgs(c *cobra.Command) {
	if orig := c.Args; orig != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			err := orig(cmd, args)
			var ue *cli.UsageError
			if err != nil && !errors.As(err, &ue) {
				return &cli.UsageError{Cmd: cmd, Err: err}
			}
			return err
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}
