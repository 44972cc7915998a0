//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The README's walkthrough ("Two nodes on one machine") is run as written:
// every command of its code blocks, in order, in the terminal it belongs
// to (Alice's or Bob's), with '&' and 'kill %1' as a shell has them; what
// each block of output shows is what the commands print. Values that
// differ on every run (peer IDs, ports, codes, message IDs, times) are
// matched by their shape, and once seen they stand for the real values in
// the commands that follow, as a reader would paste them. A read-only
// command is asked again until its output is as shown (a reader who sees
// [stored] where the README says [held by 1] waits a second too). A block
// of commands without --home (the wallet's list) is checked for being
// commands the CLI understands.
func TestREADMEWalkthrough(t *testing.T) {
	t.Parallel()
	text, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(t, string(text), "### Two nodes on one machine", "### On a LAN")
	w := &walk{t: t, dir: t.TempDir(), bound: map[string]string{}, jobs: map[string][]*proc{}}
	t.Cleanup(w.stop)
	commands := 0
	for i := 0; i < len(blocks); i++ {
		b := blocks[i]
		if !b.commands {
			t.Fatalf("README line %d: output without the commands that print it:\n%s", b.line, strings.Join(b.lines, "\n"))
		}
		var outputs []readmeBlock
		for i+1 < len(blocks) && !blocks[i+1].commands {
			outputs = append(outputs, blocks[i+1])
			i++
		}
		commands += w.block(b, outputs)
	}
	if commands < 30 {
		t.Fatalf("ran only %d commands of the walkthrough", commands)
	}
	t.Logf("ran the README's %d commands; the example values stood for %d real ones", commands, len(w.bound))
}

// readmeBlock is a fenced code block: commands, or what they print.
type readmeBlock struct {
	line     int
	lines    []string
	commands bool
}

// readmeBlocks returns the code blocks of the README between two headings.
func readmeBlocks(t *testing.T, text, from, to string) []readmeBlock {
	t.Helper()
	lines := strings.Split(text, "\n")
	var out []readmeBlock
	in, inBlock := false, false
	var cur readmeBlock
	for n, l := range lines {
		switch {
		case strings.HasPrefix(l, from):
			in = true
		case strings.HasPrefix(l, to):
			in = false
		case !in:
		case strings.HasPrefix(l, "```") && !inBlock:
			inBlock, cur = true, readmeBlock{line: n + 1}
		case strings.HasPrefix(l, "```"):
			inBlock = false
			out = append(out, cur)
		case inBlock:
			cur.lines = append(cur.lines, l)
			if strings.HasPrefix(l, "./banyan ") || strings.HasPrefix(l, "kill ") || strings.HasPrefix(l, "# ") {
				cur.commands = true
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no code blocks between %q and %q in the README", from, to)
	}
	return out
}

// walk is the walkthrough's state: the terminals' background jobs, a
// running watch, and what the README's example values stand for.
type walk struct {
	t     *testing.T
	dir   string
	bound map[string]string
	jobs  map[string][]*proc
	watch *watchJob
	term  string
}

type watchJob struct {
	term string
	cmd  *exec.Cmd
	out  *syncBuffer
}

func (w *walk) stop() {
	if w.watch != nil {
		w.watch.cmd.Process.Kill()
		w.watch.cmd.Wait()
	}
	for _, js := range w.jobs {
		for _, j := range js {
			j.kill()
		}
	}
}

// readOnly commands may be asked again until they print what the README
// shows.
var readOnly = [][]string{{"id"}, {"peers"}, {"history"}, {"group", "list"}, {"contact", "list"}, {"dm", "history"}, {"wallet", "balance"}, {"wallet", "history"}}

func isReadOnly(args []string) bool {
	return slices.ContainsFunc(readOnly, func(ro []string) bool {
		return len(args) >= len(ro) && slices.Equal(args[:len(ro)], ro)
	})
}

// command is one command line of a block.
type command struct {
	line       string
	args       []string
	term       string
	background bool
	stderrTo   string
	stdoutTo   string
}

// parse turns a command line of the README into a command: the program's
// arguments (example values replaced by the real ones), its redirections
// and whether it runs in the background.
func (w *walk) parse(line string) command {
	c := command{line: line, term: w.term}
	if i := strings.Index(line, " #"); i >= 0 {
		line = line[:i]
	}
	line = w.substitute(strings.TrimSpace(line))
	if strings.HasSuffix(line, " &") {
		c.background, line = true, strings.TrimSuffix(line, " &")
	}
	f := strings.Fields(line)
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case "2>":
			c.stderrTo, i = f[i+1], i+1
		case ">":
			c.stdoutTo, i = f[i+1], i+1
		default:
			c.args = append(c.args, f[i])
		}
		if f[i] == "--home" && i+1 < len(f) {
			c.term = filepath.Base(f[i+1])
		}
	}
	return c
}

