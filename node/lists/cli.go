package lists

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/cli"
)

// CLI is the lists' part of the command line.
var CLI = cli.Feature{
	Group:    "chat",
	Commands: func(a *cli.App) []*cobra.Command { return []*cobra.Command{listCmd(a)} },
	Watch:    watchLine,
}

func dial(ctx context.Context, a *cli.App) (Client, error) {
	c, err := a.Client(ctx)
	if err != nil {
		return Client{}, err
	}
	return NewClient(c), nil
}

// watchLine renders a list edit of the event stream.
func watchLine(ev api.Event) (string, bool) {
	var e ListEvent
	if ev.Type != StreamType || ev.Decode(&e) != nil {
		return "", false
	}
	line := fmt.Sprintf("%s [%s] %s %s", cli.FormatTime(e.Time), cli.CleanLine(e.GroupName), cli.Person(e.By), e.What)
	if e.Item != "" {
		line += fmt.Sprintf(" %q", cli.CleanLine(e.Item))
	}
	return line + fmt.Sprintf(" (list %q)", cli.CleanLine(e.List)), true
}

func listCmd(a *cli.App) *cobra.Command {
	c := &cobra.Command{
		Use:     "list",
		Aliases: []string{"lists"},
		Short:   "Shared to-do and shopping lists in a group",
		Long: `Shared to-do and shopping lists in a group: every member can add, edit,
tick, reorder and remove items, also offline; edits merge when people meet.

A GROUP is a group's ID or unique name; a LIST a list's ID (or its first 6
or more hex digits) or its unique title; an ITEM its number in 'banyan list
show', its ID or its exact text.`,
		Args: cli.SubcommandsOnly,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(createCmd(a), addCmd(a), editCmd(a), tickCmd(a, "tick", true), tickCmd(a, "untick", false), moveCmd(a), removeCmd(a), showCmd(a))
	return c
}

// run is a list command: it dials the node, runs do, and prints the list
// it returns (as JSON with --json).
func run(a *cli.App, c *cobra.Command, do func(ctx context.Context, cl Client, args []string) (*ListInfo, error)) *cobra.Command {
	var asJSON bool
	c.RunE = func(cmd *cobra.Command, args []string) error {
		cl, err := dial(cmd.Context(), a)
		if err != nil {
			return err
		}
		l, err := do(cmd.Context(), cl, args)
		if err != nil {
			return err
		}
		if asJSON {
			if l == nil {
				return cli.WriteJSON(a.Stdout, struct{}{})
			}
			return cli.WriteJSON(a.Stdout, l)
		}
		if l == nil {
			fmt.Fprintln(a.Stdout, "deleted the list for everyone in the group")
			return nil
		}
		printList(a, *l)
		return nil
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	return c
}

func printList(a *cli.App, l ListInfo) {
	fmt.Fprintf(a.Stdout, "%s (%s list in %s, id %s)\n", cli.CleanLine(l.Title), l.Kind, cli.CleanLine(l.GroupName), l.ID[:8])
	if len(l.Items) == 0 {
		fmt.Fprintln(a.Stdout, "  (empty)")
	}
	for _, it := range l.Items {
		mark := "[ ]"
		if it.Done {
			mark = "[x]"
		}
		fmt.Fprintf(a.Stdout, "%3d. %s %s\n", it.N, mark, cli.CleanLine(it.Text))
	}
}

func createCmd(a *cli.App) *cobra.Command {
	var shopping bool
	c := run(a, &cobra.Command{
		Use:   "create GROUP TITLE",
		Short: "Create a list in a group",
		Example: `  banyan list create family "chores"
  banyan list create family "market" --shopping`,
		Args: cli.ExactArgs("GROUP", "TITLE"),
	}, func(ctx context.Context, cl Client, args []string) (*ListInfo, error) {
		kind := "todo"
		if shopping {
			kind = "shopping"
		}
		return cl.Create(ctx, args[0], args[1], kind)
	})
	c.Flags().BoolVar(&shopping, "shopping", false, "a shopping list rather than a to-do list")
	return c
}

func addCmd(a *cli.App) *cobra.Command {
	return run(a, &cobra.Command{
		Use:     "add GROUP LIST TEXT...",
		Short:   "Add an item at the end of a list",
		Example: `  banyan list add family market 2 kg rice`,
		Args:    cli.MinArgs("GROUP", "LIST", "TEXT"),
	}, func(ctx context.Context, cl Client, args []string) (*ListInfo, error) {
		return cl.Add(ctx, args[0], args[1], strings.Join(args[2:], " "))
	})
}

func editCmd(a *cli.App) *cobra.Command {
	return run(a, &cobra.Command{
		Use:     "edit GROUP LIST ITEM TEXT...",
		Short:   "Change an item's text",
		Example: `  banyan list edit family market 1 3 kg rice`,
		Args:    cli.MinArgs("GROUP", "LIST", "ITEM", "TEXT"),
	}, func(ctx context.Context, cl Client, args []string) (*ListInfo, error) {
		text := strings.Join(args[3:], " ")
		return cl.Edit(ctx, args[0], args[1], args[2], EditItem{Text: &text})
	})
}

func tickCmd(a *cli.App, name string, done bool) *cobra.Command {
	short := "Tick an item off"
	if !done {
		short = "Untick an item"
	}
	return run(a, &cobra.Command{
		Use:     name + " GROUP LIST ITEM",
		Short:   short,
		Example: fmt.Sprintf("  banyan list %s family market 2", name),
		Args:    cli.ExactArgs("GROUP", "LIST", "ITEM"),
	}, func(ctx context.Context, cl Client, args []string) (*ListInfo, error) {
		return cl.Edit(ctx, args[0], args[1], args[2], EditItem{Done: &done})
	})
}

func moveCmd(a *cli.App) *cobra.Command {
	return run(a, &cobra.Command{
		Use:     "move GROUP LIST ITEM PLACE",
		Short:   "Move an item to another place (1 is the top)",
		Example: `  banyan list move family market 3 1`,
		Args:    cli.ExactArgs("GROUP", "LIST", "ITEM", "PLACE"),
	}, func(ctx context.Context, cl Client, args []string) (*ListInfo, error) {
		n, err := strconv.Atoi(args[3])
		if err != nil {
			return nil, fmt.Errorf("place %q is not a number", args[3])
		}
		return cl.Edit(ctx, args[0], args[1], args[2], EditItem{Position: &n})
	})
}

func removeCmd(a *cli.App) *cobra.Command {
	return run(a, &cobra.Command{
		Use:   "remove GROUP LIST [ITEM]",
		Short: "Remove an item, or without ITEM the whole list",
		Example: `  banyan list remove family market 2
  banyan list remove family market`,
		Args: cobra.RangeArgs(2, 3),
	}, func(ctx context.Context, cl Client, args []string) (*ListInfo, error) {
		if len(args) == 3 {
			return cl.Remove(ctx, args[0], args[1], args[2])
		}
		return nil, cl.Delete(ctx, args[0], args[1])
	})
}

func showCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "show GROUP [LIST]",
		Short: "Show a group's lists, or one list",
		Example: `  banyan list show family
  banyan list show family market --json`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			var ls []ListInfo
			if len(args) == 2 {
				l, err := cl.List(cmd.Context(), args[0], args[1])
				if err != nil {
					return err
				}
				ls = []ListInfo{*l}
			} else if ls, err = cl.Lists(cmd.Context(), args[0]); err != nil {
				return err
			}
			if asJSON {
				if len(args) == 2 {
					return cli.WriteJSON(a.Stdout, ls[0])
				}
				return cli.WriteJSON(a.Stdout, ls)
			}
			if len(ls) == 0 {
				fmt.Fprintf(a.Stdout, "no lists yet; create one with: banyan list create %s TITLE\n", cli.ShellQuote(args[0]))
			}
			for _, l := range ls {
				printList(a, l)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the lists as JSON")
	return c
}
