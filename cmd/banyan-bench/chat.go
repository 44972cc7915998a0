package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/spf13/cobra"
)

// chatOptions are the flags of 'banyan-bench chat'.
type chatOptions struct {
	nodes, degree, size int
	rate                float64
	duration, warmup    time.Duration
	// setup bounds starting, connecting and joining; drain bounds the wait
	// for the last deliveries after the send phase.
	setup, drain             time.Duration
	baseline, compare, sweep bool
	// rounds is how many baseline/Banyan pairs --compare runs; sweepSteps
	// how many halvings --sweep makes between the highest rate that held
	// and the lowest that did not, sweepMax the highest rate it tries.
	rounds, sweepSteps int
	sweepMax           float64
	seed               uint64
	// load is how many threads of other work run meanwhile (--load).
	load int
	// offline members of the group never run; each wrote offlineHistory
	// messages that every node holds before the run ('scale').
	offline, offlineHistory int
	// edges, if set, replace the ring lattice; senders, if set, are the
	// only nodes that send.
	edges   [][2]int
	senders []int
	// attack, if set, starts hostile traffic at the Banyan nodes once the
	// mesh has formed; its stop function ends it and says what it did.
	attack func(ctx context.Context, b *banyanNet) (stop func() (*FloodPeerReport, error), err error)
	// log receives node logs (discarded unless verbose).
	log *slog.Logger
	// progress reports steps on stderr (verbose only).
	progress func(format string, args ...any)
}

func newChatCmd(rf *rootFlags) *cobra.Command {
	o := &chatOptions{}
	c := &cobra.Command{
		Use:   "chat",
		Short: "Group chat on N in-process nodes: delivery, latency, bytes, CPU",
		Long: `Start N Banyan nodes in this process on loopback, each with its own Badger
store in a fresh temporary directory, connect them in a ring lattice in which
every node has exactly --degree neighbours (direct dials; no mDNS, no static
peers), put them all in one group, and have them chat: --rate messages per
second in total, senders taken round-robin, each text --size bytes of
printable ASCII, for --warmup (not measured) and then --duration.

A message counts as delivered to a node when it appears in that node's
store's arrival log (stored, after validation). Latency is from the Send call
to that moment, for every (message, receiving node) pair.

--baseline runs the same topology and workload on bare libp2p hosts with
plain gossipsub instead (Banyan's gossipsub options where they apply; the
differences are printed with every comparison); --compare runs both,
alternating baseline and Banyan for --rounds rounds, and prints every
round with banyan/baseline ratios, their medians and their spread.
--sweep finds, for each side, the highest total rate at which p99 stays
under 100 ms with every message delivered and the senders on schedule
(send lag p99 under 100 ms): starting at --rate it doubles the rate until
a run fails, then halves the interval --sweep-steps times; the two
searches run alternately. --load N keeps N threads busy in another process
meanwhile: "one core of background load" is --load 1.`,
		Example: `  banyan-bench chat
  banyan-bench chat --compare --nodes 10 --degree 4 --size 256 --rate 500 --duration 10s
  banyan-bench chat --cpuprofile chat.prof && go tool pprof -top chat.prof`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (o.baseline && o.compare) || (o.sweep && (o.baseline || o.compare)) {
				return errors.New("--baseline, --compare and --sweep exclude each other (--compare and --sweep run both sides)")
			}
			if o.rounds < 1 || o.sweepSteps < 0 || o.sweepMax < o.rate {
				return errors.New("--rounds must be at least 1, --sweep-steps not negative, --sweep-max at least --rate")
			}
			if o.rate <= 0 || o.duration <= 0 || o.warmup < 0 || o.size < 8 || o.size > maxTextSize {
				return fmt.Errorf("--rate and --duration must be positive, --warmup not negative, --size between 8 (the baseline's sequence prefix) and %d", maxTextSize)
			}
			if _, err := ringLattice(o.nodes, o.degree); err != nil {
				return err
			}
			o.log, o.progress = scenarioOutput(cmd, rf)
			stop, _, err := startLoad(o.load)
			if err != nil {
				return fmt.Errorf("--load: %w", err)
			}
			defer stop()
			out, err := runChatScenario(cmd.Context(), o)
			if err != nil {
				return err
			}
			return writeJSON(cmd.OutOrStdout(), out)
		},
	}
	f := c.Flags()
	f.IntVar(&o.nodes, "nodes", 10, "number of nodes")
	f.IntVar(&o.degree, "degree", 4, "connections per node")
	f.IntVar(&o.size, "size", 256, "message size in bytes (text for Banyan, payload for the baseline)")
	f.Float64Var(&o.rate, "rate", 500, "messages per second, in total over all senders")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "measured send phase")
	f.DurationVar(&o.warmup, "warmup", 2*time.Second, "send phase before the measured one (not measured)")
	f.DurationVar(&o.drain, "drain", 10*time.Second, "how long to wait for the last deliveries after sending")
	f.DurationVar(&o.setup, "setup-timeout", 60*time.Second, "how long starting, connecting and forming the gossip mesh may take")
	f.BoolVar(&o.baseline, "baseline", false, "run only the baseline: plain gossipsub on bare libp2p hosts")
	f.BoolVar(&o.compare, "compare", false, "run the baseline and Banyan alternately for --rounds rounds and print ratios, their medians and spread")
	f.IntVar(&o.rounds, "rounds", 3, "baseline/Banyan pairs that --compare runs")
	f.BoolVar(&o.sweep, "sweep", false, "find each side's capacity: the highest rate with p99 under 100 ms and every message delivered")
	f.IntVar(&o.sweepSteps, "sweep-steps", 3, "halvings of the interval between the highest rate that held and the lowest that did not")
	f.Float64Var(&o.sweepMax, "sweep-max", 8000, "highest rate --sweep tries")
	f.Uint64Var(&o.seed, "seed", 1, "seed for message contents")
	f.IntVar(&o.load, "load", 0, "threads of other work kept busy meanwhile, in a process of their own (0: none), so that a run under load is reproducible")
	return c
}

