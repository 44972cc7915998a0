package events

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/crypto/event"
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
		return fmt.Sprintf("[%s] %s: %s", label(e.Contacts, e.GroupName), what, line(e)), true
	case StreamRSVP:
		var r RSVPEvent
		if ev.Decode(&r) != nil {
			return "", false
		}
		return fmt.Sprintf("%s [%s] %s is %s: %s", cli.FormatTime(r.Time), label(r.Contacts, r.GroupName), cli.Person(r.By), r.Answer, cli.CleanLine(r.Title)), true
	}
	return "", false
}

// label names where an event is: its group, or contacts.
func label(contacts bool, group string) string {
	if contacts {
		return "contacts"
	}
	return cli.CleanLine(group)
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
		Short:   "Events in a group or to your contacts, answers, and your schedule",
		Long: `Events in a group or to your contacts: a title, a time, a place and a
description, which members or contacts answer (going, maybe, not-going), and
which whoever posted them can edit or cancel. 'banyan event list' is your
schedule: the upcoming events of every group and of your contacts, with a
reminder on the event stream ('banyan watch') an hour before each one you
have not declined.`,
		Args: cli.SubcommandsOnly,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(createCmd(a), editCmd(a), rsvpCmd(a), cancelCmd(a), listCmd(a))
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
		asJSON, contacts bool
		at               string
		place, about     string
	)
	c := &cobra.Command{
		Use:   "create GROUP TITLE... | --contacts TITLE...",
		Short: "Post an event in a group, or to your contacts",
		Example: `  banyan event create family --at "2026-12-24 18:00" --place "grandma's house" dinner
  banyan event create --contacts --at "2026-12-31 20:00" new year at the shop`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !contacts && len(args) < 2 {
				return cli.Usagef(cmd, "name a GROUP and a TITLE, or give --contacts and a TITLE")
			}
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
			var e *EventInfo
			if contacts {
				e, err = cl.CreateForContacts(cmd.Context(), CreateEvent{Title: strings.Join(args, " "), Start: start, Place: place, Description: about})
			} else {
				e, err = cl.Create(cmd.Context(), args[0], CreateEvent{Title: strings.Join(args[1:], " "), Start: start, Place: place, Description: about})
			}
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
	c.Flags().BoolVar(&contacts, "contacts", false, "post to your contacts rather than in a group")
	c.Flags().BoolVar(&asJSON, "json", false, "print the event as JSON")
	return c
}

func editCmd(a *cli.App) *cobra.Command {
	var (
		asJSON           bool
		title, at        string
		place, about     string
		noPlace, noAbout bool
	)
	c := &cobra.Command{
		Use:     "edit EVENT",
		Short:   "Change an event you posted: what you give replaces what it said",
		Example: `  banyan event edit 3f9a8c --at "2026-12-24 19:00" --place "the school"`,
		Args:    cli.ExactArgs("EVENT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			es, err := cl.Schedule(cmd.Context())
			if err != nil {
				return err
			}
			cur, ok := findInfo(es, args[0])
			if !ok {
				return fmt.Errorf("no upcoming event %q (see 'banyan event list')", args[0])
			}
			in := CreateEvent{Title: cur.Title, Start: cur.Start, Place: cur.Place, Description: cur.Description}
			if title != "" {
				in.Title = title
			}
			if at != "" {
				if in.Start, err = parseTime(at); err != nil {
					return cli.Usagef(cmd, "%v", err)
				}
			}
			if place != "" || noPlace {
				in.Place = place
			}
			if about != "" || noAbout {
				in.Description = about
			}
			e, err := cl.Edit(cmd.Context(), cur.ID, in)
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, e)
			}
			fmt.Fprintf(a.Stdout, "changed %s; the new version goes to %s\n", line(*e), where(*e))
			return nil
		},
	}
	c.Flags().StringVar(&title, "title", "", "a new title")
	c.Flags().StringVar(&at, "at", "", "a new start: 2026-12-24 18:00 (local time) or RFC 3339")
	c.Flags().StringVar(&place, "place", "", "a new place")
	c.Flags().BoolVar(&noPlace, "no-place", false, "remove the place")
	c.Flags().StringVar(&about, "about", "", "a new description")
	c.Flags().BoolVar(&noAbout, "no-about", false, "remove the description")
	c.Flags().BoolVar(&asJSON, "json", false, "print the event as JSON")
	return c
}

// findInfo finds an event by ID or unique prefix among es.
func findInfo(es []EventInfo, ref string) (EventInfo, bool) {
	var found []EventInfo
	for _, e := range es {
		if e.ID == ref || (len(ref) >= event.MinPrefix && strings.HasPrefix(e.ID, ref)) {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		return EventInfo{}, false
	}
	return found[0], true
}

// where says who sees an event: a group's members or the author's contacts.
func where(e EventInfo) string {
	if e.Contacts {
		if e.Mine {
			return "your contacts"
		}
		return cli.Person(e.By) + "'s contacts"
	}
	return "everyone in " + cli.CleanLine(e.GroupName)
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
			fmt.Fprintf(a.Stdout, "cancelled %s; word goes to %s\n", line(*e), where(*e))
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
				fmt.Fprintf(a.Stdout, "%s%s  %s [%s]%s\n", mark, e.ID[:8], line(e), label(e.Contacts, e.GroupName), you)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the events as JSON")
	return c
}
