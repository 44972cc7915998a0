package moments

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/cli"
	"github.com/banyan-mesh/banyan/node/content"
)

// CLI is moments' part of the command line.
var CLI = cli.Feature{
	Group: "chat",
	Commands: func(a *cli.App) []*cobra.Command {
		return []*cobra.Command{momentsCmd(a)}
	},
	Watch: watchLine,
}

func dial(ctx context.Context, a *cli.App) (Client, error) {
	c, err := a.Client(ctx)
	if err != nil {
		return Client{}, err
	}
	return NewClient(c), nil
}

func short(id string) string { return id[:min(len(id), ShortID)] }

// watchLine renders moments, reactions and deletions of the event stream.
func watchLine(ev api.Event) (string, bool) {
	switch ev.Type {
	case StreamType:
		var m Info
		if ev.Decode(&m) != nil {
			return "", false
		}
		head := fmt.Sprintf("%s [moment %s] %s:", cli.FormatTime(m.Time), short(m.ID), cli.Person(m.By))
		return head + " " + cli.IndentLines(cli.Clean(momentText(&m)), len([]rune(head))+1), true
	case StreamTypeReaction:
		var r ReactionInfo
		if ev.Decode(&r) != nil {
			return "", false
		}
		line := fmt.Sprintf("%s [moment %s] %s: %s", cli.FormatTime(r.Time), short(r.Moment), cli.Person(r.By), r.Type)
		if r.Text != "" {
			line += " " + cli.CleanLine(r.Text)
		}
		return line, true
	case StreamTypeDeleted:
		var d DeletedInfo
		if ev.Decode(&d) != nil {
			return "", false
		}
		return fmt.Sprintf("[moment %s] %s deleted it", short(d.ID), cli.Person(d.By)), true
	}
	return "", false
}

func momentText(m *Info) string {
	t := m.Text
	if m.Image != "" {
		t = strings.TrimSpace(t + " [picture]")
	}
	return t
}

func momentsCmd(a *cli.App) *cobra.Command {
	c := &cobra.Command{
		Use:     "moments",
		Aliases: []string{"moment"},
		Short:   "Share moments with your contacts; see, like and comment on theirs",
		Long: `Moments are posts (a text, a picture, or both) that only your contacts see.
They are sealed with a key only your contacts have; when you remove or
block a contact, the key changes, so they cannot read what you post after
that (what they already received stays readable to them).

A MOMENT argument is a moment's ID, or the first 12 hex digits the feed
shows (at least 6).`,
		Args: cli.SubcommandsOnly,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(postCmd(a), feedCmd(a), likeCmd(a), commentCmd(a), deleteCmd(a))
	return c
}

func postCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	var image string
	c := &cobra.Command{
		Use:   "post [TEXT...]",
		Short: "Share a moment with your contacts (text from the arguments or stdin)",
		Example: `  banyan moments post The mangoes are ripe at the lower well
  banyan moments post --image harvest.jpg First basket of the year`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var in NewMoment
			if image != "" {
				raw, err := os.ReadFile(image)
				if err != nil {
					return err
				}
				// Shrunk here so that any photo fits in a request.
				if in.Image, err = content.Picture(raw); err != nil {
					return fmt.Errorf("%s: %w", image, err)
				}
			}
			if len(args) > 0 || image == "" {
				text, err := a.MessageText(args)
				if err != nil {
					return err
				}
				in.Text = text
			}
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			m, err := cl.Post(cmd.Context(), in)
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, m)
			}
			fmt.Fprintf(a.Stdout, "shared moment %s with your contacts\n", short(m.ID))
			return nil
		},
	}
	c.Flags().StringVar(&image, "image", "", "a JPEG or PNG file, shrunk to at most 32 KiB")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func feedCmd(a *cli.App) *cobra.Command {
	var asJSON, keepUnread bool
	var limit int
	var before string
	c := &cobra.Command{
		Use:   "feed",
		Short: "Show your contacts' moments and yours, newest first",
		Args:  cli.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			f, err := cl.Feed(cmd.Context(), limit, before)
			if err != nil {
				return err
			}
			if !keepUnread && before == "" && len(f.Moments) > 0 {
				if err := cl.MarkRead(cmd.Context(), f.Moments[0].Cursor); err != nil {
					return err
				}
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, f)
			}
			if len(f.Moments) == 0 {
				fmt.Fprintln(a.Stdout, "no moments yet: share one with 'banyan moments post TEXT'")
				return nil
			}
			for _, m := range f.Moments {
				printMoment(a, &m)
			}
			if f.Next != "" {
				fmt.Fprintf(a.Stdout, "older: banyan moments feed --before %s\n", f.Next)
			}
			return nil
		},
	}
	c.Flags().IntVar(&limit, "limit", 20, "moments per page")
	c.Flags().StringVar(&before, "before", "", "show the page before this cursor (from the end of a page)")
	c.Flags().BoolVar(&keepUnread, "keep-unread", false, "do not mark the moments shown as read")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func printMoment(a *cli.App, m *Info) {
	mark := " "
	if m.Unread {
		mark = "*"
	}
	head := fmt.Sprintf("%s %s %s  %s", mark, short(m.ID), cli.FormatTime(m.Time), cli.Person(m.By))
	fmt.Fprintln(a.Stdout, head)
	fmt.Fprintf(a.Stdout, "    %s\n", cli.IndentLines(cli.Clean(momentText(m)), 4))
	if m.Likes > 0 {
		var names []string
		for _, p := range m.LikedBy {
			names = append(names, cli.Person(p))
		}
		fmt.Fprintf(a.Stdout, "    ♥ %d: %s\n", m.Likes, strings.Join(names, ", "))
	}
	for _, c := range m.Comments {
		fmt.Fprintf(a.Stdout, "    %s: %s\n", cli.Person(c.By), cli.IndentLines(cli.Clean(c.Text), 6))
	}
}

func likeCmd(a *cli.App) *cobra.Command {
	var asJSON, undo bool
	c := &cobra.Command{
		Use:   "like MOMENT",
		Short: "Like a moment (--undo takes the like back)",
		Args:  cli.ExactArgs("MOMENT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			m, err := cl.Like(cmd.Context(), args[0], !undo)
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, m)
			}
			printMoment(a, m)
			return nil
		},
	}
	c.Flags().BoolVar(&undo, "undo", false, "take the like back")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func commentCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "comment MOMENT [TEXT...]",
		Short: "Comment on a moment (text from the arguments or stdin)",
		Args:  cli.MinArgs("MOMENT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			text, err := a.MessageText(args[1:])
			if err != nil {
				return err
			}
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			m, err := cl.Comment(cmd.Context(), args[0], text)
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, m)
			}
			printMoment(a, m)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func deleteCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	var yes *bool
	c := &cobra.Command{
		Use:   "delete MOMENT",
		Short: "Delete one of your moments: your contacts' nodes drop it too",
		Args:  cli.ExactArgs("MOMENT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.Confirm(cmd.Context(), *yes, "delete moment %s for everyone?", cli.CleanLine(args[0])); err != nil {
				return err
			}
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			if err := cl.Delete(cmd.Context(), args[0]); err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, map[string]string{"deleted": args[0]})
			}
			fmt.Fprintln(a.Stdout, "deleted; your contacts' nodes drop it as they hear of it")
			return nil
		},
	}
	yes = cli.YesFlag(c)
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}