// ChatReport is the result of one chat run.
type ChatReport struct {
	Mode      string  `json:"mode"` // "banyan" or "baseline"
	Nodes     int     `json:"nodes"`
	Degree    int     `json:"degree"`
	Size      int     `json:"size"`
	Rate      float64 `json:"rate"`
	DurationS float64 `json:"duration_s"`
	WarmupS   float64 `json:"warmup_s"`
	// Sent counts measured messages sent without error.
	Sent       int `json:"sent"`
	SendErrors int `json:"send_errors"`
	// ExpectedDeliveries is Sent * (Nodes-1): every message to every node
	// but its sender.
	ExpectedDeliveries int       `json:"expected_deliveries"`
	Delivered          int       `json:"delivered"`
	DeliveryRatio      float64   `json:"delivery_ratio"`
	LatencyMS          Quantiles `json:"latency_ms"`
	// LatencyAfterSendMS is latency measured from the end of the send call
	// instead of its start: the network and receiver part, without the
	// sender's own work (signing, storing, fsync for Banyan).
	LatencyAfterSendMS Quantiles `json:"latency_after_send_ms"`
	// SendLagMS is how late sends started after their scheduled time: large
	// values mean the senders could not keep up with --rate.
	SendLagMS Quantiles `json:"send_lag_ms"`
	// SendCallMS is how long each Send (Banyan) or Publish (baseline) call
	// took.
	SendCallMS Quantiles `json:"send_call_ms"`
	// DeliveredMsgsPerS is Delivered/(Nodes-1) messages over the time from
	// the first measured send to the last delivery.
	DeliveredMsgsPerS float64 `json:"delivered_msgs_per_s"`
	// DrainMS is the time from the end of the send phase to the last
	// delivery.
	DrainMS float64 `json:"drain_ms"`
	// BytesInPerNodePerMsg is stream bytes received (libp2p stream payload,
	// without Noise and Yamux framing) per node per measured message, over
	// the measured phase including its drain.
	BytesInPerNodePerMsg float64 `json:"bytes_in_per_node_per_msg"`
	// BytesInRatio is BytesInPerNodePerMsg / Size.
	BytesInRatio float64 `json:"bytes_in_ratio"`
	// BytesInByProtocol splits BytesInPerNodePerMsg by libp2p protocol
	// (gossipsub, sync, identify...).
	BytesInByProtocol map[protocol.ID]float64 `json:"bytes_in_by_protocol"`
	// CPUS is this process's user+system CPU over the measured phase and
	// drain; CPUMSPerMsg divides it by Sent.
	CPUS        float64 `json:"cpu_s"`
	CPUMSPerMsg float64 `json:"cpu_ms_per_msg"`
	// OtherCPUS is the CPU time the rest of the machine used over the same
	// phase, and StealS the time the hypervisor took: if either is more
	// than a small fraction of CPUS, the run was disturbed.
	OtherCPUS float64 `json:"other_cpu_s"`
	StealS    float64 `json:"steal_s"`
	// PeakRSSMB is the process's peak RSS so far (process-wide: with
	// --compare it includes the earlier run); RSSMB is VmRSS at the end of
	// the measured phase.
	PeakRSSMB float64 `json:"peak_rss_mb"`
	RSSMB     float64 `json:"rss_mb"`
	GoVersion string  `json:"go_version"`
	Cores     int     `json:"cores"`
	// Rejected sums the nodes' rejection counters by reason (Banyan only;
	// "duplicate" is a message that arrived again from a second peer).
	Rejected map[string]uint64 `json:"rejected,omitempty"`
	// OwnWriteMS is the mean time, over every node's messages (warm-up
	// included), that a send spent saving its chain's mark ("mark", before
	// the message left) and storing it ("store", after) (Banyan only).
	OwnWriteMS map[string]float64 `json:"own_write_mean_ms,omitempty"`
	// Attack is what the hostile peer did during the run, if there was one.
	Attack *FloodPeerReport `json:"attack,omitempty"`
}

