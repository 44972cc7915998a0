package groupchat

import (
	"context"
	"fmt"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/cli"
)

// CLI is group chat's part of the command line.
var CLI = cli.Feature{
	Group: "chat",
	Commands: func(a *cli.App) []*cobra.Command {
		return []*cobra.Command{groupCmd(a), sendCmd(a), historyCmd(a)}
	},
	Watch: watchLine,
}

// dial connects to the running node.
func dial(ctx context.Context, a *cli.App) (Client, error) {
	c, err := a.Client(ctx)
	if err != nil {
		return Client{}, err
	}
	return NewClient(c), nil
}

// watchLine renders a group message of the event stream.
func watchLine(ev api.Event) (string, bool) {
	var m MessageInfo
	if ev.Type != StreamType || ev.Decode(&m) != nil {
		return "", false
	}
	t, who := cli.FormatTime(m.Time), cli.Person(m.By)
	head := fmt.Sprintf("%s [%s] %s:", t, cli.CleanLine(m.GroupName), who)
	return fmt.Sprintf("%s %s", head, cli.IndentLines(m.Text, len([]rune(head))+1)), true
}

func groupCmd(a *cli.App) *cobra.Command {
	c := &cobra.Command{
		Use:     "group",
		Aliases: []string{"groups"},
		Short:   "Create, join, leave and list groups",
		Long: `Create, join, leave and list group chats.

A GROUP argument is a group's ID or its name, if no other group has the
same name.`,
		Args: cli.SubcommandsOnly,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	c.SuggestionsMinimumDistance = 2
	c.AddCommand(groupCreateCmd(a), groupInviteCmd(a), groupJoinCmd(a), groupLeaveCmd(a), groupListCmd(a), groupReadCmd(a), groupRetentionCmd(a), groupRelayCmd(a))
	return c
}

func groupCreateCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a group",
		Example: `  banyan group create family
  banyan group create "football club"`,
		Args: cli.ExactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			g, err := cl.Create(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, g)
			}
			fmt.Fprintf(a.Stdout, "created group %q (id %s)\n", g.Name, g.ID)
			fmt.Fprintf(a.Stdout, "invite others with: banyan group invite %s\n", cli.ShellQuote(g.ID))
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the group as JSON")
	return c
}

func groupInviteCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "invite GROUP",
		Short: "Print an invite code, link and QR code for a group",
		Long: `Print an invite to a group: a QR code, a code and the same as a banyan:
link. Whoever has it can join the group and read it, so share it only with
members.`,
		Args: cli.ExactArgs("GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			in, err := cl.Invite(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, in)
			}
			fmt.Fprint(a.Stdout, in.QR)
			fmt.Fprintf(a.Stdout, "code: %s\nlink: %s\n", in.Code, in.Link)
			fmt.Fprintf(a.Stdout, "join with: banyan group join %s\n", in.Code)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the invite as JSON")
	return c
}

func groupJoinCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "join INVITE",
		Short: "Join a group with an invite code or link",
		Args:  cli.ExactArgs("INVITE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			g, err := cl.Join(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, g)
			}
			fmt.Fprintf(a.Stdout, "joined group %q (id %s)\n", g.Name, g.ID)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the group as JSON")
	return c
}

func groupLeaveCmd(a *cli.App) *cobra.Command {
	c := &cobra.Command{
		Use:   "leave GROUP",
		Short: "Leave a group and delete its history from this node",
		Long: `Leave a group and delete its history and its key from this node. On a
terminal, leave asks first (--yes does not). Joining again takes a new
invite, and brings the history back from the other members.`,
		Args: cli.ExactArgs("GROUP"),
	}
	yes := cli.YesFlag(c)
	c.RunE = func(cmd *cobra.Command, args []string) error {
		cl, err := dial(cmd.Context(), a)
		if err != nil {
			return err
		}
		if err := a.Confirm(cmd.Context(), *yes, "Leave group %q and delete its history from this computer?", args[0]); err != nil {
			return err
		}
		if err := cl.Leave(cmd.Context(), args[0]); err != nil {
			return err
		}
		fmt.Fprintf(a.Stdout, "left group %s\n", args[0])
		return nil
	}
	return c
}

