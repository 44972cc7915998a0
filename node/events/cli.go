package events

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/cli"
)

// CLI is the events' part of the command line.
var CLI = cli.Feature{
	Group:    "chat",
	Commands: func(a *cli.App) []*cobra.Command { return []*cobra.Command{eventCmd(a)} },
	Watch:    watchLine,
}

func dial(ctx context.Context, a *cli.App) (Client, error) {
	c, err := a.Client(ctx)
	if err != nil {
		return Client{}, err
	}
	return NewClient(c), nil
}

// watchLine renders posts, answers and reminders of the event stream.
func watchLine(ev api.Event) (string, bool) {
	switch ev.Type {
	case StreamPost, StreamReminder:
		var e EventInfo
		if ev.Decode(&e) != nil {
			return "", false
		}
		what := "new event"
		switch {
		case ev.Type == StreamReminder:
			what = "reminder: starts soon"
		case e.Cancelled:
			what = "cancelled"
		}
		return fmt.Sprintf("[%s] %s: %s", cli.CleanLine(e.GroupName), what, line(e)), true
	case StreamRSVP:
		var r RSVPEvent
		if ev.Decode(&r) != nil {
			return "", false
		}
		return fmt.Sprintf("%s [%s] %s is %s: %s", cli.FormatTime(r.Time), cli.CleanLine(r.GroupName), cli.Person(r.By), r.Answer, cli.CleanLine(r.Title)), true
	}
	return "", false
}

// line is an event on one line: when, what, where, who goes.
func line(e EventInfo) string {
	s := fmt.Sprintf("%s %s", cli.FormatTime(e.Start), cli.CleanLine(e.Title))
	if e.Place != "" {
		s += " @ " + cli.CleanLine(e.Place)
	}
	return s + fmt.Sprintf(" (%d going, %d maybe)", len(e.Going), len(e.Maybe))
}

func eventCmd(a *cli.App) *cobra.Command {
	c := &cobra.Command{
		Use:     "event",
		Aliases: []string{"events"},
		Short:   "Events in a group, answers, and your schedule",
		Long: `Events in a group: a title, a time, a place and a description, which
members answer (going, maybe, not-going). 'banyan event list' is your
schedule: the upcoming events of every group, with a reminder on the event
stream ('banyan watch') an hour before each one you have not declined.`,
		Args: cli.SubcommandsOnly,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(createCmd(a), rsvpCmd(a), cancelCmd(a), listCmd(a))
	return c
}

// parseTime reads "2006-01-02 15:04" in local time, or RFC 3339.
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: write it as 2026-12-24 18:00", s)
}

func createCmd(a *cli.App) *cobra.Command {
	var (
		asJSON       bool
		at           string
		place, about string
	)
	c := &cobra.Command{
		Use:     "create GROUP TITLE...",
		Short:   "Post an event in a group",
		Example: `  banyan event create family --at "2026-12-24 18:00" --place "grandma's house" dinner`,
		Args:    cli.MinArgs("GROUP", "TITLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if at == "" {
				return cli.Usagef(cmd, "say when with --at \"2026-12-24 18:00\"")
			}
			start, err := parseTime(at)
			if err != nil {
				return cli.Usagef(cmd, "%v", err)
			}
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			e, err := cl.Create(cmd.Context(), args[0], CreateEvent{Title: strings.Join(args[1:], " "), Start: start, Place: place, Description: about})
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, e)
			}
			fmt.Fprintf(a.Stdout, "posted %s (id %s)\n", line(*e), e.ID[:12])
			return nil
		},
	}
	c.Flags().StringVar(&at, "at", "", "when it starts: 2026-12-24 18:00 (local time) or RFC 3339")
	c.Flags().StringVar(&place, "place", "", "where")
	c.Flags().StringVar(&about, "about", "", "a description")
	c.Flags().BoolVar(&asJSON, "json", false, "print the event as JSON")
	return c
}

func rsvpCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:     "rsvp EVENT going|maybe|not-going",
		Short:   "Answer an event",
		Example: `  banyan event rsvp 3f9a8c going`,
		Args:    cli.ExactArgs("EVENT", "ANSWER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := ParseAnswer(args[1]); err != nil {
				return cli.Usagef(cmd, "%v", err)
			}
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			e, err := cl.RSVP(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, e)
			}
			fmt.Fprintf(a.Stdout, "you are %s: %s\n", e.You, line(*e))
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the event as JSON")
	return c
}

func cancelCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:     "cancel EVENT",
		Short:   "Call off an event you posted",
		Example: `  banyan event cancel 3f9a8c`,
		Args:    cli.ExactArgs("EVENT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			e, err := cl.Cancel(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, e)
			}
			fmt.Fprintf(a.Stdout, "cancelled %s; everyone in %s is told\n", line(*e), cli.CleanLine(e.GroupName))
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the event as JSON")
	return c
}

func listCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list [GROUP]",
		Short: "Your schedule of upcoming events, or a group's events",
		Example: `  banyan event list
  banyan event list family --json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			var es []EventInfo
			if len(args) == 1 {
				es, err = cl.Events(cmd.Context(), args[0])
			} else {
				es, err = cl.Schedule(cmd.Context())
			}
			if err != nil {
				return err
			}
			if asJSON {
				if es == nil {
					es = []EventInfo{}
				}
				return cli.WriteJSON(a.Stdout, es)
			}
			if len(es) == 0 {
				fmt.Fprintln(a.Stdout, "no upcoming events")
			}
			for _, e := range es {
				mark := "  "
				switch {
				case e.Cancelled:
					mark = "x "
				case e.Soon:
					mark = "! "
				}
				you := ""
				if e.You != "" {
					you = " [you: " + e.You + "]"
				}
				fmt.Fprintf(a.Stdout, "%s%s  %s [%s]%s\n", mark, e.ID[:8], line(e), cli.CleanLine(e.GroupName), you)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the events as JSON")
	return c
}