// Ratios are banyan / baseline figures of one round.
type Ratios struct {
	P50       float64 `json:"p50_ratio"`
	P90       float64 `json:"p90_ratio"`
	P99       float64 `json:"p99_ratio"`
	CPU       float64 `json:"cpu_ratio"`
	CPUPerMsg float64 `json:"cpu_per_msg_ratio"`
	BytesIn   float64 `json:"bytes_in_ratio"`
	Delivered float64 `json:"delivery_ratio"`
}

// CompareRound is one baseline run and the Banyan run after it.
type CompareRound struct {
	Baseline *ChatReport `json:"baseline"`
	Banyan   *ChatReport `json:"banyan"`
	Ratios   Ratios      `json:"ratios"`
}

// CompareReport is the output of --compare.
type CompareReport struct {
	Rounds []CompareRound `json:"rounds"`
	// Ratios are the medians over the rounds; RatiosMin and RatiosMax
	// their spread.
	Ratios    Ratios `json:"ratios"`
	RatiosMin Ratios `json:"ratios_min"`
	RatiosMax Ratios `json:"ratios_max"`
	// BaselineDifferences lists how the baseline's gossipsub is set up
	// unlike Banyan's.
	BaselineDifferences []string `json:"baseline_differences"`
}

func roundRatios(base, ban *ChatReport) Ratios {
	return Ratios{
		P50:       ratio(ban.LatencyMS.P50, base.LatencyMS.P50),
		P90:       ratio(ban.LatencyMS.P90, base.LatencyMS.P90),
		P99:       ratio(ban.LatencyMS.P99, base.LatencyMS.P99),
		CPU:       ratio(ban.CPUS, base.CPUS),
		CPUPerMsg: ratio(ban.CPUMSPerMsg, base.CPUMSPerMsg),
		BytesIn:   ratio(ban.BytesInPerNodePerMsg, base.BytesInPerNodePerMsg),
		Delivered: ratio(ban.DeliveryRatio, base.DeliveryRatio),
	}
}

