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
	"github.com/banyan-mesh/banyan/node/cli"
)

// app is the state shared by the commands of one invocation.
type app struct {
	*cli.App
	// stopSignals stops catching SIGINT and SIGTERM, so that a second
	// Ctrl-C kills a node that is slow to shut down.
	stopSignals func()
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
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		fmt.Fprintln(a.Stderr, "banyan: interrupted")
		return 1
	}
	fmt.Fprintf(a.Stderr, "banyan: %s\n", err)
	return 1
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
			return cli.Usagef(cmd, "%s", msg)
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
	root.SetIn(a.Stdin)
	root.SetOut(a.Stdout)
	root.SetErr(a.Stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &cli.UsageError{Cmd: cmd, Err: err}
	})
	root.PersistentFlags().StringVar(&a.HomeFlag, "home", "", homeHelp)
	setEnv(root.PersistentFlags(), "home", "BANYAN_HOME")
	_ = root.MarkPersistentFlagDirname("home")
	// The run flags also work without the run command, but are only
	// advertised there.
	addRunFlags(root.Flags(), ro)
	root.Flags().VisitAll(func(f *pflag.Flag) { f.Hidden = true })

	root.AddGroup(
		&cobra.Group{ID: "node", Title: "Node:"},
		&cobra.Group{ID: "chat", Title: "Chat:"},
		&cobra.Group{ID: "wallet", Title: "Wallet:"},
	)
	for _, c := range []*cobra.Command{a.initCmd(), a.runCmd(), a.openCmd(), a.idCmd(), a.peersCmd(), a.watchCmd()} {
		c.GroupID = "node"
		root.AddCommand(c)
	}
	for _, f := range node.Commands {
		for _, c := range f.Commands(a.App) {
			c.GroupID = f.Group
			root.AddCommand(c)
		}
	}
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
				err = cli.Usagef(cmd, "environment variable %s=%q: %v", envs[0], v, e)
				return
			}
		}
	})
	return err
}
