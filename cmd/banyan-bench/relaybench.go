package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/home"
)

// relayBenchOptions are the flags of 'banyan-bench relay'.
type relayBenchOptions struct {
	clients, groups, size int
	rate                  float64
	warmup, duration      time.Duration
	drain, setup          time.Duration
	binary                string
	seed                  uint64
	progress              func(string, ...any)
}

// RelayBenchReport is what 'banyan-bench relay' prints.
type RelayBenchReport struct {
	Clients   int     `json:"clients"`
	Groups    int     `json:"groups"`
	Rate      float64 `json:"rate_per_s"`
	Size      int     `json:"size"`
	DurationS float64 `json:"duration_s"`
	Sent      int     `json:"sent"`
	// Expected counts a delivery to every other member of the sender's
	// group; Delivered, those that arrived before the drain ended.
	Expected  int       `json:"expected_deliveries"`
	Delivered int       `json:"delivered"`
	LatencyMS Quantiles `json:"latency_ms"`
	// RelayCPUS is the relay process's CPU time (user and system) over
	// the measured phase; RelayCPUShare, that as a share of one core.
	RelayCPUS     float64 `json:"relay_cpu_s"`
	RelayCPUShare float64 `json:"relay_cpu_share_of_a_core"`
	RelayRSSMB    float64 `json:"relay_rss_mb"`
	RelayPeakMB   float64 `json:"relay_peak_rss_mb"`
	// ClientsCPUS is this process's CPU time (the clients) over the phase.
	ClientsCPUS float64 `json:"clients_cpu_s"`
	// MachineBusyS is the CPU time of the whole machine over the phase,
	// others' work included: the machine may be shared.
	MachineBusyS float64 `json:"machine_busy_s"`
	Cores        int     `json:"cores"`
}

func newRelayBenchCmd(rf *rootFlags) *cobra.Command {
	o := &relayBenchOptions{}
	c := &cobra.Command{
		Use:   "relay",
		Short: "A relay process serving in-process clients in several groups",
		Long: `Start 'banyan relay' as a process of its own (built from this module, or
--binary) and --clients in-process nodes (on-disk stores) connected to it
alone, in --groups groups registered with it, which it cannot read. The
clients write --rate messages a second in all, taking turns, for --warmup
and then --duration; the report gives the relay process's CPU time and
memory over the measured phase and the delivery latency from a send to
each other member of the group (every message reaches them through the
relay).`,
		Example: `  banyan-bench relay --clients 50 --groups 5 --rate 200 --duration 30s`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.clients < 2*o.groups || o.groups < 1 || o.rate <= 0 || o.size < 1 || o.size > maxTextSize || o.duration <= 0 {
				return fmt.Errorf("need --groups >= 1, --clients >= 2 per group, a positive --rate and --duration, --size from 1 to %d", maxTextSize)
			}
			_, o.progress = scenarioOutput(cmd, rf)
			r, err := runRelayBench(cmd.Context(), o)
			if err != nil {
				return err
			}
			return writeJSON(cmd.OutOrStdout(), r)
		},
	}
	f := c.Flags()
	f.IntVar(&o.clients, "clients", 50, "clients, in-process")
	f.IntVar(&o.groups, "groups", 5, "groups; clients are spread evenly")
	f.Float64Var(&o.rate, "rate", 200, "messages per second, all clients together")
	f.IntVar(&o.size, "size", 100, "text size in bytes")
	f.DurationVar(&o.warmup, "warmup", 3*time.Second, "sending before the measured phase")
	f.DurationVar(&o.duration, "duration", 20*time.Second, "measured phase")
	f.DurationVar(&o.drain, "drain", 15*time.Second, "how long to wait for the last deliveries")
	f.DurationVar(&o.setup, "setup", 3*time.Minute, "bound on starting the relay and the clients")
	f.StringVar(&o.binary, "binary", "", "the banyan binary (default: build ./cmd/banyan)")
	f.Uint64Var(&o.seed, "seed", 1, "seed for message contents")
	return c
}