// summarize sets the medians and spread of the rounds' ratios.
func (c *CompareReport) summarize() {
	fields := func(r *Ratios) []*float64 {
		return []*float64{&r.P50, &r.P90, &r.P99, &r.CPU, &r.CPUPerMsg, &r.BytesIn, &r.Delivered}
	}
	med, lo, hi := fields(&c.Ratios), fields(&c.RatiosMin), fields(&c.RatiosMax)
	for i := range med {
		var vs []float64
		for k := range c.Rounds {
			vs = append(vs, *fields(&c.Rounds[k].Ratios)[i])
		}
		slices.Sort(vs)
		*lo[i], *hi[i] = vs[0], vs[len(vs)-1]
		*med[i] = vs[len(vs)/2]
		if len(vs)%2 == 0 {
			*med[i] = round3((vs[len(vs)/2-1] + vs[len(vs)/2]) / 2)
		}
	}
}

// runChatScenario runs the modes the options ask for and returns what to
// print.
func runChatScenario(ctx context.Context, o *chatOptions) (any, error) {
	switch {
	case o.baseline:
		return runChat(ctx, o, "baseline")
	case o.compare:
		out := &CompareReport{BaselineDifferences: baselineDifferences}
		for i := range o.rounds {
			o.progress("round %d of %d", i+1, o.rounds)
			base, err := runChat(ctx, o, "baseline")
			if err != nil {
				return nil, fmt.Errorf("baseline: %w", err)
			}
			runtime.GC()
			ban, err := runChat(ctx, o, "banyan")
			if err != nil {
				return nil, fmt.Errorf("banyan: %w", err)
			}
			runtime.GC()
			out.Rounds = append(out.Rounds, CompareRound{Baseline: base, Banyan: ban, Ratios: roundRatios(base, ban)})
		}
		out.summarize()
		return out, nil
	case o.sweep:
		return runSweep(ctx, o)
	default:
		return runChat(ctx, o, "banyan")
	}
}

// chatNet is a set of running nodes that the chat workload drives: Banyan
// nodes, or the plain-gossipsub baseline.
type chatNet interface {
	// send sends payload from node from and returns the key under which
	// receivers report it to the recorder.
	send(ctx context.Context, from int, seq uint64, payload []byte) (key string, err error)
	// bytesIn returns the bytes received so far, summed over the nodes, in
	// total and per protocol.
	bytesIn() int64
	bytesInByProtocol() map[protocol.ID]int64
	// report adds mode-specific figures.
	report(r *ChatReport)
	// close stops every node and removes its files.
	close() error
}

// recorder collects, per node, when each message was first seen.
type recorder struct {
	nodes []*arrivals
}

type arrivals struct {
	mu    sync.Mutex
	first map[string]time.Time
	order []string
}

func newRecorder(n int) *recorder {
	r := &recorder{}
	for range n {
		r.nodes = append(r.nodes, &arrivals{first: map[string]time.Time{}})
	}
	return r
}

// arrive records that node saw the message key at time at.
func (r *recorder) arrive(node int, key string, at time.Time) {
	a := r.nodes[node]
	a.mu.Lock()
	if _, ok := a.first[key]; !ok {
		a.first[key] = at
		a.order = append(a.order, key)
	}
	a.mu.Unlock()
}

// sentMsg is one message of the workload.
type sentMsg struct {
	key      string
	from     int
	measured bool
	intended time.Time
	at       time.Time // when the send call started
	took     time.Duration
	err      error
}

