package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/node/api"
)

func (a *app) groupCmd() *cobra.Command {
	c := &cobra.Command{
		Use:     "group",
		Aliases: []string{"groups"},
		Short:   "Create, join, leave and list groups",
		Long: `Create, join, leave and list group chats.

A GROUP argument is a group's ID or its name, if no other group has the
same name.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
				if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
					msg += fmt.Sprintf(" (did you mean %q?)", s[0])
				}
				return usagef(cmd, "%s", msg)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	c.SuggestionsMinimumDistance = 2
	c.AddCommand(a.groupCreateCmd(), a.groupInviteCmd(), a.groupJoinCmd(), a.groupLeaveCmd(), a.groupListCmd())
	return c
}

func (a *app) groupCreateCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a group",
		Example: `  banyan group create family
  banyan group create "football club"`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			g, err := cl.CreateGroup(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, g)
			}
			fmt.Fprintf(a.stdout, "created group %q (id %s)\n", g.Name, g.ID)
			fmt.Fprintf(a.stdout, "invite others with: banyan group invite %s\n", shellQuote(g.ID))
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the group as JSON")
	return c
}

func (a *app) groupInviteCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "invite GROUP",
		Short: "Print an invite code and link for a group",
		Long: `Print an invite to a group: a code and the same as a banyan: link. Whoever
has it can join the group and read it, so share it only with members.`,
		Args: exactArgs("GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			in, err := cl.Invite(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, in)
			}
			fmt.Fprintf(a.stdout, "code: %s\nlink: %s\n", in.Code, in.Link)
			fmt.Fprintf(a.stdout, "join with: banyan group join %s\n", in.Code)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the invite as JSON")
	return c
}

func (a *app) groupJoinCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "join INVITE",
		Short: "Join a group with an invite code or link",
		Args:  exactArgs("INVITE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			g, err := cl.JoinGroup(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, g)
			}
			fmt.Fprintf(a.stdout, "joined group %q (id %s)\n", g.Name, g.ID)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the group as JSON")
	return c
}

func (a *app) groupLeaveCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "leave GROUP",
		Short: "Leave a group and delete its history from this node",
		Args:  exactArgs("GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			if err := cl.LeaveGroup(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "left group %s\n", args[0])
			return nil
		},
	}
	return c
}

func (a *app) groupListCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the groups this node belongs to",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			gs, err := cl.Groups(cmd.Context())
			if err != nil {
				return err
			}
			if gs == nil {
				gs = []api.Group{}
			}
			if asJSON {
				return writeJSON(a.stdout, gs)
			}
			if len(gs) == 0 {
				fmt.Fprintln(a.stdout, "no groups yet: create one with 'banyan group create NAME' or join one with 'banyan group join INVITE'")
				return nil
			}
			tw := newTable(a.stdout)
			fmt.Fprintln(tw, "NAME\tID\tUNREAD\tPEERS\tMESSAGES")
			for _, g := range gs {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", g.Name, g.ID, g.Unread, g.Peers, g.Messages)
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}
