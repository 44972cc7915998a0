// Package cli is the plumbing that every feature's commands share: the
// invocation's streams and data directory, the client of the running
// node, usage errors, and how things are printed. cmd/banyan builds the
// command line from the features' commands.
package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/content"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/node/people"
)

// App is the state shared by the commands of one invocation.
type App struct {
	Stdin  *os.File
	Stdout *os.File
	Stderr *os.File
	// HomeFlag is --home (or $BANYAN_HOME); empty means the default.
	HomeFlag string
}

// Feature is a feature's part of the command line.
type Feature struct {
	// Group is the help section its commands are listed under.
	Group string
	// Commands returns its commands.
	Commands func(a *App) []*cobra.Command
	// Watch renders one event of the stream as a line of text, if the
	// event is one of the feature's.
	Watch func(ev api.Event) (string, bool)
}

// Home returns the data directory: --home, $BANYAN_HOME or the default.
func (a *App) Home() (home.Home, error) {
	if a.HomeFlag != "" {
		return home.Home(a.HomeFlag), nil
	}
	d, err := home.DefaultHome()
	if err != nil {
		return "", err
	}
	return home.Home(d), nil
}

// StartWait bounds how long a command waits for a node that is starting
// (opening its store, building its host) to answer. startGrace is how
// long it looks for a node that may just have been started, as in
// 'banyan run & banyan id', before it says none runs.
const (
	StartWait  = 30 * time.Second
	startGrace = time.Second
)

// Client connects to the node running on the data directory. A node that
// is still starting is waited for, up to StartWait.
func (a *App) Client(ctx context.Context) (*api.Client, error) {
	h, err := a.Home()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, StartWait)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for said := false; ; {
		c, err := api.Dial(ctx, h.APIAddrFile(), h.APITokenFile())
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, api.ErrNoNode) {
			return nil, fmt.Errorf("connect to node on %s: %w", h, err)
		}
		st, serr := h.Status()
		if serr != nil {
			return nil, serr
		}
		switch {
		case !st.Running && time.Since(start) < startGrace:
		case notAnswering(h, st) != nil:
			return nil, notAnswering(h, st)
		case !said:
			fmt.Fprintf(a.Stderr, "banyan: the node on %s is starting; waiting for it\n", h)
			said = true
		}
		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return nil, fmt.Errorf("the node on %s did not start within %v; see its log", h, StartWait)
			}
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// notAnswering explains why a node whose API does not answer cannot be
// used, or returns nil for a node that is starting and worth waiting for.
func notAnswering(h home.Home, st home.Status) error {
	q := ShellQuote(string(h))
	switch {
	case !st.Running:
		return fmt.Errorf("no banyan node is running on %s; start one with 'banyan run --home %s'", h, q)
	case st.State == home.StatePassphrase:
		return fmt.Errorf("the node on %s is waiting for its passphrase: type it in the terminal where 'banyan run' runs (or give it --passphrase-file)", h)
	case st.State == home.StateNoAPI:
		return fmt.Errorf("the node on %s runs with its local API off (api = \"off\"), so commands cannot reach it; restart it without --api off", h)
	case st.State == home.StateStopping:
		return fmt.Errorf("the node on %s is shutting down; start it again with 'banyan run --home %s'", h, q)
	}
	return nil
}

// maxStdinText bounds a message read from stdin; the node checks the real
// limit.
const maxStdinText = 1 << 20