func runRelayBench(ctx context.Context, o *relayBenchOptions) (_ *RelayBenchReport, err error) {
	tmp, err := os.MkdirTemp("", "banyan-bench-relay-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin := o.binary
	if bin == "" {
		bin = filepath.Join(tmp, "banyan")
		o.progress("building ./cmd/banyan")
		if out, err := exec.CommandContext(ctx, goCommand(), "build", "-o", bin, "github.com/banyan-mesh/banyan/cmd/banyan").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build banyan (run from inside the module, or give --binary): %w\n%s", err, out)
		}
	}
	setupCtx, cancelSetup := context.WithTimeout(ctx, o.setup)
	defer cancelSetup()
	rh := home.Home(filepath.Join(tmp, "relay"))
	if _, err := runCLI(setupCtx, bin, "init", "--home", string(rh)); err != nil {
		return nil, err
	}
	rp, err := startProc(bin, rh, []string{"relay", "--home", string(rh), "--listen", "/ip4/127.0.0.1/tcp/0", "--api", "127.0.0.1:0", "--no-mdns", "--log-level", "warn"})
	if err != nil {
		return nil, err
	}
	defer func() {
		if serr := stopProcs([]*proc{rp}); serr != nil && err == nil {
			err = serr
		}
	}()
	if err := rp.waitReady(setupCtx, bin); err != nil {
		return nil, err
	}
	pid := rp.cmd.Process.Pid
	o.progress("relay running (pid %d) at %s", pid, rp.addr)

	cl, err := startClients(setupCtx, o, tmp, rp.addr)
	if err != nil {
		return nil, err
	}
	defer cl.close()
	o.progress("%d clients in %d groups, each in its group's mesh through the relay; sending", o.clients, o.groups)

	warm := int(o.warmup.Seconds() * o.rate)
	total := warm + int(o.duration.Seconds()*o.rate)
	interval := float64(time.Second) / o.rate
	sendCtx, cancelSend := context.WithTimeout(ctx, o.warmup+o.duration+30*time.Second)
	defer cancelSend()
	t0 := time.Now().Add(50 * time.Millisecond)
	measureStart := t0.Add(time.Duration(float64(warm) * interval))
	type snapshot struct {
		relay, self, machine time.Duration
		wall                 time.Time
	}
	take := func() snapshot {
		busy, _ := machineCPU()
		return snapshot{procCPU(pid), cpuTime(), busy, time.Now()}
	}
	var s0 snapshot
	snapped := make(chan struct{})
	go func() {
		defer close(snapped)
		if sleepUntil(sendCtx, measureStart) {
			s0 = take()
		}
	}()
	type sentMsg struct {
		from     int
		id       event.ID
		at       time.Time
		measured bool
	}
	sent := make([][]sentMsg, o.clients)
	var sendErrs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for from := range o.clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(o.seed, uint64(from)))
			for i := from; i < total; i += o.clients {
				if !sleepUntil(sendCtx, t0.Add(time.Duration(float64(i)*interval))) {
					return
				}
				// From before the call: the sender's own write is part of
				// the delivery (others may hold it before Send returns).
				at := time.Now()
				m, err := cl.nodes[from].Groups().Send(sendCtx, cl.groups[from], string(makePayload(rng, o.size, uint64(i), false)))
				if err != nil {
					mu.Lock()
					sendErrs = append(sendErrs, err)
					mu.Unlock()
					continue
				}
				sent[from] = append(sent[from], sentMsg{from, m.Event.ID, at, i >= warm})
			}
		})
	}
	wg.Wait()
	<-snapped
	s1 := take()
	if len(sendErrs) > 0 {
		return nil, fmt.Errorf("%d sends failed: %w", len(sendErrs), errors.Join(sendErrs[:min(3, len(sendErrs))]...))
	}
	r := &RelayBenchReport{
		Clients: o.clients, Groups: o.groups, Rate: o.rate, Size: o.size, DurationS: o.duration.Seconds(), Cores: runtime.NumCPU(),
		RelayCPUS:    round3((s1.relay - s0.relay).Seconds()),
		ClientsCPUS:  round3((s1.self - s0.self).Seconds()),
		MachineBusyS: round3((s1.machine - s0.machine).Seconds()),
	}
	r.RelayCPUShare = round3(r.RelayCPUS / s1.wall.Sub(s0.wall).Seconds())
	var lats []time.Duration
	deadline := time.Now().Add(o.drain)
	for {
		lats, r.Sent, r.Expected, r.Delivered = lats[:0], 0, 0, 0
		for from := range sent {
			for _, m := range sent[from] {
				if !m.measured {
					continue
				}
				r.Sent++
				for to := range o.clients {
					if to == from || cl.group[to] != cl.group[from] {
						continue
					}
					r.Expected++
					if at, ok := cl.seen[to].when(m.id); ok {
						r.Delivered++
						lats = append(lats, max(0, at.Sub(m.at)))
					}
				}
			}
		}
		if r.Delivered == r.Expected || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		if !sleepUntil(ctx, time.Now().Add(200*time.Millisecond)) {
			break
		}
	}
	r.LatencyMS = quantiles(lats)
	if hwm, rss, err := procStatusMB(pid); err == nil {
		r.RelayRSSMB, r.RelayPeakMB = rss, hwm
	}
	return r, nil
}

