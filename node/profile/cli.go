package profile

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/cli"
	"github.com/banyan-mesh/banyan/node/content"
)

// CLI is profiles' part of the command line.
var CLI = cli.Feature{
	Group: "chat",
	Commands: func(a *cli.App) []*cobra.Command {
		return []*cobra.Command{profileCmd(a)}
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

// watchLine renders a profile change of the event stream.
func watchLine(ev api.Event) (string, bool) {
	var in Info
	if ev.Type != StreamType || ev.Decode(&in) != nil {
		return "", false
	}
	return fmt.Sprintf("%s [profile] %s updated their profile", cli.FormatTime(in.Updated), cli.Person(in.Person)), true
}

func profileCmd(a *cli.App) *cobra.Command {
	c := &cobra.Command{
		Use:   "profile",
		Short: "Show and change profiles: name, bio, place and avatar",
		Long: `Your profile is what your contacts see of you: a name, a short bio, a
place (your village, your shop) and a small avatar. It goes to your
contacts only. Everyone is shown by the nickname you gave them, else by the
name of their profile, marked with ~ because they chose it themselves.`,
		Args: cli.SubcommandsOnly,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(profileShowCmd(a), profileSetCmd(a))
	return c
}

func profileShowCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "show [PERSON]",
		Short: "Show your profile, or a contact's (peer ID or nickname)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			var in *Info
			if len(args) == 1 {
				in, err = cl.Of(cmd.Context(), args[0])
			} else {
				in, err = cl.Mine(cmd.Context())
			}
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, in)
			}
			printInfo(a, in)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func printInfo(a *cli.App, in *Info) {
	fmt.Fprintf(a.Stdout, "person: %s\npeer:   %s\n", cli.Person(in.Person), in.PeerID)
	for _, f := range []struct{ k, v string }{{"name", in.Name}, {"bio", in.Bio}, {"place", in.Place}} {
		if f.v != "" {
			fmt.Fprintf(a.Stdout, "%-7s %s\n", f.k+":", cli.IndentLines(cli.Clean(f.v), 8))
		}
	}
	if in.Avatar != "" {
		fmt.Fprintln(a.Stdout, "avatar: yes")
	}
	if in.Public {
		fmt.Fprintln(a.Stdout, "people nearby see your name and avatar")
	}
	if in.Nearby {
		fmt.Fprintln(a.Stdout, "not a contact: this is what they show people nearby")
	}
	if in.Updated.IsZero() {
		fmt.Fprintln(a.Stdout, "no profile yet")
		return
	}
	fmt.Fprintf(a.Stdout, "updated: %s\n", cli.FormatTime(in.Updated))
}

func profileSetCmd(a *cli.App) *cobra.Command {
	var asJSON, noAvatar, nearby bool
	var name, bio, place, avatar string
	c := &cobra.Command{
		Use:   "set",
		Short: "Change your profile (only the fields given)",
		Example: `  banyan profile set --display-name "Asha" --place "Lower well"
  banyan profile set --avatar ~/photo.jpg
  banyan profile set --bio ""`,
		Args: cli.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in SetProfile
			fl := cmd.Flags()
			for _, f := range []struct {
				flag string
				v    *string
				dst  **string
			}{{"display-name", &name, &in.Name}, {"bio", &bio, &in.Bio}, {"place", &place, &in.Place}} {
				if fl.Changed(f.flag) {
					*f.dst = f.v
				}
			}
			in.RemoveAvatar = noAvatar
			if fl.Changed("show-nearby") {
				in.Public = &nearby
			}
			if avatar != "" {
				raw, err := os.ReadFile(avatar)
				if err != nil {
					return err
				}
				// Shrunk here so that any photo fits in a request; the
				// node checks it again.
				if in.Avatar, err = content.Picture(raw); err != nil {
					return fmt.Errorf("%s: %w", avatar, err)
				}
			}
			if in.Name == nil && in.Bio == nil && in.Place == nil && in.Avatar == nil && !in.RemoveAvatar && in.Public == nil {
				return cli.Usagef(cmd, "give at least one of --display-name, --bio, --place, --avatar, --no-avatar, --show-nearby")
			}
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			out, err := cl.Set(cmd.Context(), in)
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, out)
			}
			printInfo(a, out)
			return nil
		},
	}
	c.Flags().StringVar(&name, "display-name", "", "the name you go by (--name names the node when it starts)")
	c.Flags().StringVar(&bio, "bio", "", "a few words about you")
	c.Flags().StringVar(&place, "place", "", "where to find you: a village, a shop")
	c.Flags().StringVar(&avatar, "avatar", "", "a JPEG or PNG file, shrunk to at most 32 KiB")
	c.Flags().BoolVar(&noAvatar, "no-avatar", false, "remove your avatar")
	c.Flags().BoolVar(&nearby, "show-nearby", false, "show your name and avatar to people nearby who are not contacts (--show-nearby=false to stop)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}
