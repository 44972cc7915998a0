package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/cli"
	"github.com/banyan-mesh/banyan/node/engine"
)

func (a *app) idCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "id",
		Short: "Show the running node's peer ID and addresses",
		Long: `Show the running node's peer ID, the addresses other nodes can reach it on
(give one to another node's --peer) and what it has received, and what
needs your attention: a clock that disagrees with the peers' clocks, a
disk too full to write, damage found in the store.`,
		Args: cli.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			n, err := cl.Node(cmd.Context())
			if err != nil {
				return err
			}
			if n.Addrs == nil {
				n.Addrs = []string{}
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, n)
			}
			tw := cli.NewTable(a.Stdout)
			fmt.Fprintf(tw, "peer id\t%s\n", n.PeerID)
			fmt.Fprintf(tw, "version\t%s\n", n.Version)
			if n.Clock.Warning != "" {
				fmt.Fprintf(tw, "clock\tWARNING: %s\n", n.Clock.Warning)
			}
			if n.CatchingUp > 0 {
				fmt.Fprintf(tw, "restored\tcatching up: %d of your chains wait for a peer to bring back what you wrote before the backup was restored (for a group, any member; for your profile and moments, a contact); nothing is written to them until then\n", n.CatchingUp)
			}
			if n.Storage.Damage != "" {
				fmt.Fprintf(tw, "store\tDAMAGED: %s\n", n.Storage.Damage)
			}
			// Only what needs the user's attention: a full disk.
			if n.Storage.WritesRefused != "" {
				fmt.Fprintf(tw, "storage\tWRITES REFUSED: %s\n", n.Storage.WritesRefused)
			}
			// A copy of what is already here (gossip and sync both bring
			// most events) is no one's fault: it is not counted as refused.
			rejected, dup := uint64(0), n.Stats.Rejected[engine.ReasonDuplicate]
			for why, v := range n.Stats.Rejected {
				if why != engine.ReasonDuplicate {
					rejected += v
				}
			}
			fmt.Fprintf(tw, "received\t%d accepted, %d rejected", n.Stats.Accepted, rejected)
			if dup > 0 {
				fmt.Fprintf(tw, ", %d already here", dup)
			}
			fmt.Fprintln(tw)
			malformed := uint64(0)
			for _, v := range n.Stats.Sync.Malformed {
				malformed += v
			}
			if malformed > 0 || n.Stats.Sync.Refused > 0 {
				fmt.Fprintf(tw, "syncs ended\t%d broke the rules, %d turned away (busy)\n", malformed, n.Stats.Sync.Refused)
			}
			for _, ad := range n.Addrs {
				fmt.Fprintf(tw, "address\t%s\n", ad)
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (a *app) checkCmd() *cobra.Command {
	var asJSON, repairMarks bool
	c := &cobra.Command{
		Use:   "check",
		Short: "Read and check the whole store now",
		Long: `Read every table and every message of the running node's store, as the node
does by itself once a day. Damaged messages are removed, so that peers send
them again at the next sync; damage that cannot be repaired here is named.

A chain mark (the record of the newest message this node wrote in a group
or its wallet) that cannot be read stops the node writing there, since it
could reuse a number already sent. --repair-marks sets such marks again:
it first syncs with the chain's peers, then marks the newest message the
store holds. It refuses while no peer of the chain is connected; a message
that reached only peers now away could still be written over.`,
		Args: cli.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			ch, err := cl.Check(cmd.Context(), api.CheckRequest{RepairMarks: repairMarks})
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, ch)
			}
			if ch.Found == "" {
				fmt.Fprintf(a.Stdout, "the store is whole: %d events checked\n", ch.Events)
			} else {
				fmt.Fprintf(a.Stdout, "DAMAGED: %s\n", ch.Found)
			}
			for _, m := range ch.Marks {
				if m.Error != "" {
					fmt.Fprintf(a.Stdout, "chain mark of %s NOT set again: %s\n", m.Scope, m.Error)
				} else {
					fmt.Fprintf(a.Stdout, "chain mark of %s set again at message %d, after syncing with %d peers\n", m.Scope, m.Seq, m.Peers)
				}
			}
			for _, m := range ch.DamagedMarks {
				fmt.Fprintf(a.Stdout, "DAMAGED: %s\n", m)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().BoolVar(&repairMarks, "repair-marks", false, "set again the chain marks that cannot be read, after syncing with their peers")
	return c
}

func (a *app) peersCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "peers",
		Short: "List connected peers",
		Args:  cli.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			ps, err := cl.Peers(cmd.Context())
			if err != nil {
				return err
			}
			if ps == nil {
				ps = []api.Peer{}
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, ps)
			}
			if len(ps) == 0 {
				fmt.Fprintln(a.Stdout, "no peers connected")
				return nil
			}
			tw := cli.NewTable(a.Stdout)
			fmt.Fprintln(tw, "PEER\tNAME\tLATENCY\tADDRESS")
			for _, p := range ps {
				addr := "-"
				if len(p.Addrs) > 0 {
					addr = p.Addrs[0]
					if len(p.Addrs) > 1 {
						addr += fmt.Sprintf(" (+%d)", len(p.Addrs)-1)
					}
				}
				lat := p.Latency
				if lat == "" {
					lat = "-"
				}
				name := cli.Person(p.Person)
				if p.Relay {
					name += " (relay)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.PeerID, name, lat, addr)
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}