// procCPU returns a process's user and system CPU time so far, from
// /proc/PID/stat (in clock ticks of 1/100 s, as on every Linux here).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from after it.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// relayClients are the in-process clients of 'banyan-bench relay'.
type relayClients struct {
	nodes  []*node.Node
	groups []*groupchat.Group // each client's record of its group
	group  []int              // which group each client is in
	seen   []*arrivalTimes
	cancel context.CancelFunc
	served sync.WaitGroup
}

// arrivalTimes is when each event reached one client's store.
type arrivalTimes struct {
	mu sync.Mutex
	at map[event.ID]time.Time
}

func (a *arrivalTimes) when(id event.ID) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.at[id]
	return t, ok
}

// startClients starts the clients with the relay as their only static
// peer; the first client of each group creates it and registers it with
// the relay, the others join from an invite without the inviter's address.
func startClients(ctx context.Context, o *relayBenchOptions, tmp, relayAddr string) (_ *relayClients, err error) {
	runCtx, cancel := context.WithCancel(context.Background())
	cl := &relayClients{cancel: cancel}
	defer func() {
		if err != nil {
			cl.close()
		}
	}()
	perGroup := o.clients / o.groups
	var invites []string
	for i := range o.clients {
		gi := min(i/perGroup, o.groups-1)
		h := home.Home(filepath.Join(tmp, fmt.Sprint("client-", i)))
		if _, err := h.Init(nil); err != nil {
			return nil, err
		}
		n, err := node.New(node.Options{
			Home: h, Listen: []string{"/ip4/127.0.0.1/tcp/0"}, API: "off", NoMDNS: true,
			Peers: []string{relayAddr}, Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			return nil, fmt.Errorf("client %d: %w", i, err)
		}
		cl.nodes = append(cl.nodes, n)
		cl.group = append(cl.group, gi)
		stopped := make(chan struct{})
		cl.served.Add(1)
		go func() {
			defer cl.served.Done()
			defer close(stopped)
			n.Serve(runCtx)
		}()
		select {
		case <-n.Ready():
		case <-stopped:
			return nil, fmt.Errorf("client %d did not start", i)
		}
		var g *groupchat.Group
		if gi == len(invites) {
			if g, err = n.Groups().Create(fmt.Sprint("bench ", gi)); err != nil {
				return nil, err
			}
			if _, err := n.Groups().AddRelay(ctx, g, relayAddr); err != nil {
				return nil, fmt.Errorf("client %d: register the group with the relay: %w", i, err)
			}
			inv := n.Groups().Invite(g)
			inv.Inviter.ID, inv.Inviter.Addrs = "", nil
			invites = append(invites, inv.String())
		} else {
			in, err := groupchat.ParseInvite(invites[gi])
			if err != nil {
				return nil, err
			}
			if g, err = n.Groups().Join(ctx, in); err != nil {
				return nil, fmt.Errorf("client %d: join: %w", i, err)
			}
		}
		cl.groups = append(cl.groups, g)
		a := &arrivalTimes{at: map[event.ID]time.Time{}}
		cl.seen = append(cl.seen, a)
		cl.served.Add(1)
		go func() {
			defer cl.served.Done()
			st := n.Store()
			var seq uint64
			for runCtx.Err() == nil {
				wake := st.Notify()
				now := time.Now()
				arr, err := st.ArrivalsSince(seq, 1024)
				if err != nil {
					return
				}
				a.mu.Lock()
				for _, e := range arr {
					if e.Event != nil {
						a.at[e.Event.ID] = now
					}
					seq = e.Seq
				}
				a.mu.Unlock()
				if len(arr) == 1024 {
					continue
				}
				select {
				case <-wake:
				case <-runCtx.Done():
				}
			}
		}()
	}
	err = waitFor(ctx, "every client to be in its group's mesh, through the relay", func() (bool, string) {
		for i, n := range cl.nodes {
			if _, m := n.Groups().TopicPeers(cl.groups[i]); m == 0 {
				return false, fmt.Sprintf("client %d has no mesh peer", i)
			}
		}
		return true, ""
	})
	return cl, err
}

func (cl *relayClients) close() {
	// Serve closes each node as it returns.
	cl.cancel()
	cl.served.Wait()
}
