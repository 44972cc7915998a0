package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/groupchat"
)

// waitTimeout bounds every wait of the process tests.
const waitTimeout = 30 * time.Second

// nodeProc is a 'banyan run' process on its own data directory, with its
// stderr in a log file that survives restarts.
type nodeProc struct {
	proc
	name, home, logPath string
	args                []string
}

func startNode(t *testing.T, name, home string, peers ...string) *nodeProc {
	t.Helper()
	return startNodeEnv(t, name, home, nil, peers...)
}

// startNodeEnv is startNode with variables added to the process's
// environment.
func startNodeEnv(t *testing.T, name, home string, env []string, peers ...string) *nodeProc {
	t.Helper()
	p := &nodeProc{
		proc: proc{env: env},
		name: name, home: home,
		logPath: filepath.Join(filepath.Dir(home), name+".log"),
		args: []string{"run", "--home", home, "--no-mdns", "--api", "127.0.0.1:0", "--log-level", "debug",
			"--listen", "/ip4/127.0.0.1/tcp/0", "--listen", "/ip4/127.0.0.1/udp/0/quic-v1"},
	}
	for _, pa := range peers {
		p.args = append(p.args, "--peer", pa)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of %s's log (%s):\n%s", p.name, p.logPath, tail(p.logPath, 40))
		}
	})
	t.Cleanup(p.kill)
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// start starts the node process (again), appending to its log.
func (p *nodeProc) start() error {
	return p.launch(p.logPath, "=== test: starting banyan "+strings.Join(p.args, " "), banyanBin, p.args...)
}

// stop asks the process to shut down with SIGTERM and returns how it
// exited; after the timeout it kills it.
func (p *nodeProc) stop(timeout time.Duration) error {
	cmd, done := p.running()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		_, err := p.exited()
		return err
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("%s did not exit within %v of SIGTERM", p.name, timeout)
	}
}

// waitFor polls cond until it reports true or the deadline passes; cond
// returns a description of the state for the failure message.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last state: %s", waitTimeout, what, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cliJSON runs a command with --json on p's home and decodes its output.
func cliJSON(p *nodeProc, v any, args ...string) error {
	r := runCLI(append(args, "--json", "--home", p.home)...)
	if r.code != 0 {
		return fmt.Errorf("%s: %s", p.name, r)
	}
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		return fmt.Errorf("%s: decode %q: %w", p.name, r.stdout, err)
	}
	return nil
}

func mustJSON(t *testing.T, p *nodeProc, v any, args ...string) {
	t.Helper()
	if err := cliJSON(p, v, args...); err != nil {
		t.Fatal(err)
	}
}

// waitUp waits until the node answers 'banyan id' and returns what it says.
func waitUp(t *testing.T, p *nodeProc) *api.Node {
	t.Helper()
	var n api.Node
	waitFor(t, p.name+" to answer 'banyan id'", func() (bool, string) {
		if done, err := p.exited(); done {
			t.Fatalf("%s exited: %v", p.name, err)
		}
		err := cliJSON(p, &n, "id")
		return err == nil && len(n.Addrs) > 0, fmt.Sprint(err)
	})
	return &n
}

// history returns the IDs of a group's messages on p, oldest first, and
// the messages by ID.
func history(p *nodeProc, group string) ([]string, map[string]groupchat.MessageInfo, error) {
	var page groupchat.Page
	if err := cliJSON(p, &page, "history", group, "--limit", "1000"); err != nil {
		return nil, nil, err
	}
	ids := make([]string, len(page.Messages))
	byID := make(map[string]groupchat.MessageInfo, len(page.Messages))
	for i, m := range page.Messages {
		ids[i] = m.ID
		byID[m.ID] = m
	}
	return ids, byID, nil
}

// missing returns the IDs of want that have is not.
func missing(have map[string]groupchat.MessageInfo, want []string) []string {
	var out []string
	for _, id := range want {
		if _, ok := have[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}

// waitHave waits until p's history of group holds every message in want.
// The failure message shows how many peers the nodes in show see in the
// group's topic.
func waitHave(t *testing.T, p *nodeProc, group string, want []string, show ...*nodeProc) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s to have %d messages", p.name, len(want)), func() (bool, string) {
		_, byID, err := history(p, group)
		if err != nil {
			return false, err.Error()
		}
		m := missing(byID, want)
		state := fmt.Sprintf("%d of %d missing", len(m), len(want))
		for _, q := range show {
			n, err := groupPeers(q, group)
			state += fmt.Sprintf("; %s sees %d topic peers (%v)", q.name, n, err)
		}
		return len(m) == 0, state
	})
}

