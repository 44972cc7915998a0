package private

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/cli"
)

// CLI is private messaging's part of the command line.
var CLI = cli.Feature{
	Group: "chat",
	Commands: func(a *cli.App) []*cobra.Command {
		return []*cobra.Command{contactCmd(a), dmCmd(a)}
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

// watchLine renders a private message of the event stream.
func watchLine(ev api.Event) (string, bool) {
	var m DMInfo
	if ev.Type != StreamType || ev.Decode(&m) != nil {
		return "", false
	}
	t, who := cli.FormatTime(m.Time), "from "+cli.Person(m.With)
	if m.Out {
		who = "to " + cli.Person(m.With)
	}
	head := fmt.Sprintf("%s [private %s]", t, who)
	return fmt.Sprintf("%s %s%s", head, cli.IndentLines(m.Text, len([]rune(head))+1), dmMark(m)), true
}

func contactCmd(a *cli.App) *cobra.Command {
	c := &cobra.Command{
		Use:     "contact",
		Aliases: []string{"contacts"},
		Short:   "Add, accept, block, remove and list contacts for private messages",
		Long: `Contacts are the people you exchange private messages with. Show your
code with 'banyan contact invite' (text, link and QR code); the other person
adds it with 'banyan contact add CODE', which sends you a request to accept.

A CONTACT argument is a peer ID or a contact's nickname.`,
		Args: cli.SubcommandsOnly,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.SuggestionsMinimumDistance = 2
	c.AddCommand(contactInviteCmd(a), contactAddCmd(a), contactListCmd(a), contactNearbyCmd(a),
		contactActionCmd(a, "accept", "Accept a contact request", Client.Accept),
		contactActionCmd(a, "block", "Block a contact: their messages are dropped", Client.Block),
		contactActionCmd(a, "unblock", "Unblock a contact: their messages are taken again", Client.Unblock),
		contactRemoveCmd(a), contactNickCmd(a))
	return c
}

func contactInviteCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "invite",
		Short: "Show your contact code, link and QR code",
		Args:  cli.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			in, err := cl.Code(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, in)
			}
			fmt.Fprint(a.Stdout, in.QR)
			fmt.Fprintf(a.Stdout, "code: %s\nlink: %s\nadd with: banyan contact add %s\n", in.Code, in.Link, in.Code)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func contactAddCmd(a *cli.App) *cobra.Command {
	var asJSON, nearby bool
	c := &cobra.Command{
		Use:   "add CODE",
		Short: "Add a contact by their code, or a nearby peer by its peer ID (--nearby)",
		Example: `  banyan contact add banyan:c1.omFYa…
  banyan contact add --nearby 12D3KooW…`,
		Args: cli.ExactArgs("CODE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			in := AddContact{Code: args[0]}
			if nearby {
				in = AddContact{PeerID: args[0]}
			}
			ct, err := cl.AddContact(cmd.Context(), in)
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, ct)
			}
			fmt.Fprintf(a.Stdout, "added %s (%s); they will see your request\n", cli.Person(ct.Person), ct.State)
			return nil
		},
	}
	c.Flags().BoolVar(&nearby, "nearby", false, "CODE is the peer ID of a peer from 'banyan contact nearby'")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func contactListCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List contacts",
		Args:    cli.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			cs, err := cl.Contacts(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				if cs == nil {
					cs = []ContactInfo{}
				}
				return cli.WriteJSON(a.Stdout, cs)
			}
			if len(cs) == 0 {
				fmt.Fprintln(a.Stdout, "no contacts yet: show yours with 'banyan contact invite', add one with 'banyan contact add CODE'")
				return nil
			}
			tw := cli.NewTable(a.Stdout)
			fmt.Fprintln(tw, "NAME\tPEER\tSTATE\tUNREAD\tONLINE")
			for _, ct := range cs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%v\n", cli.Person(ct.Person), ct.PeerID, ct.State, ct.Unread, ct.Online)
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func contactNearbyCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "nearby",
		Short: "List people nearby (connected peers) who could be added",
		Args:  cli.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			ns, err := cl.Nearby(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				if ns == nil {
					ns = []Nearby{}
				}
				return cli.WriteJSON(a.Stdout, ns)
			}
			if len(ns) == 0 {
				fmt.Fprintln(a.Stdout, "nobody nearby right now")
				return nil
			}
			tw := cli.NewTable(a.Stdout)
			fmt.Fprintln(tw, "NAME\tPEER\tCONTACT")
			for _, n := range ns {
				fmt.Fprintf(tw, "%s\t%s\t%v\n", cli.Person(n.Person), n.PeerID, n.IsContact)
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func contactActionCmd(a *cli.App, use, short string, call func(Client, context.Context, string) (*ContactInfo, error)) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   use + " CONTACT",
		Short: short,
		Args:  cli.ExactArgs("CONTACT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			ct, err := call(cl, cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, ct)
			}
			fmt.Fprintf(a.Stdout, "%s: %s\n", cli.Person(ct.Person), ct.State)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func contactRemoveCmd(a *cli.App) *cobra.Command {
	c := &cobra.Command{
		Use:   "remove CONTACT",
		Short: "Remove a contact and delete your conversation with them from this node",
		Long: `Remove a contact: forget them and delete your private conversation with
them from this node. On a terminal, remove asks first (--yes does not). If
they write again, they are someone new, whose request waits for you; to
refuse their messages instead, block them.`,
		Args: cli.ExactArgs("CONTACT"),
	}
	yes := cli.YesFlag(c)
	c.RunE = func(cmd *cobra.Command, args []string) error {
		cl, err := dial(cmd.Context(), a)
		if err != nil {
			return err
		}
		if err := a.Confirm(cmd.Context(), *yes, "Remove contact %s and delete your conversation with them from this computer?", cli.CleanLine(args[0])); err != nil {
			return err
		}
		if err := cl.Remove(cmd.Context(), args[0]); err != nil {
			return err
		}
		fmt.Fprintf(a.Stdout, "removed %s\n", cli.CleanLine(args[0]))
		return nil
	}
	return c
}

func contactNickCmd(a *cli.App) *cobra.Command {
	c := &cobra.Command{
		Use:   "nick CONTACT NICKNAME",
		Short: "Give a contact a nickname (used in place of the peer ID)",
		Args:  cli.ExactArgs("CONTACT", "NICKNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			ct, err := cl.SetNickname(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "%s is now %q\n", ct.PeerID, ct.Nickname)
			return nil
		},
	}
	return c
}

func dmCmd(a *cli.App) *cobra.Command {
	c := &cobra.Command{
		Use:   "dm",
		Short: "Send and read private messages",
		Long: `Private messages are end-to-end encrypted: only you and the contact can
read them. If the contact is offline, the sealed message waits in the
mailboxes of other nodes (which cannot read it, nor see who sent it) until
the contact comes back.

A CONTACT argument is a peer ID or a contact's nickname.`,
		Args: cli.SubcommandsOnly,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.SuggestionsMinimumDistance = 2
	c.AddCommand(dmSendCmd(a), dmHistoryCmd(a))
	return c
}

func dmSendCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "send CONTACT [TEXT...]",
		Short: "Send a private message (TEXT, or stdin if there is none or it is -)",
		Example: `  banyan dm send grandma see you on Sunday
  echo "the key is under the mat" | banyan dm send mei -`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cli.Usagef(cmd, "missing CONTACT argument")
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
	c.Flags().BoolVar(&asJSON, "json", false, "print the message as JSON")
	return c
}

func dmHistoryCmd(a *cli.App) *cobra.Command {
	var (
		asJSON bool
		limit  int
		before string
		read   bool
	)
	c := &cobra.Command{
		Use:   "history CONTACT",
		Short: "Show a private conversation",
		Long: `Show a page of a private conversation, oldest first. Your own messages end
with their status: [stored] (only on this node), [held by N] (N nodes carry
it for the contact), [delivered] or [read]. --read marks the conversation
read (and tells the contact, unless read receipts are off).`,
		Args: cli.ExactArgs("CONTACT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 {
				return cli.Usagef(cmd, "--limit must be at least 1, got %d", limit)
			}
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			p, err := cl.Conversation(cmd.Context(), args[0], limit, before)
			if err != nil {
				return err
			}
			if read {
				if err := cl.MarkRead(cmd.Context(), args[0]); err != nil {
					return err
				}
			}
			if asJSON {
				if p.Messages == nil {
					p.Messages = []DMInfo{}
				}
				return cli.WriteJSON(a.Stdout, p)
			}
			if len(p.Messages) == 0 {
				fmt.Fprintln(a.Stdout, "no messages")
			}
			for _, m := range p.Messages {
				t, who := cli.FormatTime(m.Time), cli.Person(m.With)
				if m.Out {
					who = "you"
				}
				fmt.Fprintf(a.Stdout, "%s %s %s%s\n", t, who, cli.IndentLines(m.Text, len(t)+1+len([]rune(who))+1), dmMark(m))
			}
			if p.Next != "" {
				fmt.Fprintf(a.Stdout, "(older messages: banyan dm history %s --before %s)\n", cli.ShellQuote(args[0]), p.Next)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the page as JSON")
	c.Flags().IntVarP(&limit, "limit", "n", 50, "show at most this many messages")
	c.Flags().StringVar(&before, "before", "", "show the messages before this point (from the end of a previous page)")
	c.Flags().BoolVar(&read, "read", false, "mark the conversation read")
	return c
}

// dmMark shows how far one's own private message has got.
func dmMark(m DMInfo) string {
	switch m.Status {
	case "":
		return ""
	case "held":
		return fmt.Sprintf("  [held by %d]", m.HeldBy)
	}
	return "  [" + m.Status + "]"
}