// substitute replaces the README's example values with the real ones, and
// /tmp with the test's directory; longer values first, so that a link is
// replaced whole before the code it holds.
func (w *walk) substitute(s string) string {
	keys := make([]string, 0, len(w.bound))
	for k := range w.bound {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	for _, k := range keys {
		s = strings.ReplaceAll(s, k, w.bound[k])
	}
	return strings.ReplaceAll(s, "/tmp/", w.dir+"/")
}

// block runs a block of commands and checks the blocks of output after
// it; it returns how many commands it ran.
func (w *walk) block(b readmeBlock, outputs []readmeBlock) int {
	t := w.t
	var cmds []command
	for i := 0; i < len(b.lines); i++ {
		l := b.lines[i]
		for strings.HasSuffix(l, "\\") && i+1 < len(b.lines) {
			i++
			l = strings.TrimSuffix(l, "\\") + " " + strings.TrimSpace(b.lines[i])
		}
		if name, ok := strings.CutPrefix(l, "# "); ok {
			if who, _, ok := strings.Cut(name, ":"); ok {
				w.term = strings.ToLower(who)
			}
			continue
		}
		if strings.TrimSpace(l) != "" {
			cmds = append(cmds, w.parse(l))
		}
	}
	if !slices.ContainsFunc(cmds, func(c command) bool { return slices.Contains(c.args, "--home") || c.args[0] == "kill" }) {
		w.reference(b, cmds)
		return len(cmds)
	}
	outs := make([]string, len(cmds))
	for i, c := range cmds {
		outs[i] = w.run(b, c)
	}
	if len(outputs) == 0 {
		return len(cmds)
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		missing := w.match(outputs, strings.Join(outs, ""))
		if missing == "" {
			return len(cmds)
		}
		if time.Now().After(deadline) {
			t.Fatalf("README line %d: the output of\n  %s\ndoes not show\n  %s\nit printed:\n%s", b.line,
				strings.Join(b.lines, "\n  "), missing, strings.Join(outs, ""))
		}
		time.Sleep(200 * time.Millisecond)
		for i, c := range cmds {
			if c.args[0] == "./banyan" && !c.background && isReadOnly(c.args[1:]) {
				outs[i] = w.run(b, c)
			}
		}
	}
}

// run runs one command of the walkthrough and returns what it printed.
func (w *walk) run(b readmeBlock, c command) string {
	t := w.t
	if w.watch != nil && w.watch.term == c.term {
		// The terminal's watch was stopped with Ctrl-C before this.
		w.watch.cmd.Process.Signal(syscall.SIGINT)
		w.watch.cmd.Wait()
		w.watch = nil
	}
	switch {
	case c.args[0] == "kill":
		if len(c.args) != 2 || !strings.HasPrefix(c.args[1], "%") {
			t.Fatalf("README line %d: kill %v", b.line, c.args)
		}
		var n int
		fmt.Sscanf(c.args[1], "%%%d", &n)
		jobs := w.jobs[c.term]
		if n < 1 || n > len(jobs) {
			t.Fatalf("README line %d: %s has no job %d", b.line, c.term, n)
		}
		j := jobs[n-1]
		cmd, done := j.running()
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(waitTimeout):
			t.Fatalf("README line %d: job %d of %s did not stop", b.line, n, c.term)
		}
		w.jobs[c.term] = slices.Delete(jobs, n-1, n)
		return ""
	case c.args[0] != "./banyan":
		t.Fatalf("README line %d: not a banyan command: %s", b.line, c.line)
	case c.background:
		p := &proc{}
		logPath := c.stderrTo
		if logPath == "" {
			logPath = filepath.Join(w.dir, c.term+".log")
		}
		if err := p.launch(logPath, "=== README: "+c.line, banyanBin, c.args[1:]...); err != nil {
			t.Fatal(err)
		}
		w.jobs[c.term] = append(w.jobs[c.term], p)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("%s's log (%s):\n%s", c.term, logPath, tail(logPath, 30))
			}
		})
		return ""
	case c.args[1] == "watch":
		cmd := exec.Command(banyanBin, c.args[1:]...)
		cmd.Env = testEnv
		out, errs := &syncBuffer{}, &syncBuffer{}
		cmd.Stdout, cmd.Stderr = out, errs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		w.watch = &watchJob{term: c.term, cmd: cmd, out: out}
		// A reader starts the next command once watch runs.
		waitFor(t, "watch to start", func() (bool, string) {
			return strings.Contains(errs.String(), "watching for events"), errs.String()
		})
		return ""
	}
	r := runCLI(c.args[1:]...)
	if r.code != 0 {
		t.Fatalf("README line %d: %s", b.line, r)
	}
	if c.stdoutTo != "" {
		return ""
	}
	return r.stdout
}

