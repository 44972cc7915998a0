package relay

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/cli"
)

// Client is the relay's part of the API client.
type Client struct{ c *api.Client }

// NewClient returns the relay calls of c.
func NewClient(c *api.Client) Client { return Client{c} }

// Status returns what the relay keeps.
func (c Client) Status(ctx context.Context) (*Status, error) {
	var st Status
	return &st, c.c.Do(ctx, http.MethodGet, "/v1/relay", nil, &st)
}

// CLI is the relay's part of the command line: 'banyan relay' itself runs
// a relay (cmd/banyan gives it that), its subcommands ask a running one.
var CLI = cli.Feature{
	Group: "node",
	Commands: func(a *cli.App) []*cobra.Command {
		c := &cobra.Command{
			Use:   "relay",
			Short: "Run a relay, or see what a running relay keeps",
			Long: `Run a headless relay in the foreground: a node with no web UI that
keeps the history of the groups members register with it (without their
keys), every mailbox bucket and the wallet's unit, within its quotas.

'banyan relay' takes every option of 'banyan run'. See docs/RELAY.md.`,
		}
		c.AddCommand(statusCmd(a), exportCmd(a))
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

func statusCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "status",
		Short: "Show what the running relay keeps, per group, and its quotas",
		Args:  cli.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			st, err := cl.Status(cmd.Context())
			var se *api.StatusError
			if errors.As(err, &se) && se.Status == http.StatusNotFound {
				return errors.New("the node running here is not a relay: it was started with 'banyan run', and only 'banyan relay' keeps groups for others")
			}
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, st)
			}
			q := st.Quotas
			fmt.Fprintf(a.Stdout, "groups: %d of at most %d, holding %s of %s\n", len(st.Groups), q.MaxGroups, size(st.Bytes), size(q.Total))
			fmt.Fprintf(a.Stdout, "quotas: %s per group, %s per author in a group, kept for %s\n", size(q.Group), size(q.Author), cli.FormatDuration(q.Retention))
			fmt.Fprintf(a.Stdout, "store on disk: %s (LSM %s, value log %s)\n", size(st.Disk.LSM+st.Disk.VLog), size(st.Disk.LSM), size(st.Disk.VLog))
			if st.Counting {
				fmt.Fprintln(a.Stdout, "counting what the groups hold (just started): the figures below are too low")
			}
			if len(st.Groups) == 0 {
				fmt.Fprintln(a.Stdout, "no group registered yet (members run 'banyan group relay add GROUP RELAY')")
				return nil
			}
			tw := cli.NewTable(a.Stdout)
			fmt.Fprintln(tw, "SCOPE\tBY\tEVENTS\tSIZE\tAUTHORS\tHEAVIEST\tNEWEST")
			for _, g := range st.Groups {
				newest := "-"
				if g.Newest != nil {
					newest = cli.FormatTime(*g.Newest)
				}
				heaviest := "-"
				if g.HeaviestAuthor != "" {
					heaviest = fmt.Sprintf("%s (%s)", g.HeaviestAuthor[:12], size(g.HeaviestBytes))
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%s\t%s\n", g.Scope, g.Registrants, g.Events, size(g.Bytes), g.Authors, heaviest, newest)
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return c
}

func exportCmd(a *cli.App) *cobra.Command {
	return &cobra.Command{
		Use:   "export SCOPE",
		Short: "Write every envelope the relay keeps of a group to stdout",
		Long: `Write every envelope the running relay keeps of a group (its scope, as
'banyan relay status' shows it) to stdout, oldest first, each as
uvarint(length) || envelope: still sealed to the group, still signed by its
authors.`,
		Example: `  banyan relay export 3f9a...c2 > family.banyan-relay`,
		Args:    cli.ExactArgs("SCOPE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			scope, err := ParseScope(args[0])
			if err != nil {
				return cli.Usagef(cmd, "%v", err)
			}
			c, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			return c.Copy(cmd.Context(), "/v1/relay/groups/"+scope.String()+"/export", a.Stdout)
		},
	}
}

func size(n int64) string { return humanize.IBytes(uint64(max(n, 0))) }