// runChat runs the chat workload once in one mode.
func runChat(ctx context.Context, o *chatOptions, mode string) (*ChatReport, error) {
	edges, err := o.edges, error(nil)
	if edges == nil {
		if edges, err = ringLattice(o.nodes, o.degree); err != nil {
			return nil, err
		}
	}
	senders := o.senders
	if senders == nil {
		senders = make([]int, o.nodes)
		for i := range senders {
			senders[i] = i
		}
	}
	rec := newRecorder(o.nodes)
	setupCtx, cancelSetup := context.WithTimeout(ctx, o.setup)
	defer cancelSetup()
	o.progress("%s: starting %d nodes", mode, o.nodes)
	var net chatNet
	switch mode {
	case "banyan":
		net, err = newBanyanNet(setupCtx, o, edges, rec)
	case "baseline":
		net, err = newBaselineNet(setupCtx, o, edges, rec)
	default:
		return nil, fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		return nil, err
	}
	defer net.close()
	var stopAttack func() (*FloodPeerReport, error)
	if o.attack != nil {
		b, ok := net.(*banyanNet)
		if !ok {
			return nil, errors.New("an attack needs Banyan nodes")
		}
		if stopAttack, err = o.attack(setupCtx, b); err != nil {
			return nil, fmt.Errorf("attacker: %w", err)
		}
		defer func() {
			if stopAttack != nil {
				stopAttack()
			}
		}()
		o.progress("%s: attacker running", mode)
	}
	o.progress("%s: mesh formed; sending", mode)

	warm := int(o.warmup.Seconds() * o.rate)
	measured := int(o.duration.Seconds() * o.rate)
	total := warm + measured
	interval := float64(time.Second) / o.rate
	// Deadline for the whole send phase: far beyond its planned length, so
	// that only a wedged node trips it.
	sendCtx, cancelSend := context.WithTimeout(ctx, o.warmup+o.duration+o.drain+30*time.Second)
	defer cancelSend()

	t0 := time.Now().Add(50 * time.Millisecond)
	measureStart := t0.Add(time.Duration(float64(warm) * interval))
	var (
		cpu0    time.Duration
		mach0   time.Duration
		steal0  time.Duration
		bytes0  int64
		proto0  map[protocol.ID]int64
		snapped bool
		snap    = make(chan struct{})
	)
	go func() {
		// Snapshot CPU and bytes when the measured phase starts.
		defer close(snap)
		if sleepUntil(sendCtx, measureStart) {
			mach0, steal0 = machineCPU()
			proto0 = net.bytesInByProtocol()
			cpu0, bytes0, snapped = cpuTime(), net.bytesIn(), true
		}
	}()

	sent := make([][]sentMsg, o.nodes)
	var wg sync.WaitGroup
	for k, from := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(o.seed, uint64(from)))
			for i := k; i < total; i += len(senders) {
				intended := t0.Add(time.Duration(float64(i) * interval))
				if !sleepUntil(sendCtx, intended) {
					return
				}
				payload := makePayload(rng, o.size, uint64(i), mode == "baseline")
				m := sentMsg{from: from, measured: i >= warm, intended: intended, at: time.Now()}
				m.key, m.err = net.send(sendCtx, from, uint64(i), payload)
				m.took = time.Since(m.at)
				sent[from] = append(sent[from], m)
			}
		}()
	}
	wg.Wait()
	<-snap
	sendEnd := time.Now()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !snapped {
		return nil, errors.New("the send phase ended before the measured phase started")
	}
	o.progress("%s: sent; waiting for deliveries", mode)

	r := &ChatReport{
		Mode: mode, Nodes: o.nodes, Degree: degree(o, edges), Size: o.size, Rate: o.rate,
		DurationS: o.duration.Seconds(), WarmupS: o.warmup.Seconds(),
		GoVersion: runtime.Version(), Cores: runtime.NumCPU(),
	}
	byKey := map[string]*sentMsg{}
	var lags, calls []time.Duration
	for from := range sent {
		for i := range sent[from] {
			m := &sent[from][i]
			if !m.measured {
				continue
			}
			if m.err != nil {
				r.SendErrors++
				continue
			}
			r.Sent++
			byKey[m.key] = m
			lags = append(lags, max(0, m.at.Sub(m.intended)))
			calls = append(calls, m.took)
		}
	}
	r.ExpectedDeliveries = r.Sent * (o.nodes - 1)

	// Count deliveries as they come, until all are in or the drain time is
	// up. Each node's arrivals are scanned once, from where the last pass
	// stopped.
	cursor := make([]int, o.nodes)
	var lat, latAfter []time.Duration
	var lastArrival time.Time
	scan := func() {
		for n, a := range rec.nodes {
			a.mu.Lock()
			for _, key := range a.order[cursor[n]:] {
				m, ok := byKey[key]
				if !ok || m.from == n {
					continue
				}
				at := a.first[key]
				lat = append(lat, at.Sub(m.at))
				latAfter = append(latAfter, at.Sub(m.at.Add(m.took)))
				if at.After(lastArrival) {
					lastArrival = at
				}
			}
			cursor[n] = len(a.order)
			a.mu.Unlock()
		}
	}
	drainDeadline := time.Now().Add(o.drain)
	for {
		scan()
		if len(lat) >= r.ExpectedDeliveries || time.Now().After(drainDeadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cpu1, bytes1, proto1 := cpuTime(), net.bytesIn(), net.bytesInByProtocol()
	mach1, steal1 := machineCPU()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if stopAttack != nil {
		stop := stopAttack
		stopAttack = nil
		if r.Attack, err = stop(); err != nil {
			return nil, fmt.Errorf("attacker: %w", err)
		}
	}

	r.Delivered = len(lat)
	if r.ExpectedDeliveries > 0 {
		r.DeliveryRatio = round3(float64(r.Delivered) / float64(r.ExpectedDeliveries))
	}
	r.LatencyMS = quantiles(lat)
	r.LatencyAfterSendMS = quantiles(latAfter)
	r.SendLagMS = quantiles(lags)
	r.SendCallMS = quantiles(calls)
	if !lastArrival.IsZero() {
		r.DrainMS = ms(max(0, lastArrival.Sub(sendEnd)))
		if span := lastArrival.Sub(measureStart); span > 0 {
			r.DeliveredMsgsPerS = round2(float64(r.Delivered) / float64(o.nodes-1) / span.Seconds())
		}
	}
	if r.Sent > 0 {
		r.BytesInByProtocol = map[protocol.ID]float64{}
		for p, v := range proto1 {
			if d := v - proto0[p]; d > 0 {
				r.BytesInByProtocol[p] = round2(float64(d) / float64(o.nodes) / float64(r.Sent))
			}
		}
		r.BytesInPerNodePerMsg = round2(float64(bytes1-bytes0) / float64(o.nodes) / float64(r.Sent))
		r.CPUMSPerMsg = round3(float64(cpu1-cpu0) / float64(time.Millisecond) / float64(r.Sent))
	}
	r.BytesInRatio = round3(r.BytesInPerNodePerMsg / float64(o.size))
	r.CPUS = round3((cpu1 - cpu0).Seconds())
	if mach0 > 0 {
		r.OtherCPUS = round3(max(0, (mach1-mach0)-(cpu1-cpu0)).Seconds())
		r.StealS = round3((steal1 - steal0).Seconds())
	}
	r.PeakRSSMB = peakRSSMB()
	if _, rss, err := procStatusMB(0); err == nil {
		r.RSSMB = rss
	}
	net.report(r)
	o.progress("%s: delivered %d of %d; stopping", mode, r.Delivered, r.ExpectedDeliveries)
	if err := net.close(); err != nil {
		return nil, err
	}
	return r, nil
}

// degree is the topology's degree for the report: the most edges any node
// has.
func degree(o *chatOptions, edges [][2]int) int {
	if o.edges == nil {
		return o.degree
	}
	return slices.Max(degrees(o.nodes, edges))
}

// sleepUntil waits until t or until ctx is done; it reports whether t was
// reached.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}

// makePayload returns size bytes of random printable ASCII (no spaces). Its
// first bytes carry seq: 16 hex digits for Banyan texts (when size allows),
// 8 big-endian bytes for the baseline, whose receivers identify messages by
// them.
func makePayload(rng *rand.Rand, size int, seq uint64, binarySeq bool) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte('!' + rng.IntN('~'-'!'+1))
	}
	switch {
	case binarySeq:
		var p [8]byte
		binary.BigEndian.PutUint64(p[:], seq)
		copy(b, p[:])
	case size >= 16:
		h := strconv.FormatUint(seq, 16)
		copy(b, fmt.Sprintf("%016s", h))
	}
	return b
}