func groupReadCmd(a *cli.App) *cobra.Command {
	return &cobra.Command{
		Use:   "read GROUP",
		Short: "Mark every message of a group read",
		Args:  cli.ExactArgs("GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			if err := cl.MarkRead(cmd.Context(), args[0], ""); err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "marked every message of %s read\n", args[0])
			return nil
		},
	}
}

func groupListCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the groups this node belongs to",
		Args:    cli.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			gs, err := cl.Groups(cmd.Context())
			if err != nil {
				return err
			}
			if gs == nil {
				gs = []GroupInfo{}
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, gs)
			}
			if len(gs) == 0 {
				fmt.Fprintln(a.Stdout, "no groups yet: create one with 'banyan group create NAME' or join one with 'banyan group join INVITE'")
				return nil
			}
			tw := cli.NewTable(a.Stdout)
			fmt.Fprintln(tw, "NAME\tID\tUNREAD\tPEERS\tMESSAGES\tSTATE")
			for _, g := range gs {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", cli.CleanLine(g.Name), g.ID, g.Unread, g.Peers, g.Messages, groupState(g))
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// groupState says whether a group's history is complete here.
func groupState(g GroupInfo) string {
	switch {
	case g.CatchingUp != nil:
		return fmt.Sprintf("catching up: %s of %s", cli.Thousands(g.CatchingUp.Received), cli.Thousands(g.CatchingUp.Expected))
	case g.Missing > 0:
		return fmt.Sprintf("missing %s (will sync)", cli.Thousands(uint64(g.Missing)))
	}
	return "complete"
}

func groupRetentionCmd(a *cli.App) *cobra.Command {
	var (
		keep    time.Duration
		quota   string
		forever bool
		asJSON  bool
		yes     bool
	)
	c := &cobra.Command{
		Use:   "retention GROUP",
		Short: "Bound how much of a group's history this node keeps",
		Long: `Bound how much of a group's history this node keeps for itself and for the
others who sync from it. By default a node keeps everything. Older messages
are deleted at once and every ten minutes, and are not synced back. On a
terminal, a bound that deletes asks first (--yes does not).

A node asked to keep a group's history for others (a relay, the school's
always-on computer) should use --forever.`,
		Example: `  banyan group retention family --keep 2160h        # about 90 days
  banyan group retention village --quota 200MB
  banyan group retention village --forever`,
		Args: cli.ExactArgs("GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := SetRetention{}
			switch {
			case forever && (cmd.Flags().Changed("keep") || cmd.Flags().Changed("quota")):
				return cli.Usagef(cmd, "--forever cannot be combined with --keep or --quota")
			case !forever && !cmd.Flags().Changed("keep") && !cmd.Flags().Changed("quota"):
				return cli.Usagef(cmd, "say what to keep: --keep DURATION, --quota SIZE or --forever")
			case keep < 0:
				return cli.Usagef(cmd, "--keep must not be negative")
			}
			if keep > 0 {
				req.Retention = keep.String()
			}
			if quota != "" {
				n, err := humanize.ParseBytes(quota)
				if err != nil {
					return cli.Usagef(cmd, "--quota %q: %v (examples: 500MB, 2GiB)", quota, err)
				}
				req.Quota = int64(n)
			}
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			if req.Retention != "" || req.Quota > 0 {
				what := "older than " + cli.FormatDuration(req.Retention)
				switch {
				case req.Retention != "" && req.Quota > 0:
					what += ", and the oldest beyond " + quota + ","
				case req.Retention == "":
					what = "beyond " + quota + ", oldest first,"
				}
				if err := a.Confirm(cmd.Context(), yes, "Delete the messages of %q %s from this computer, now and from now on?", args[0], what); err != nil {
					return err
				}
			}
			g, err := cl.SetRetention(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, g)
			}
			what := "everything"
			switch {
			case g.Retention != "" && g.Quota > 0:
				what = fmt.Sprintf("the last %s, at most %s", cli.FormatDuration(g.Retention), humanize.Bytes(uint64(g.Quota)))
			case g.Retention != "":
				what = "the last " + cli.FormatDuration(g.Retention)
			case g.Quota > 0:
				what = "at most " + humanize.Bytes(uint64(g.Quota))
			}
			fmt.Fprintf(a.Stdout, "%s: keeping %s (%d messages now)\n", cli.CleanLine(g.Name), what, g.Messages)
			return nil
		},
	}
	c.Flags().DurationVar(&keep, "keep", 0, "keep messages younger than this (e.g. 720h)")
	c.Flags().StringVar(&quota, "quota", "", "keep at most this many bytes of history, oldest deleted first (e.g. 200MB)")
	c.Flags().BoolVar(&forever, "forever", false, "keep the whole history (the default)")
	c.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	c.Flags().BoolVar(&asJSON, "json", false, "print the group as JSON")
	return c
}

func sendCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "send GROUP [TEXT...]",
		Short: "Send a message to a group",
		Long: `Send a message to a group. The words of TEXT are joined by spaces; without
TEXT, or with TEXT "-", the message is read from stdin (one trailing line
break is dropped). send returns once the message is stored on this node and
prints its ID; the network delivers it to the others.`,
		Example: `  banyan send family hello everyone
  echo "see you at the market" | banyan send family
  banyan send family - < notice.txt`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cli.Usagef(cmd, "missing GROUP argument (a group ID or name)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			text, err := a.MessageText(args[1:])
			if err != nil {
				return err
			}
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			m, err := cl.Send(cmd.Context(), args[0], text)
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, m)
			}
			fmt.Fprintln(a.Stdout, m.ID)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the sent message as JSON")
	return c
}

func historyCmd(a *cli.App) *cobra.Command {
	var (
		asJSON bool
		limit  int
		before string
		read   bool
	)
	c := &cobra.Command{
		Use:   "history GROUP",
		Short: "Show a group's messages",
		Long: `Show a page of a group's messages, oldest first: time, author (the end of
its peer ID) and text. Your own messages end with [stored] (only on this
node so far) or [held by N] (N peers are known to hold them). If there are
older messages, the last line tells the --before cursor that shows the
page before. --read marks the messages shown read (and none after them).`,
		Example: `  banyan history family
  banyan history family --limit 200 --json`,
		Args: cli.ExactArgs("GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 {
				return cli.Usagef(cmd, "--limit must be at least 1, got %d", limit)
			}
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			p, err := cl.History(cmd.Context(), args[0], limit, before)
			if err != nil {
				return err
			}
			if read && len(p.Messages) > 0 {
				if err := cl.MarkRead(cmd.Context(), args[0], p.Messages[len(p.Messages)-1].Cursor); err != nil {
					return err
				}
			}
			if asJSON {
				if p.Messages == nil {
					p.Messages = []MessageInfo{}
				}
				return cli.WriteJSON(a.Stdout, p)
			}
			if len(p.Messages) == 0 {
				fmt.Fprintln(a.Stdout, "no messages")
			}
			for _, m := range p.Messages {
				t, who := cli.FormatTime(m.Time), cli.Person(m.By)
				fmt.Fprintf(a.Stdout, "%s %s %s%s\n", t, who, cli.IndentLines(m.Text, len(t)+1+len([]rune(who))+1), deliveryMark(m))
			}
			if p.Next != "" {
				fmt.Fprintf(a.Stdout, "(older messages: banyan history %s --before %s)\n", cli.ShellQuote(args[0]), p.Next)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the page as JSON: {\"messages\": [...], \"next\": CURSOR}")
	c.Flags().IntVarP(&limit, "limit", "n", 50, "show at most this many messages")
	c.Flags().StringVar(&before, "before", "", "show the messages before this cursor (from the end of a previous page)")
	c.Flags().BoolVar(&read, "read", false, "mark the messages shown read")
	return c
}

// deliveryMark shows how far one's own message has got: only stored here,
// or held by N peers.
func deliveryMark(m MessageInfo) string {
	switch m.Status {
	case "stored":
		return "  [stored]"
	case "held":
		return fmt.Sprintf("  [held by %d]", m.HeldBy)
	}
	return ""
}