// reference checks a list of commands given without a data directory (the
// wallet's): each, run on Alice's node, is one the command line
// understands, whatever the node then says of it.
func (w *walk) reference(b readmeBlock, cmds []command) {
	for _, c := range cmds {
		r := runCLI(append(c.args[1:], "--home", filepath.Join(w.dir, "alice"))...)
		if r.code != 0 && r.code != 1 {
			w.t.Errorf("README line %d: %s", b.line, r)
		}
	}
}

// match checks that the output blocks' lines appear, in order, in out or
// in the running watch's output (waiting for it a while), binding the
// example values they show to the real ones. It returns the first line
// missing, or "".
func (w *walk) match(outputs []readmeBlock, out string) string {
	actual := strings.Split(out, "\n")
	for _, ob := range outputs {
		if missing := w.matchLines(ob.lines, actual); missing != "" {
			if w.watch == nil {
				return missing
			}
			deadline := time.Now().Add(waitTimeout)
			for w.matchLines(ob.lines, strings.Split(w.watch.out.String(), "\n")) != "" {
				if time.Now().After(deadline) {
					return missing + " (nor does watch, which printed: " + w.watch.out.String() + ")"
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	return ""
}

// example values and what they match: each is bound to the real value it
// matched. The order matters: a full address before the peer ID it holds.
var examples = []struct {
	re, match string
}{
	{`/ip[46]/[0-9.]+/(?:tcp|udp)/[0-9]+(?:/quic-v1)?/p2p/12D3KooW[1-9A-HJ-NP-Za-km-z]+`, `\S+/p2p/12D3KooW\S+`},
	{`/ip[46]/[0-9.]+/(?:tcp|udp)/[0-9]+(?:/quic-v1)?`, `/ip[46]/\S+`},
	{`12D3KooW[1-9A-HJ-NP-Za-km-z]{44}`, `12D3KooW\S{44}`},
	{`(?:banyan:)?[gc]1\.[A-Za-z0-9_-]*…`, `\S+`},
	{`…[1-9A-HJ-NP-Za-km-z]{8}`, `…\S{8}`},
	{`\b[0-9a-f]{64}\b`, `[0-9a-f]{64}`},
	{`\b[0-9a-f]{32}\b`, `[0-9a-f]{32}`},
}

var (
	exampleRes = func() []*regexp.Regexp {
		var out []*regexp.Regexp
		for _, e := range examples {
			out = append(out, regexp.MustCompile(e.re))
		}
		return out
	}()
	// A time is matched by its shape and not bound; columns of a table
	// are apart by two spaces or more; a table's "-" stands for any value.
	timeRe = regexp.MustCompile(`[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}`)
	gapRe  = regexp.MustCompile(` {2,}`)
)

// linePattern turns a README output line into a pattern for the real line,
// with a group for each example value, which it returns.
func linePattern(line string) (*regexp.Regexp, []string) {
	var parts, values []string
	for _, field := range gapRe.Split(line, -1) {
		if field == "-" {
			parts = append(parts, `\S+`)
			continue
		}
		p, vs := fieldPattern(field)
		parts, values = append(parts, p), append(values, vs...)
	}
	return regexp.MustCompile("^" + strings.Join(parts, " {2,}") + "$"), values
}

// fieldPattern is linePattern for text without column gaps.
func fieldPattern(field string) (string, []string) {
	type span struct{ start, end, kind int }
	var spans []span
	taken := make([]bool, len(field))
	claim := func(m []int, kind int) {
		if slices.Contains(taken[m[0]:m[1]], true) {
			return
		}
		for i := m[0]; i < m[1]; i++ {
			taken[i] = true
		}
		spans = append(spans, span{m[0], m[1], kind})
	}
	for _, m := range timeRe.FindAllStringIndex(field, -1) {
		claim(m, -1)
	}
	for k, re := range exampleRes {
		for _, m := range re.FindAllStringIndex(field, -1) {
			claim(m, k)
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	var pat strings.Builder
	var values []string
	pos := 0
	for _, sp := range spans {
		pat.WriteString(regexp.QuoteMeta(field[pos:sp.start]))
		if sp.kind < 0 {
			pat.WriteString(timeRe.String())
		} else {
			pat.WriteString("(" + examples[sp.kind].match + ")")
			values = append(values, field[sp.start:sp.end])
		}
		pos = sp.end
	}
	pat.WriteString(regexp.QuoteMeta(field[pos:]))
	return pat.String(), values
}

// matchLines checks that want appears in order in got, binding values.
func (w *walk) matchLines(want, got []string) string {
	at := 0
	bound := map[string]string{}
next:
	for _, l := range want {
		re, values := linePattern(strings.TrimRight(l, " "))
		for ; at < len(got); at++ {
			m := re.FindStringSubmatch(strings.TrimRight(got[at], " "))
			if m == nil {
				continue
			}
			for i, v := range values {
				bound[v] = m[i+1]
			}
			at++
			continue next
		}
		return l
	}
	for k, v := range bound {
		if _, ok := w.bound[k]; !ok {
			w.bound[k] = v
		}
	}
	return ""
}

// syncBuffer is a buffer a process writes while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
