package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/banyan-mesh/banyan/node/api"
)

// maxStdinText bounds a message read from stdin; the node checks the real
// limit.
const maxStdinText = 1 << 20

func (a *app) sendCmd() *cobra.Command {
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
				return usagef(cmd, "missing GROUP argument (a group ID or name)")
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
			m, err := cl.Send(cmd.Context(), args[0], text)
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
	c.Flags().BoolVar(&asJSON, "json", false, "print the sent message as JSON")
	return c
}

// messageText joins words, or reads stdin if there are none or just "-".
func (a *app) messageText(words []string) (string, error) {
	if len(words) > 0 && !(len(words) == 1 && words[0] == "-") {
		return strings.Join(words, " "), nil
	}
	if term.IsTerminal(int(a.stdin.Fd())) {
		fmt.Fprintln(a.stderr, "type the message, then Ctrl-D on a new line:")
	}
	b, err := io.ReadAll(io.LimitReader(a.stdin, maxStdinText+1))
	if err != nil {
		return "", fmt.Errorf("read message from stdin: %w", err)
	}
	if len(b) > maxStdinText {
		return "", fmt.Errorf("message on stdin is longer than %d bytes", maxStdinText)
	}
	s := string(b)
	if strings.HasSuffix(s, "\r\n") {
		s = s[:len(s)-2]
	} else {
		s = strings.TrimSuffix(s, "\n")
	}
	if s == "" {
		return "", errors.New("nothing to send: the message is empty")
	}
	return s, nil
}

func (a *app) historyCmd() *cobra.Command {
	var (
		asJSON bool
		limit  int
		before string
	)
	c := &cobra.Command{
		Use:   "history GROUP",
		Short: "Show a group's messages",
		Long: `Show a page of a group's messages, oldest first: time, author (the end of
its peer ID) and text. Your own messages end with [stored] (only on this
node so far) or [held by N] (N peers are known to hold them). If there are
older messages, the last line tells the --before cursor that shows the
page before.`,
		Example: `  banyan history family
  banyan history family --limit 200 --json`,
		Args: exactArgs("GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 {
				return usagef(cmd, "--limit must be at least 1, got %d", limit)
			}
			cl, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			p, err := cl.History(cmd.Context(), args[0], limit, before)
			if err != nil {
				return err
			}
			if asJSON {
				if p.Messages == nil {
					p.Messages = []api.Message{}
				}
				return writeJSON(a.stdout, p)
			}
			if len(p.Messages) == 0 {
				fmt.Fprintln(a.stdout, "no messages")
			}
			for _, m := range p.Messages {
				t, who := formatTime(m.Time), shortID(m.Author)
				fmt.Fprintf(a.stdout, "%s %s %s%s\n", t, who, indentLines(m.Text, len(t)+1+len([]rune(who))+1), deliveryMark(m))
			}
			if p.Next != "" {
				fmt.Fprintf(a.stdout, "(older messages: banyan history %s --before %s)\n", shellQuote(args[0]), p.Next)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the page as JSON: {\"messages\": [...], \"next\": CURSOR}")
	c.Flags().IntVarP(&limit, "limit", "n", 50, "show at most this many messages")
	c.Flags().StringVar(&before, "before", "", "show the messages before this cursor (from the end of a previous page)")
	return c
}

// deliveryMark shows how far one's own message has got: only stored here,
// or held by N peers.
func deliveryMark(m api.Message) string {
	switch m.Status {
	case "stored":
		return "  [stored]"
	case "held":
		return fmt.Sprintf("  [held by %d]", m.HeldBy)
	}
	return ""
}
