package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/dustin/go-humanize"
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
		Args: subcommandsOnly,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	c.SuggestionsMinimumDistance = 2
	c.AddCommand(a.groupCreateCmd(), a.groupInviteCmd(), a.groupJoinCmd(), a.groupLeaveCmd(), a.groupListCmd(), a.groupRetentionCmd())
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
			fmt.Fprintln(tw, "NAME\tID\tUNREAD\tPEERS\tMESSAGES\tSTATE")
			for _, g := range gs {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", g.Name, g.ID, g.Unread, g.Peers, g.Messages, groupState(g))
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// groupState says whether a group's history is complete here.
func groupState(g api.Group) string {
	switch {
	case g.CatchingUp != nil:
		return fmt.Sprintf("catching up: %s of %s", thousands(g.CatchingUp.Received), thousands(g.CatchingUp.Expected))
	case g.Missing > 0:
		return fmt.Sprintf("missing %s (will sync)", thousands(uint64(g.Missing)))
	}
	return "complete"
}

// thousands formats n with thousands separators: 10,000.
func thousands(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func (a *app) groupRetentionCmd() *cobra.Command {
	var (
		keep    time.Duration
		quota   string
		forever bool
		asJSON  bool
	)
	c := &cobra.Command{
		Use:   "retention GROUP",
		Short: "Bound how much of a group's history this node keeps",
		Long: `Bound how much of a group's history this node keeps for itself and for the
others who sync from it. By default a node keeps everything. Older messages
are deleted at once and every ten minutes, and are not synced back.

A node asked to keep a group's history for others (a relay, the school's
always-on computer) should use --forever.`,
		Example: `  banyan group retention family --keep 2160h        # about 90 days
  banyan group retention village --quota 200MB
  banyan group retention village --forever`,
		Args: exactArgs("GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := api.SetRetention{}
			switch {
			case forever && (cmd.Flags().Changed("keep") || cmd.Flags().Changed("quota")):
				return usagef(cmd, "--forever cannot be combined with --keep or --quota")
			case !forever && !cmd.Flags().Changed("keep") && !cmd.Flags().Changed("quota"):
				return usagef(cmd, "say what to keep: --keep DURATION, --quota SIZE or --forever")
			case keep < 0:
				return usagef(cmd, "--keep must not be negative")
			}
			if keep > 0 {
				req.Retention = keep.String()
			}
			if quota != "" {
				n, err := humanize.ParseBytes(quota)
				if err != nil {
					return usagef(cmd, "--quota %q: %v (examples: 500MB, 2GiB)", quota, err)
				}
				req.Quota = int64(n)
			}
			cl, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			g, err := cl.SetRetention(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, g)
			}
			what := "everything"
			switch {
			case g.Retention != "" && g.Quota > 0:
				what = fmt.Sprintf("the last %s, at most %s", g.Retention, humanize.IBytes(uint64(g.Quota)))
			case g.Retention != "":
				what = "the last " + g.Retention
			case g.Quota > 0:
				what = "at most " + humanize.IBytes(uint64(g.Quota))
			}
			fmt.Fprintf(a.stdout, "%s: keeping %s (%d messages now)\n", g.Name, what, g.Messages)
			return nil
		},
	}
	c.Flags().DurationVar(&keep, "keep", 0, "keep messages younger than this (e.g. 720h)")
	c.Flags().StringVar(&quota, "quota", "", "keep at most this many bytes of history, oldest deleted first (e.g. 200MB)")
	c.Flags().BoolVar(&forever, "forever", false, "keep the whole history (the default)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the group as JSON")
	return c
}