// waitSame waits until the nodes' histories of group are identical (same
// messages in the same order) and hold every message in want.
func waitSame(t *testing.T, group string, want []string, nodes ...*nodeProc) []string {
	t.Helper()
	var first []string
	waitFor(t, "identical histories", func() (bool, string) {
		var state []string
		same := true
		for i, p := range nodes {
			ids, byID, err := history(p, group)
			if err != nil {
				return false, err.Error()
			}
			m := missing(byID, want)
			state = append(state, fmt.Sprintf("%s: %d messages, %d of %d wanted missing", p.name, len(ids), len(m), len(want)))
			if len(m) > 0 {
				same = false
			}
			if i == 0 {
				first = ids
			} else if !slices.Equal(first, ids) {
				same = false
			}
		}
		return same, strings.Join(state, "; ")
	})
	return first
}

func hasPeers(p *nodeProc, want ...string) (bool, string) {
	var ps []api.Peer
	if err := cliJSON(p, &ps, "peers"); err != nil {
		return false, err.Error()
	}
	var got []string
	for _, x := range ps {
		got = append(got, x.PeerID)
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false, fmt.Sprintf("%s has peers %v", p.name, got)
		}
	}
	return true, ""
}

// groupPeers returns how many peers p sees in the group's topic.
func groupPeers(p *nodeProc, group string) (int, error) {
	var gs []groupchat.GroupInfo
	if err := cliJSON(p, &gs, "group", "list"); err != nil {
		return 0, err
	}
	for _, g := range gs {
		if g.ID == group {
			return g.Peers, nil
		}
	}
	return 0, fmt.Errorf("%s is not in group %s: %v", p.name, group, gs)
}

// waitGroupMesh waits until every node sees at least min peers in the group.
func waitGroupMesh(t *testing.T, what, group string, min map[*nodeProc]int) {
	t.Helper()
	waitFor(t, what, func() (bool, string) {
		var state []string
		ok := true
		for p, n := range min {
			got, err := groupPeers(p, group)
			if err != nil {
				return false, err.Error()
			}
			state = append(state, fmt.Sprintf("%s: %d (want %d)", p.name, got, n))
			ok = ok && got >= n
		}
		return ok, strings.Join(state, ", ")
	})
}

// send sends text to group from p and returns the message ID.
func send(p *nodeProc, group, text string) (string, error) {
	var m groupchat.MessageInfo
	if err := cliJSON(p, &m, "send", group, text); err != nil {
		return "", err
	}
	if m.ID == "" || m.Text != text {
		return "", fmt.Errorf("%s: send returned %+v", p.name, m)
	}
	return m.ID, nil
}

func mustSend(t *testing.T, p *nodeProc, group, text string) string {
	t.Helper()
	id, err := send(p, group, text)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// watcher runs 'banyan watch --json' and collects the events it prints.
type watcher struct {
	cmd  *exec.Cmd
	done chan struct{}

	mu     sync.Mutex
	events []api.Event
	bad    []string // lines that are not events
}

func startWatch(t *testing.T, p *nodeProc) *watcher {
	t.Helper()
	w := &watcher{done: make(chan struct{})}
	w.cmd = exec.Command(banyanBin, "watch", "--json", "--since", "0", "--home", p.home)
	w.cmd.Env = testEnv
	logPath := filepath.Join(filepath.Dir(p.home), "watch-"+p.name+".log")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	w.cmd.Stderr = log
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = w.cmd.Process.Kill()
		<-w.done
		if t.Failed() {
			t.Logf("watch on %s stderr:\n%s", p.name, tail(logPath, 20))
		}
	})
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var ev api.Event
			w.mu.Lock()
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				w.bad = append(w.bad, sc.Text())
			} else {
				w.events = append(w.events, ev)
			}
			w.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, out)
		_ = w.cmd.Wait()
	}()
	return w
}

// messages returns the IDs of the message events seen so far.
func (w *watcher) messages() map[string]bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := map[string]bool{}
	for _, ev := range w.events {
		var m groupchat.MessageInfo
		if ev.Type == groupchat.StreamType && ev.Decode(&m) == nil {
			ids[m.ID] = true
		}
	}
	return ids
}

