package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/cli"
	"github.com/banyan-mesh/banyan/node/config"
)

func (a *app) configCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "config",
		Short: "Show the configuration in effect",
		Long: `Every option of 'banyan run' has a key in the configuration file, a flag
and an environment variable. A flag wins over its variable, which wins over
the file, which wins over the default.

The file is TOML: --config FILE, $BANYAN_CONFIG, or config.toml in
$XDG_CONFIG_HOME/banyan (~/.config/banyan). Only a file that is named must
exist; a key the file should not have is an error. 'banyan init' writes a
file with every option, commented out.`,
		Args: cli.SubcommandsOnly,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	var asJSON bool
	show := &cobra.Command{
		Use:   "show",
		Short: "Print every option's value and where it comes from",
		Long: `Print every option's value and where it comes from (a flag, the
environment, the file, or the default). The output is itself a valid
configuration file. The flags of 'banyan run' given here are taken into
account, so that 'banyan config show --no-mdns' shows what 'banyan run
--no-mdns' would use. It says what a node started now would use, not what
a running one was started with: flags given to that one are not seen here.`,
		Example: `  banyan config show
  banyan config show --config /etc/banyan/config.toml --json`,
		Args: cli.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if asJSON {
				return cli.WriteJSON(a.Stdout, struct {
					File    string             `json:"file"`
					Found   bool               `json:"found"`
					Options []config.ShowEntry `json:"options"`
				}{a.cfg.File, a.cfg.FileFound, a.cfg.Entries()})
			}
			return a.cfg.Show(a.Stdout)
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	config.AddFlags(show.Flags(), config.RunKeys()...)
	c.AddCommand(show)
	return c
}

func (a *app) versionCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the version (no node needed)",
		Args:  cli.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(a.Stdout, "banyan %s\n", node.Version)
			line := fmt.Sprintf("built with %s for %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH)
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" && len(s.Value) >= 12 {
						line += ", commit " + s.Value[:12]
					}
				}
			}
			fmt.Fprintln(a.Stdout, line)
			return nil
		},
	}
	skipConfig(c)
	return c
}
