package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/node/api"
)

func (a *app) dmCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "dm",
		Short: "Send and read private messages",
		Long: `Private messages are end-to-end encrypted: only you and the contact can
read them. If the contact is offline, the sealed message waits in the
mailboxes of other nodes (which cannot read it, nor see who sent it) until
the contact comes back.

A CONTACT argument is a peer ID or a contact's nickname.`,
		Args: subcommandsOnly,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.SuggestionsMinimumDistance = 2
	c.AddCommand(a.dmSendCmd(), a.dmHistoryCmd())
	return c
}

func (a *app) dmSendCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "send CONTACT [TEXT...]",
		Short: "Send a private message (TEXT, or stdin if there is none or it is -)",
		Example: `  banyan dm send grandma see you on Sunday
  echo "the key is under the mat" | banyan dm send mei -`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef(cmd, "missing CONTACT argument")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			text, err := a.messageText(args[1:])
			if err != nil {
				return err
			}
			cl, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			m, err := cl.SendDM(cmd.Context(), args[0], text)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, m)
			}
			fmt.Fprintln(a.stdout, m.ID)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the message as JSON")
	return c
}

func (a *app) dmHistoryCmd() *cobra.Command {
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
		Args: exactArgs("CONTACT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 {
				return usagef(cmd, "--limit must be at least 1, got %d", limit)
			}
			cl, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			p, err := cl.DMs(cmd.Context(), args[0], limit, before)
			if err != nil {
				return err
			}
			if read {
				if err := cl.MarkDMsRead(cmd.Context(), args[0]); err != nil {
					return err
				}
			}
			if asJSON {
				if p.Messages == nil {
					p.Messages = []api.DM{}
				}
				return writeJSON(a.stdout, p)
			}
			if len(p.Messages) == 0 {
				fmt.Fprintln(a.stdout, "no messages")
			}
			for _, m := range p.Messages {
				t, who := formatTime(m.Time), shortID(m.PeerID)
				if m.Out {
					who = "me"
				}
				fmt.Fprintf(a.stdout, "%s %s %s%s\n", t, who, indentLines(m.Text, len(t)+1+len([]rune(who))+1), dmMark(m))
			}
			if p.Next != "" {
				fmt.Fprintf(a.stdout, "(older messages: banyan dm history %s --before %s)\n", shellQuote(args[0]), p.Next)
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
func dmMark(m api.DM) string {
	switch m.Status {
	case "":
		return ""
	case "held":
		return fmt.Sprintf("  [held by %d]", m.HeldBy)
	}
	return "  [" + m.Status + "]"
}
