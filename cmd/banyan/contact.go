package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/node/api"
)

func (a *app) contactCmd() *cobra.Command {
	c := &cobra.Command{
		Use:     "contact",
		Aliases: []string{"contacts"},
		Short:   "Add, accept, block and list contacts for private messages",
		Long: `Contacts are the people you exchange private messages with. Show your
code with 'banyan contact invite' (text, link and QR code); the other person
adds it with 'banyan contact add CODE', which sends you a request to accept.

A CONTACT argument is a peer ID or a contact's nickname.`,
		Args: subcommandsOnly,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.SuggestionsMinimumDistance = 2
	c.AddCommand(a.contactInviteCmd(), a.contactAddCmd(), a.contactListCmd(), a.contactNearbyCmd(),
		a.contactActionCmd("accept", "Accept a contact request", (*api.Client).AcceptContact),
		a.contactActionCmd("block", "Block a contact: their messages are dropped", (*api.Client).BlockContact),
		a.contactNickCmd())
	return c
}

func (a *app) contactInviteCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "invite",
		Short: "Show your contact code, link and QR code",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			in, err := cl.ContactInvite(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, in)
			}
			fmt.Fprint(a.stdout, in.QR)
			fmt.Fprintf(a.stdout, "code: %s\nlink: %s\nadd with: banyan contact add %s\n", in.Code, in.Link, in.Code)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (a *app) contactAddCmd() *cobra.Command {
	var asJSON, nearby bool
	c := &cobra.Command{
		Use:   "add CODE",
		Short: "Add a contact by their code, or a nearby peer by its peer ID (--nearby)",
		Example: `  banyan contact add banyan:c1.omFYa…
  banyan contact add --nearby 12D3KooW…`,
		Args: exactArgs("CODE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			in := api.AddContact{Code: args[0]}
			if nearby {
				in = api.AddContact{PeerID: args[0]}
			}
			ct, err := cl.AddContact(cmd.Context(), in)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, ct)
			}
			fmt.Fprintf(a.stdout, "added %s (%s); they will see your request\n", contactName(*ct), ct.State)
			return nil
		},
	}
	c.Flags().BoolVar(&nearby, "nearby", false, "CODE is the peer ID of a peer from 'banyan contact nearby'")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (a *app) contactListCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List contacts",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			cs, err := cl.Contacts(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				if cs == nil {
					cs = []api.Contact{}
				}
				return writeJSON(a.stdout, cs)
			}
			if len(cs) == 0 {
				fmt.Fprintln(a.stdout, "no contacts yet: show yours with 'banyan contact invite', add one with 'banyan contact add CODE'")
				return nil
			}
			tw := newTable(a.stdout)
			fmt.Fprintln(tw, "NAME\tPEER\tSTATE\tUNREAD\tONLINE")
			for _, ct := range cs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%v\n", contactName(ct), ct.PeerID, ct.State, ct.Unread, ct.Online)
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (a *app) contactNearbyCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "nearby",
		Short: "List people nearby (connected peers) who could be added",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			ns, err := cl.Nearby(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				if ns == nil {
					ns = []api.Nearby{}
				}
				return writeJSON(a.stdout, ns)
			}
			if len(ns) == 0 {
				fmt.Fprintln(a.stdout, "nobody nearby right now")
				return nil
			}
			tw := newTable(a.stdout)
			fmt.Fprintln(tw, "PEER\tCONTACT")
			for _, n := range ns {
				fmt.Fprintf(tw, "%s\t%v\n", n.PeerID, n.IsContact)
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (a *app) contactActionCmd(use, short string, call func(*api.Client, context.Context, string) (*api.Contact, error)) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   use + " CONTACT",
		Short: short,
		Args:  exactArgs("CONTACT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			ct, err := call(cl, cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, ct)
			}
			fmt.Fprintf(a.stdout, "%s: %s\n", contactName(*ct), ct.State)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (a *app) contactNickCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "nick CONTACT NICKNAME",
		Short: "Give a contact a nickname (used in place of the peer ID)",
		Args:  exactArgs("CONTACT", "NICKNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			ct, err := cl.SetNickname(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s is now %q\n", ct.PeerID, ct.Nickname)
			return nil
		},
	}
	return c
}

// contactName is how a contact is shown: nickname, their own name, or the
// end of their peer ID.
func contactName(c api.Contact) string {
	switch {
	case c.Nickname != "":
		return c.Nickname
	case c.Name != "":
		return c.Name
	}
	return shortID(c.PeerID)
}
