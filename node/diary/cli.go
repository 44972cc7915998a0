package diary

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/node/cli"
)

// CLI is the diary's part of the command line.
var CLI = cli.Feature{
	Group: "chat",
	Commands: func(a *cli.App) []*cobra.Command {
		c := &cobra.Command{
			Use:   "diary",
			Short: "A private diary that never leaves this computer",
			Long: `A private diary: dated entries kept only on this computer, sealed under a
key derived from your identity. Nothing of it is sent to anyone.`,
			Args: cli.SubcommandsOnly,
			RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
		}
		c.AddCommand(addCmd(a), listCmd(a, "list", "Show diary entries, newest first"), listCmd(a, "search", "Show the entries that hold every word given"), shareCmd(a))
		return []*cobra.Command{c}
	},
}

func dial(ctx context.Context, a *cli.App) (Client, error) {
	c, err := a.Client(ctx)
	if err != nil {
		return Client{}, err
	}
	return NewClient(c), nil
}

func shareCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "share ID",
		Short: "Share a diary entry with your contacts as a moment (it stays in the diary)",
		Args:  cli.ExactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			sh, err := cl.Share(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, sh)
			}
			fmt.Fprintf(a.Stdout, "shared the entry of %s with your contacts (moment %s)\n", sh.Entry.Date, sh.Moment[:min(8, len(sh.Moment))])
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the entry and the moment's ID as JSON")
	return c
}

func addCmd(a *cli.App) *cobra.Command {
	var (
		asJSON bool
		date   string
	)
	c := &cobra.Command{
		Use:   "add TEXT...",
		Short: "Write a diary entry",
		Example: `  banyan diary add the mango tree flowered today
  banyan diary add --date 2026-12-24 a quiet day`,
		Args: cli.MinArgs("TEXT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			text, err := a.MessageText(args)
			if err != nil {
				return err
			}
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			e, err := cl.Add(cmd.Context(), date, text)
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, e)
			}
			fmt.Fprintf(a.Stdout, "written for %s (id %s)\n", e.Date, e.ID[:shortID])
			return nil
		},
	}
	c.Flags().StringVar(&date, "date", "", "the day it is about, as 2026-12-24 (default today)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the entry as JSON")
	return c
}

// shortID is how many hex digits of an entry's ID the command line shows.
const shortID = 8

func listCmd(a *cli.App, name, short string) *cobra.Command {
	var (
		asJSON bool
		limit  int
	)
	use := name
	if name == "search" {
		use += " WORDS..."
	}
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args: func(cmd *cobra.Command, args []string) error {
			if name == "search" {
				return cli.MinArgs("WORDS")(cmd, args)
			}
			return cobra.NoArgs(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			es, err := cl.List(cmd.Context(), strings.Join(args, " "), limit)
			if err != nil {
				return err
			}
			if asJSON {
				if es == nil {
					es = []Entry{}
				}
				return cli.WriteJSON(a.Stdout, es)
			}
			if len(es) == 0 {
				fmt.Fprintln(a.Stdout, "no entries")
			}
			// The short ID is what 'diary share' takes.
			for _, e := range es {
				id := e.ID[:min(shortID, len(e.ID))]
				fmt.Fprintf(a.Stdout, "%s  %s  %s\n", e.Date, id, cli.IndentLines(cli.Clean(e.Text), len(e.Date)+len(id)+4))
			}
			return nil
		},
	}
	c.Flags().IntVarP(&limit, "limit", "n", 50, "show at most this many entries (1 to 1000)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the entries as JSON")
	return c
}