// check reports events out of order, seen twice or unreadable.
func (w *watcher) check() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.bad) > 0 {
		return fmt.Errorf("watch printed lines that are not events: %q", w.bad)
	}
	seen := map[string]bool{}
	for i, ev := range w.events {
		if i > 0 && ev.Seq <= w.events[i-1].Seq {
			return fmt.Errorf("watch: event seq %d after %d", ev.Seq, w.events[i-1].Seq)
		}
		var m groupchat.MessageInfo
		if ev.Type == groupchat.StreamType && ev.Decode(&m) == nil {
			if seen[m.ID] {
				return fmt.Errorf("watch: message %s seen twice", m.ID)
			}
			seen[m.ID] = true
		}
	}
	return nil
}

// TestProcessChatAndCrash runs three nodes as processes on loopback, chats
// through the command line, kills one node in the middle of a burst and
// checks that nothing it acknowledged is lost and that it rejoins the chat.
func TestProcessChatAndCrash(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := startNode(t, "A", filepath.Join(dir, "a"))
	infoA := waitUp(t, a)
	b := startNode(t, "B", filepath.Join(dir, "b"), infoA.Addrs...)
	c := startNode(t, "C", filepath.Join(dir, "c"), infoA.Addrs...)
	infoB, infoC := waitUp(t, b), waitUp(t, c)
	waitFor(t, "A to connect to B and C", func() (bool, string) { return hasPeers(a, infoB.PeerID, infoC.PeerID) })
	waitFor(t, "B to connect to A", func() (bool, string) { return hasPeers(b, infoA.PeerID) })
	waitFor(t, "C to connect to A", func() (bool, string) { return hasPeers(c, infoA.PeerID) })

	// A creates a group; B and C join with an invite.
	var g groupchat.GroupInfo
	mustJSON(t, a, &g, "group", "create", "village square")
	var inv groupchat.InviteInfo
	mustJSON(t, a, &inv, "group", "invite", "village square")
	if !strings.HasPrefix(inv.Link, "banyan:") || inv.Code == "" {
		t.Fatalf("invite: %+v", inv)
	}
	for i, p := range []*nodeProc{b, c} {
		code := inv.Code
		if i == 1 {
			code = inv.Link // both forms work
		}
		var jg groupchat.GroupInfo
		mustJSON(t, p, &jg, "group", "join", code)
		if jg.ID != g.ID || jg.Name != g.Name {
			t.Fatalf("%s joined %+v, want %+v", p.name, jg, g)
		}
	}
	waitGroupMesh(t, "every node to see the others in the group's topic", g.ID, map[*nodeProc]int{a: 2, b: 1, c: 1})

	// Everybody talks.
	var want []string
	for i := range 3 {
		for _, p := range []*nodeProc{a, b, c} {
			want = append(want, mustSend(t, p, g.ID, fmt.Sprintf("round 1: %s says hello #%d", p.name, i)))
		}
	}
	// A message from stdin loses one trailing line break and nothing else.
	r := invocation{args: []string{"send", "village square", "--json", "--home", a.home}, stdin: "two\nlines\n"}.run()
	var sm groupchat.MessageInfo
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &sm) != nil || sm.Text != "two\nlines" {
		t.Fatalf("send from stdin: %+v\n%v", sm, r)
	}
	want = append(want, sm.ID)
	round1 := waitSame(t, g.ID, want, a, b, c)
	t.Logf("round 1: %d messages, identical on A, B and C", len(round1))

	// The plain history shows "time author text" lines, oldest first.
	if r := runCLI("history", g.ID, "--limit", "2", "--home", b.home); r.code != 0 ||
		!strings.Contains(r.stdout, "two\n") || !strings.Contains(r.stdout, "--before") {
		t.Errorf("history --limit 2:\n%v", r)
	}

	w := startWatch(t, c)

	// B sends a burst while C sends too; C is killed as soon as its last
	// send has returned.
	var (
		wg         sync.WaitGroup
		bIDs, cIDs []string
		bErr, cErr error
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 50 {
			id, err := send(b, g.ID, fmt.Sprintf("burst: B #%d", i))
			if err != nil {
				bErr = err
				return
			}
			bIDs = append(bIDs, id)
		}
	}()
	go func() {
		defer wg.Done()
		defer c.kill()
		for i := range 20 {
			id, err := send(c, g.ID, fmt.Sprintf("burst: C #%d", i))
			if err != nil {
				cErr = err
				return
			}
			cIDs = append(cIDs, id)
		}
	}()
	wg.Wait()
	if bErr != nil || cErr != nil {
		t.Fatalf("burst: B: %v; C: %v", bErr, cErr)
	}
	if done, err := c.exited(); !done || err == nil {
		t.Fatalf("C was not killed: exited %v, %v", done, err)
	}

	// C comes back on the same data directory with the same arguments.
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
	waitUp(t, c)
	_, cHave, err := history(c, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m := missing(cHave, cIDs); len(m) > 0 {
		t.Fatalf("C lost %d of the %d messages it acknowledged before it was killed: %v", len(m), len(cIDs), m)
	}
	// A and B were online: they have everything C acknowledged, and the
	// same history as each other.
	waitHave(t, a, g.ID, cIDs)
	waitHave(t, b, g.ID, cIDs)
	waitSame(t, g.ID, slices.Concat(round1, bIDs, cIDs), a, b)

	// C reconnects; what is said from now on reaches everybody.
	//
	// This is where a crash hurts: A does not notice at once that the old C
	// is gone (nothing tells it, on QUIC, until the idle timeout), so C's new
	// connection arrives while A still has the old one, and gossipsub on A
	// may keep or lose C's subscription. A seeing B and C in the topic is
	// what makes gossip between them work again.
	waitFor(t, "C to reconnect to A", func() (bool, string) { return hasPeers(c, infoA.PeerID) })
	waitGroupMesh(t, "the group's topic to include C again after its restart (A must see B and C)", g.ID,
		map[*nodeProc]int{a: 2, b: 1, c: 1})
	var after []string
	for _, p := range []*nodeProc{c, a, b} {
		after = append(after, mustSend(t, p, g.ID, fmt.Sprintf("after: %s is here", p.name)))
	}
	for _, p := range []*nodeProc{a, b, c} {
		waitHave(t, p, g.ID, after, a, b, c)
	}
	aIDs, _, err := history(a, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Catch-up sync brings C what was said while it was down.
	waitSame(t, g.ID, aIDs, a, b, c)
	t.Logf("C caught up completely: %d messages, identical to A and B", len(aIDs))

	// watch on C survived the restart: it resumed and saw what came after,
	// and never showed an event twice.
	waitFor(t, "watch on C to see the messages sent after the restart", func() (bool, string) {
		seen := w.messages()
		var miss int
		for _, id := range slices.Concat(cIDs, after) {
			if !seen[id] {
				miss++
			}
		}
		return miss == 0, fmt.Sprintf("%d of %d not seen", miss, len(cIDs)+len(after))
	})
	if err := w.check(); err != nil {
		t.Error(err)
	}

	// Memory of one node.
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", a.pid())); err == nil {
		var mem []string
		for _, l := range strings.Split(string(st), "\n") {
			if strings.HasPrefix(l, "VmHWM:") || strings.HasPrefix(l, "VmRSS:") {
				mem = append(mem, strings.Join(strings.Fields(l), " "))
			}
		}
		t.Logf("node A memory: %s", strings.Join(mem, ", "))
	}

	// Every node shuts down cleanly on SIGTERM.
	for _, p := range []*nodeProc{a, b, c} {
		if err := p.stop(15 * time.Second); err != nil {
			t.Errorf("%s: SIGTERM: %v", p.name, err)
		}
	}
}

// Text from the network cannot steer the terminal: control characters in
// a message (here, one that would wipe the line naming its author and
// write a false one) are printed as escapes, not obeyed.
func TestProcessEscapesNetworkText(t *testing.T) {
	t.Parallel()
	p := startNode(t, "A", filepath.Join(t.TempDir(), "a"))
	waitUp(t, p)
	if r := runCLI("group", "create", "market", "--home", p.home); r.code != 0 {
		t.Fatal(r)
	}
	evil := "\r\x1b[2K12:00 …Mayor0: the shop is closed\u202e"
	if r := runCLI("send", "market", evil, "--home", p.home); r.code != 0 {
		t.Fatal(r)
	}
	r := runCLI("history", "market", "--home", p.home)
	if r.code != 0 {
		t.Fatal(r)
	}
	if strings.ContainsAny(r.stdout, "\r\x1b\u202e") {
		t.Fatalf("history printed control characters raw: %q", r.stdout)
	}
	if !strings.Contains(r.stdout, `\r\x1b[2K12:00`) || !strings.Contains(r.stdout, `\u202e`) {
		t.Fatalf("history does not show the escapes: %q", r.stdout)
	}
}