// MessageText joins words, or reads stdin if there are none or just "-".
func (a *App) MessageText(words []string) (string, error) {
	if len(words) > 0 && !(len(words) == 1 && words[0] == "-") {
		s := strings.Join(words, " ")
		return s, checkLength(s)
	}
	if term.IsTerminal(int(a.Stdin.Fd())) {
		fmt.Fprintln(a.Stderr, "type the message, then Ctrl-D on a new line:")
	}
	b, err := io.ReadAll(io.LimitReader(a.Stdin, maxStdinText+1))
	if err != nil {
		return "", fmt.Errorf("read message from stdin: %w", err)
	}
	if len(b) > maxStdinText {
		return "", fmt.Errorf("the message on stdin is longer than %s bytes; a message can be at most %s bytes (16 KiB): send it in parts", Thousands(maxStdinText), Thousands(content.MaxText))
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
	return s, checkLength(s)
}

// checkLength says in words that a message is too long, before it is sent.
func checkLength(s string) error {
	if len(s) > content.MaxText {
		return fmt.Errorf("the message is %s bytes long; a message can be at most %s bytes (16 KiB): send it in parts", Thousands(uint64(len(s))), Thousands(content.MaxText))
	}
	return nil
}

// YesFlag adds --yes to a command that deletes something, and returns
// where its value goes.
func YesFlag(c *cobra.Command) *bool {
	return c.Flags().BoolP("yes", "y", false, "do not ask for confirmation")
}

// ErrNotConfirmed is the answer no to Confirm's question.
var ErrNotConfirmed = errors.New("not confirmed: nothing was changed")

// Confirm asks a yes-or-no question before something is deleted, when
// there is a person at a terminal to answer and yes (--yes) was not given.
// It returns ErrNotConfirmed unless the answer is yes; Ctrl-C (which
// cancels ctx) ends the question too.
func (a *App) Confirm(ctx context.Context, yes bool, format string, args ...any) error {
	if yes || !term.IsTerminal(int(a.Stdin.Fd())) {
		return nil
	}
	fmt.Fprintf(a.Stderr, format+" [y/N] ", args...)
	answer := make(chan string, 1)
	// The read cannot be cancelled: on Ctrl-C it is left behind, and the
	// process exits.
	go func() {
		line, _ := bufio.NewReader(a.Stdin).ReadString('\n')
		answer <- strings.ToLower(strings.TrimSpace(line))
	}()
	select {
	case s := <-answer:
		if s == "y" || s == "yes" {
			return nil
		}
		return ErrNotConfirmed
	case <-ctx.Done():
		fmt.Fprintln(a.Stderr)
		return ctx.Err()
	}
}

// UsageError is a mistake in how the command line was written: exit code 2
// and a pointer to the help.
type UsageError struct {
	Cmd *cobra.Command
	Err error
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError of cmd.
func Usagef(cmd *cobra.Command, format string, args ...any) error {
	return &UsageError{Cmd: cmd, Err: fmt.Errorf(format, args...)}
}

// SubcommandsOnly is the Args of a command that only groups others: an
// argument is an unknown subcommand.
func SubcommandsOnly(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	return Usagef(cmd, "%s", msg)
}

// ExactArgs accepts exactly the named arguments.
func ExactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return Usagef(cmd, "missing %s argument", names[len(args)])
		case len(args) > len(names):
			extra := args[len(names):]
			return Usagef(cmd, "too many arguments: %q (quote an argument that contains spaces)", strings.Join(extra, " "))
		}
		return nil
	}
}

// MinArgs accepts at least the named arguments.
func MinArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < len(names) {
			return Usagef(cmd, "missing %s argument", names[len(args)])
		}
		return nil
	}
}

// WriteJSON prints v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// NewTable returns a writer that aligns tab-separated columns.
func NewTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// ShortID shortens a peer ID for display (people.Short).
func ShortID(id string) string { return people.Short(id) }

// Person shows a person on one line of a terminal: their label
// (people.Person), escaped.
func Person(p people.Person) string { return CleanLine(p.Label) }

const timeLayout = "2006-01-02 15:04:05"

// FormatTime shows a time in the local zone.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return strings.Repeat("-", len(timeLayout))
	}
	return t.Local().Format(timeLayout)
}

// FormatDuration says a duration as a person would: "90 days", "36 hours",
// else as Go writes it ("1h30m0s"). A text that is no duration is shown
// as it is.
func FormatDuration(s string) string {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return s
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	}
	return d.String()
}

func plural(n int64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.FormatInt(n, 10) + " " + unit + "s"
}

// IndentLines makes a text from the network safe to print (Clean) and
// indents every line but the first by n spaces, so that a multi-line
// message stays under its first line.
func IndentLines(s string, n int) string {
	s = strings.TrimRight(Clean(s), "\n")
	if !strings.Contains(s, "\n") {
		return s
	}
	return strings.ReplaceAll(s, "\n", "\n"+strings.Repeat(" ", n))
}

// Thousands formats n with thousands separators: 10,000.
func Thousands(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// ShellQuote quotes s for a POSIX shell if it needs it. It uses double
// quotes, because the result is often shown inside single quotes.
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:@%=,~_", r))
	}) < 0 {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`, "`", "\\`")
	return `"` + r.Replace(s) + `"`
}

// Clean makes text from the network safe to print on a terminal: every
// control character but the line break and the tab, and every character
// that reorders text on screen (bidirectional controls), is shown as an
// escape (\x1b, \u202e) instead of being obeyed, so that a message can
// neither move the cursor to overwrite its author's name nor hide what it
// says.
func Clean(s string) string { return clean(s, "\n\t") }

// CleanLine is Clean for text that must stay on one line (a name, a memo
// in a table): line breaks and tabs are escaped too.
func CleanLine(s string) string { return clean(s, "") }

func clean(s, keep string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return unsafeRune(r) && !strings.ContainsRune(keep, r) }) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case unsafeRune(r) && !strings.ContainsRune(keep, r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029'
}
