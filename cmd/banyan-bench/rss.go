package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/home"
)

// rssTargetMB is the memory budget of one node process.
const rssTargetMB = 80

// rssOptions are the flags of 'banyan-bench rss'.
type rssOptions struct {
	nodes    int
	binary   string
	duration time.Duration
	rate     float64
	size     int
	setup    time.Duration
	drain    time.Duration
	seed     uint64
	progress func(format string, args ...any)
}

func newRSSCmd(rf *rootFlags) *cobra.Command {
	o := &rssOptions{}
	c := &cobra.Command{
		Use:   "rss",
		Short: "Memory of real 'banyan run' processes during a chat",
		Long: `Start N 'banyan run' processes on 127.0.0.1, each with its own data
directory, connected in a ring with --peer; create a group on the first and
join it on the others with the banyan CLI; then chat for --duration at --rate
messages per second in total, through each node's local API. Finally read
VmHWM (peak resident memory) and VmRSS from /proc/PID/status of every
process, and the RSS split into the node's own memory (RssAnon) and pages
of mapped files (RssFile: the program's code, shared by all the processes,
and Badger's files), and print them as JSON. The budget is 80 MB per
process.

Without --binary the banyan command is built first (go build ./cmd/banyan,
run from inside the module).`,
		Example: `  banyan-bench rss
  go build -o /tmp/banyan ./cmd/banyan && banyan-bench rss --binary /tmp/banyan --nodes 10 --duration 30s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.nodes < 2 || o.rate <= 0 || o.duration <= 0 || o.size < 1 || o.size > maxTextSize {
				return fmt.Errorf("need --nodes >= 2, positive --rate and --duration, --size between 1 and %d", maxTextSize)
			}
			_, o.progress = scenarioOutput(cmd, rf)
			r, err := runRSS(cmd.Context(), o)
			if err != nil {
				return err
			}
			return writeJSON(cmd.OutOrStdout(), r)
		},
	}
	f := c.Flags()
	f.IntVar(&o.nodes, "nodes", 10, "number of banyan processes")
	f.StringVar(&o.binary, "binary", "", "path of the banyan binary (default: build ./cmd/banyan into a temporary directory)")
	f.DurationVar(&o.duration, "duration", 20*time.Second, "how long to chat")
	f.Float64Var(&o.rate, "rate", 50, "messages per second, in total over all nodes")
	f.IntVar(&o.size, "size", 256, "message text size in bytes")
	f.DurationVar(&o.setup, "setup-timeout", 60*time.Second, "how long starting the processes and joining the group may take")
	f.DurationVar(&o.drain, "drain", 20*time.Second, "how long to wait after the chat for every node to have every message")
	f.Uint64Var(&o.seed, "seed", 1, "seed for message contents")
	return c
}

// RSSReport is the result of 'banyan-bench rss'.
type RSSReport struct {
	Nodes      int     `json:"nodes"`
	Rate       float64 `json:"rate"`
	Size       int     `json:"size"`
	DurationS  float64 `json:"duration_s"`
	Sent       int     `json:"sent"`
	SendErrors int     `json:"send_errors"`
	// AllDelivered says whether every node had every message before the
	// memory was read.
	AllDelivered bool `json:"all_delivered"`
	RSSMB        struct {
		MaxHWM  float64 `json:"max_hwm"`
		MeanHWM float64 `json:"mean_hwm"`
		MaxRSS  float64 `json:"max_rss"`
		MeanRSS float64 `json:"mean_rss"`
		// The current RSS split into the node's own memory and mapped
		// files (RssAnon, RssFile).
		MaxAnon  float64 `json:"max_anon"`
		MeanAnon float64 `json:"mean_anon"`
		MeanFile float64 `json:"mean_file"`
	} `json:"rss_mb"`
	// CPUS is all nodes' CPU time from the chat's start until their memory
	// was read.
	CPUS         float64       `json:"cpu_s"`
	TargetMB     float64       `json:"target_mb"`
	WithinTarget bool          `json:"within_target"`
	PerNode      []rssNodeStat `json:"per_node"`
	Binary       string        `json:"binary"`
	GoVersion    string        `json:"go_version"`
	Cores        int           `json:"cores"`
}

type rssNodeStat struct {
	Node   int     `json:"node"`
	PID    int     `json:"pid"`
	HWMMB  float64 `json:"hwm_mb"`
	RSSMB  float64 `json:"rss_mb"`
	AnonMB float64 `json:"anon_mb"`
	FileMB float64 `json:"file_mb"`
	// CPUS is the node's CPU time from the chat's start until its memory
	// was read.
	CPUS     float64 `json:"cpu_s"`
	Messages int     `json:"messages"`
}

// proc is one running 'banyan run'.
type proc struct {
	home   home.Home
	cmd    *exec.Cmd
	logf   *os.File
	exited chan struct{}
	addr   string // full multiaddr with /p2p/
	client *api.Client
}

func runRSS(ctx context.Context, o *rssOptions) (_ *RSSReport, err error) {
	tmp, err := os.MkdirTemp("", "banyan-bench-rss-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin := o.binary
	if bin == "" {
		bin = filepath.Join(tmp, "banyan")
		o.progress("building ./cmd/banyan")
		b := exec.CommandContext(ctx, goCommand(), "build", "-o", bin, "github.com/banyan-mesh/banyan/cmd/banyan")
		if out, err := b.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build banyan (run from inside the module, or give --binary): %w\n%s", err, out)
		}
	} else if bin, err = filepath.Abs(bin); err != nil {
		return nil, err
	}

	setupCtx, cancelSetup := context.WithTimeout(ctx, o.setup)
	defer cancelSetup()
	var procs []*proc
	defer func() {
		if serr := stopProcs(procs); serr != nil && err == nil {
			err = serr
		}
	}()
	// Start the nodes one after the other, each with the previous one as
	// static peer; the last one also peers with the first, closing the
	// ring.
	for i := range o.nodes {
		home := home.Home(filepath.Join(tmp, fmt.Sprintf("node-%d", i)))
		if _, err := runCLI(setupCtx, bin, "init", "--home", string(home)); err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		args := []string{"run", "--home", string(home), "--listen", "/ip4/127.0.0.1/tcp/0", "--api", "127.0.0.1:0", "--no-mdns", "--log-level", "warn"}
		if i > 0 {
			args = append(args, "--peer", procs[i-1].addr)
		}
		if i == o.nodes-1 && o.nodes > 2 {
			args = append(args, "--peer", procs[0].addr)
		}
		p, err := startProc(bin, home, args)
		if err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		procs = append(procs, p)
		if err := p.waitReady(setupCtx, bin); err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		o.progress("node %d running (pid %d) at %s", i, p.cmd.Process.Pid, p.addr)
	}

	// The group, through the CLI.
	out, err := runCLI(setupCtx, bin, "group", "create", "bench", "--json", "--home", string(procs[0].home))
	if err != nil {
		return nil, err
	}
	var g struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &g); err != nil || g.ID == "" {
		return nil, fmt.Errorf("group create --json printed %q: %v", out, err)
	}
	out, err = runCLI(setupCtx, bin, "group", "invite", g.ID, "--json", "--home", string(procs[0].home))
	if err != nil {
		return nil, err
	}
	var inv struct {
		Code string `json:"code"`
	}
	if err := json.Unmarshal(out, &inv); err != nil || inv.Code == "" {
		return nil, fmt.Errorf("group invite --json printed %q: %v", out, err)
	}
	for i, p := range procs[1:] {
		if _, err := runCLI(setupCtx, bin, "group", "join", inv.Code, "--home", string(p.home)); err != nil {
			return nil, fmt.Errorf("node %d: %w", i+1, err)
		}
	}
	err = waitFor(setupCtx, "every node to be in the group's gossip mesh", func() (bool, string) {
		for i, p := range procs {
			gs, err := groupchat.NewClient(p.client).Groups(setupCtx)
			if err != nil {
				return false, fmt.Sprintf("node %d: %v", i, err)
			}
			if len(gs) != 1 || gs[0].MeshPeers == 0 {
				return false, fmt.Sprintf("node %d: groups %+v", i, gs)
			}
		}
		return true, ""
	})
	if err != nil {
		return nil, err
	}
	o.progress("group %s joined everywhere; chatting for %s at %v msgs/s", g.ID, o.duration, o.rate)

	// The chat, through the API: senders round-robin, on a fixed schedule.
	total := int(o.duration.Seconds() * o.rate)
	interval := float64(time.Second) / o.rate
	sendCtx, cancelSend := context.WithTimeout(ctx, o.duration+60*time.Second)
	defer cancelSend()
	t0 := time.Now().Add(20 * time.Millisecond)
	cpu0 := make([]time.Duration, len(procs))
	for i, p := range procs {
		cpu0[i] = procCPU(p.cmd.Process.Pid)
	}
	var (
		mu       sync.Mutex
		sent     int
		sendErrs int
		firstErr error
		wg       sync.WaitGroup
	)
	for from, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(o.seed, uint64(from)))
			for i := from; i < total; i += len(procs) {
				if !sleepUntil(sendCtx, t0.Add(time.Duration(float64(i)*interval))) {
					return
				}
				_, err := groupchat.NewClient(p.client).Send(sendCtx, g.ID, string(makePayload(rng, o.size, uint64(i), false)))
				mu.Lock()
				if err != nil {
					sendErrs++
					if firstErr == nil {
						firstErr = fmt.Errorf("node %d: send: %w", from, err)
					}
				} else {
					sent++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if sent == 0 {
		return nil, fmt.Errorf("no message was sent: %v", firstErr)
	}
	o.progress("sent %d (%d errors); waiting for every node to have them", sent, sendErrs)

	r := &RSSReport{
		Nodes: o.nodes, Rate: o.rate, Size: o.size, DurationS: o.duration.Seconds(),
		Sent: sent, SendErrors: sendErrs, TargetMB: rssTargetMB, Binary: bin,
		GoVersion: runtime.Version(), Cores: runtime.NumCPU(),
	}
	counts := make([]int, len(procs))
	drainCtx, cancelDrain := context.WithTimeout(ctx, o.drain)
	defer cancelDrain()
	_ = waitFor(drainCtx, "every node to have every message", func() (bool, string) {
		all := true
		for i, p := range procs {
			gs, err := groupchat.NewClient(p.client).Groups(drainCtx)
			if err != nil || len(gs) != 1 {
				all = false
				continue
			}
			counts[i] = gs[0].Messages
			all = all && counts[i] >= sent
		}
		return all, fmt.Sprint(counts)
	})
	r.AllDelivered = true
	for _, c := range counts {
		r.AllDelivered = r.AllDelivered && c >= sent
	}

	for i, p := range procs {
		hwm, rss, err := procStatusMB(p.cmd.Process.Pid)
		if err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		anon, file, err := procAnonFileMB(p.cmd.Process.Pid)
		if err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		cpu := (procCPU(p.cmd.Process.Pid) - cpu0[i]).Seconds()
		r.PerNode = append(r.PerNode, rssNodeStat{Node: i, PID: p.cmd.Process.Pid, HWMMB: hwm, RSSMB: rss, AnonMB: anon, FileMB: file, CPUS: round2(cpu), Messages: counts[i]})
		r.CPUS += cpu
		r.RSSMB.MaxHWM = max(r.RSSMB.MaxHWM, hwm)
		r.RSSMB.MaxAnon = max(r.RSSMB.MaxAnon, anon)
		r.RSSMB.MeanAnon += anon / float64(len(procs))
		r.RSSMB.MeanFile += file / float64(len(procs))
		r.RSSMB.MaxRSS = max(r.RSSMB.MaxRSS, rss)
		r.RSSMB.MeanHWM += hwm / float64(len(procs))
		r.RSSMB.MeanRSS += rss / float64(len(procs))
	}
	r.RSSMB.MeanHWM = round2(r.RSSMB.MeanHWM)
	r.RSSMB.MeanRSS = round2(r.RSSMB.MeanRSS)
	r.RSSMB.MeanAnon = round2(r.RSSMB.MeanAnon)
	r.RSSMB.MeanFile = round2(r.RSSMB.MeanFile)
	r.CPUS = round2(r.CPUS)
	r.WithinTarget = r.RSSMB.MaxHWM < rssTargetMB
	return r, nil
}

// goCommand returns the go command of the toolchain that built this one if
// it exists, else "go" from PATH.
func goCommand() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); runtime.GOROOT() != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

// runCLI runs the banyan CLI and returns its stdout.
func runCLI(ctx context.Context, bin string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	c := exec.CommandContext(ctx, bin, args...)
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		return nil, fmt.Errorf("banyan %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// startProc starts 'banyan run' with its output in home/node.log.
func startProc(bin string, home home.Home, args []string) (*proc, error) {
	logf, err := os.Create(filepath.Join(string(home), "node.log"))
	if err != nil {
		return nil, err
	}
	c := exec.Command(bin, args...)
	c.Stdout, c.Stderr = logf, logf
	if err := c.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start banyan run: %w", err)
	}
	p := &proc{home: home, cmd: c, logf: logf, exited: make(chan struct{})}
	go func() {
		c.Wait()
		close(p.exited)
	}()
	return p, nil
}

// waitReady waits until the node answers on its API, and learns its
// loopback TCP address with 'banyan id --json'.
func (p *proc) waitReady(ctx context.Context, bin string) error {
	detail := ""
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("banyan run exited (%v); its log:\n%s", p.cmd.ProcessState, p.logTail())
		case <-ctx.Done():
			return fmt.Errorf("waiting for the node to start: %w (%s); its log:\n%s", ctx.Err(), detail, p.logTail())
		case <-time.After(50 * time.Millisecond):
		}
		c, err := api.Dial(ctx, p.home.APIAddrFile(), p.home.APITokenFile())
		if err != nil {
			detail = err.Error()
			continue
		}
		out, err := runCLI(ctx, bin, "id", "--json", "--home", string(p.home))
		if err != nil {
			detail = err.Error()
			continue
		}
		var id struct {
			Addrs []string `json:"addrs"`
		}
		if err := json.Unmarshal(out, &id); err != nil {
			return fmt.Errorf("banyan id --json printed %q: %w", out, err)
		}
		for _, a := range id.Addrs {
			if strings.HasPrefix(a, "/ip4/127.0.0.1/tcp/") && strings.Contains(a, "/p2p/") {
				p.addr, p.client = a, c
				return nil
			}
		}
		detail = fmt.Sprintf("no loopback TCP address in %v", id.Addrs)
	}
}

// logTail returns the end of the node's log.
func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.logf.Name())
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// stopProcs stops every process with SIGTERM, then SIGKILL after 15 s.
func stopProcs(procs []*proc) error {
	var errs []error
	for _, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for i, p := range procs {
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
			errs = append(errs, fmt.Errorf("node %d did not stop on SIGTERM within 15s; killed", i))
		}
		p.logf.Close()
	}
	return errors.Join(errs...)
}
