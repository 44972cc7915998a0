package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/node/private"
	"github.com/banyan-mesh/banyan/store"
)

// dmOptions are the flags of 'banyan-bench dm'.
type dmOptions struct {
	messages, waiting, size int
	timeout                 time.Duration
	seed                    uint64
	log                     *slog.Logger
	progress                func(format string, args ...any)
}

func newDMCmd(rf *rootFlags) *cobra.Command {
	o := &dmOptions{}
	c := &cobra.Command{
		Use:   "dm",
		Short: "Private messages: live throughput and latency, and collecting waiting mail",
		Long: `Three in-process nodes on loopback, each with an on-disk store in a fresh
temporary directory: A and B, who become contacts, and C, a mail carrier
connected to A. B is connected to A only.

Live: A sends --messages texts of --size bytes to B, each as soon as the
previous Send returned. A message counts as arrived when B's store records
it (its arrival log); latency is from the start of its Send.

Waiting: B stops. A sends --waiting texts; they are stored in A's own
mailbox and carried by C. Once C holds them all, A stops, B starts again
and connects to C only; B has the lower peer ID of the two, so it starts
the sync that collects the mail, as discovery has it do on connecting. The result says how long until B had every message
decrypted and stored, and how many bytes B received meanwhile.`,
		Example: `  banyan-bench dm
  banyan-bench dm --messages 1000 --waiting 1000 --cpuprofile dm.prof`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.messages < 1 || o.waiting < 0 || o.size < 1 || o.size > maxTextSize || o.timeout <= 0 {
				return fmt.Errorf("--messages must be positive, --waiting not negative, --size between 1 and %d, --timeout positive", maxTextSize)
			}
			o.log, o.progress = scenarioOutput(cmd, rf)
			out, err := runDM(cmd.Context(), o)
			if err != nil {
				return err
			}
			return writeJSON(cmd.OutOrStdout(), out)
		},
	}
	f := c.Flags()
	f.IntVar(&o.messages, "messages", 1000, "texts A sends to B while both are online")
	f.IntVar(&o.waiting, "waiting", 1000, "texts A sends to B while B is offline; 0 skips that part")
	f.IntVar(&o.size, "size", 256, "text size in bytes")
	f.DurationVar(&o.timeout, "timeout", 5*time.Minute, "bound on the whole run")
	f.Uint64Var(&o.seed, "seed", 1, "seed for message contents")
	return c
}

// DMOutput is what 'banyan-bench dm' prints.
type DMOutput struct {
	Live      *DMLive    `json:"live"`
	Waiting   *DMWaiting `json:"waiting,omitempty"`
	GoVersion string     `json:"go_version"`
	Cores     int        `json:"cores"`
}

// DMLive is A sending to B while both are online.
type DMLive struct {
	Messages  int `json:"messages"`
	Size      int `json:"size"`
	Sent      int `json:"sent"`
	Delivered int `json:"delivered"`
	// DurationS is from the first Send to the last arrival at B;
	// MsgsPerS is Delivered over it. SendMsgsPerS is the rate of the send
	// loop alone.
	DurationS    float64   `json:"duration_s"`
	MsgsPerS     float64   `json:"msgs_per_s"`
	SendMsgsPerS float64   `json:"send_msgs_per_s"`
	LatencyMS    Quantiles `json:"latency_ms"`
	SendCallMS   Quantiles `json:"send_call_ms"`
	// AcknowledgedS is from the first Send until A had B's "delivered"
	// receipt for every message (not counted in the bytes and CPU).
	AcknowledgedS float64 `json:"acknowledged_s"`
	// BytesInB is what B's host received over DurationS (stream payload,
	// after Noise and Yamux), per message and by protocol; B receives each
	// envelope directly and by gossip.
	BytesInBPerMsg    float64                 `json:"bytes_in_b_per_msg"`
	BytesInBByProto   map[protocol.ID]float64 `json:"bytes_in_b_by_protocol_per_msg"`
	MeanEnvelopeBytes float64                 `json:"mean_envelope_bytes"`
	CPUS              float64                 `json:"cpu_s"`
	OtherCPUS         float64                 `json:"other_cpu_s"`
	StealS            float64                 `json:"steal_s"`
}

// DMWaiting is B collecting messages that waited for it on a carrier.
type DMWaiting struct {
	Messages int `json:"messages"`
	// CarriedS is from A's first Send until C held every envelope.
	CarriedS float64 `json:"carried_s"`
	// Collected is the messages B had decrypted and stored; CollectS is
	// from the start of B's dial to C until the last of them, ConnectS the
	// dial alone.
	Collected int     `json:"collected"`
	CollectS  float64 `json:"collect_s"`
	ConnectS  float64 `json:"connect_s"`
	MsgsPerS  float64 `json:"msgs_per_s"`
	// BytesInB is what B's host received from the start of the dial until
	// the last message, in total and by protocol; EnvelopeBytes the sealed
	// envelopes of the waiting messages; BytesOverEnvelopes their ratio.
	BytesInB           int64                 `json:"bytes_in_b"`
	BytesInBByProto    map[protocol.ID]int64 `json:"bytes_in_b_by_protocol"`
	EnvelopeBytes      int64                 `json:"envelope_bytes"`
	BytesOverEnvelopes float64               `json:"bytes_over_envelopes"`
	CPUS               float64               `json:"cpu_s"`
	OtherCPUS          float64               `json:"other_cpu_s"`
	StealS             float64               `json:"steal_s"`
}

// dmTrio is the three nodes of the dm scenario and their directories.
type dmTrio struct {
	a, b, c *soloNode
	dirs    *scratch
}

func (t *dmTrio) close() error {
	var errs []error
	for _, n := range []*soloNode{t.a, t.b, t.c} {
		if n != nil {
			errs = append(errs, n.stop())
		}
	}
	return errors.Join(append(errs, t.dirs.remove())...)
}

func runDM(ctx context.Context, o *dmOptions) (_ *DMOutput, err error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	t := &dmTrio{dirs: &scratch{}}
	defer func() { err = errors.Join(err, t.close()) }()
	o.progress("dm: starting A, B and C")
	aHome, err := t.dirs.home()
	if err != nil {
		return nil, err
	}
	// B has a lower peer ID than C: B starts the sync when they meet.
	bc, err := t.dirs.orderedHomes(2)
	if err != nil {
		return nil, err
	}
	for i, h := range []home.Home{aHome, bc[0], bc[1]} {
		p := []**soloNode{&t.a, &t.b, &t.c}[i]
		if *p, err = startSoloNode(h, o.log.With("node", "ABC"[i:i+1]), nil); err != nil {
			return nil, err
		}
	}
	for _, peers := range [][2]*soloNode{{t.b, t.a}, {t.c, t.a}} {
		if err := peers[0].Host().Connect(ctx, peers[1].info()); err != nil {
			return nil, fmt.Errorf("connect: %w", err)
		}
	}
	o.progress("dm: making A and B contacts")
	contact, err := befriend(ctx, t.a, t.b)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(o.seed, 0))
	out := &DMOutput{GoVersion: runtime.Version(), Cores: runtime.NumCPU()}

	o.progress("dm: live: sending %d messages", o.messages)
	if out.Live, err = runDMLive(ctx, o, t, contact, rng); err != nil {
		return nil, fmt.Errorf("live: %w", err)
	}
	if o.waiting > 0 {
		o.progress("dm: waiting: %d messages for B while it is offline", o.waiting)
		if out.Waiting, err = runDMWaiting(ctx, o, t, contact, rng); err != nil {
			return nil, fmt.Errorf("waiting: %w", err)
		}
	}
	return out, nil
}

// befriend makes a and b contacts as people do: b adds a's code, a accepts
// the request. It returns a's contact record of b.
func befriend(ctx context.Context, a, b *soloNode) (*private.Contact, error) {
	if _, err := b.DMs().Add(ctx, a.DMs().Code()); err != nil {
		return nil, err
	}
	err := waitFor(ctx, "A to get B's contact request", func() (bool, string) {
		c, err := a.DMs().Contact(b.ID())
		return err == nil && c.State == private.ContactPending, fmt.Sprint(c, err)
	})
	if err != nil {
		return nil, err
	}
	c, err := a.DMs().Contact(b.ID())
	if err != nil {
		return nil, err
	}
	if c, err = a.DMs().Accept(ctx, c); err != nil {
		return nil, err
	}
	err = waitFor(ctx, "B to see the acceptance", func() (bool, string) {
		c, err := b.DMs().Contact(a.ID())
		return err == nil && c.State == private.ContactAccepted, fmt.Sprint(c, err)
	})
	return c, err
}

// dmArrivals records when each private message that match accepts first
// appeared in a node's arrival log (written, or updated: a status change).
type dmArrivals struct {
	mu     sync.Mutex
	at     map[[private.DMIDSize]byte]time.Time
	fresh  chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// watchDMs follows st's arrival log after seq, as banyanNet watches
// events, until stop. The time is taken before each read.
func watchDMs(ctx context.Context, st *store.Store, seq uint64, match func(*private.DM) bool, failed *failure) *dmArrivals {
	ctx, cancel := context.WithCancel(ctx)
	d := &dmArrivals{at: map[[private.DMIDSize]byte]time.Time{}, fresh: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		for ctx.Err() == nil {
			wake := st.Notify()
			now := time.Now()
			arr, err := st.ArrivalsSince(seq, 1024)
			if err != nil {
				if ctx.Err() == nil {
					failed.set(fmt.Errorf("arrivals: %w", err))
				}
				return
			}
			d.mu.Lock()
			for _, a := range arr {
				seq = a.Seq
				if m, ok := private.DMOf(a); ok && match(m) {
					if _, ok := d.at[m.ID]; !ok {
						d.at[m.ID] = now
					}
				}
			}
			d.mu.Unlock()
			select {
			case d.fresh <- struct{}{}:
			default:
			}
			if len(arr) == 1024 {
				continue
			}
			select {
			case <-wake:
			case <-ctx.Done():
			}
		}
	}()
	return d
}

// stop stops watching, before the store closes.
func (d *dmArrivals) stop() {
	d.cancel()
	<-d.done
}

// incoming matches texts from p.
func incoming(p peer.ID) func(*private.DM) bool {
	return func(m *private.DM) bool { return !m.Out && m.Peer == p }
}

// acknowledged matches texts to p that p said it received (or read).
func acknowledged(p peer.ID) func(*private.DM) bool {
	return func(m *private.DM) bool {
		return m.Out && m.Peer == p && (m.Status == "delivered" || m.Status == "read")
	}
}

// wait waits until every ID in want has arrived, or ctx is done, and
// returns the arrival times of those that did.
func (d *dmArrivals) wait(ctx context.Context, want map[[private.DMIDSize]byte]time.Time, failed *failure) map[[private.DMIDSize]byte]time.Time {
	got := map[[private.DMIDSize]byte]time.Time{}
	for {
		d.mu.Lock()
		for id := range want {
			if at, ok := d.at[id]; ok {
				got[id] = at
			}
		}
		d.mu.Unlock()
		if len(got) == len(want) || failed.get() != nil {
			return got
		}
		select {
		case <-d.fresh:
		case <-ctx.Done():
			return got
		}
	}
}

func runDMLive(ctx context.Context, o *dmOptions, t *dmTrio, contact *private.Contact, rng *rand.Rand) (*DMLive, error) {
	a, b := t.a, t.b
	seq0, err := b.Store().LastArrival()
	if err != nil {
		return nil, err
	}
	aSeq0, err := a.Store().LastArrival()
	if err != nil {
		return nil, err
	}
	var failed failure
	arr := watchDMs(ctx, b.Store(), seq0, incoming(a.ID()), &failed)
	defer arr.stop()
	acks := watchDMs(ctx, a.Store(), aSeq0, acknowledged(b.ID()), &failed)
	defer acks.stop()

	r := &DMLive{Messages: o.messages, Size: o.size}
	bytes0, proto0 := b.bw.In(), b.bw.InByProtocol()
	cpu0 := cpuTime()
	mach0, steal0 := machineCPU()
	started := map[[private.DMIDSize]byte]time.Time{}
	var envelopes []event.ID
	var calls []time.Duration
	first := time.Now()
	for i := range o.messages {
		at := time.Now()
		m, err := a.DMs().Send(ctx, contact, string(makePayload(rng, o.size, uint64(i), false)))
		if err != nil {
			return nil, fmt.Errorf("send %d: %w", i, err)
		}
		calls = append(calls, time.Since(at))
		started[m.ID] = at
		envelopes = append(envelopes, event.ID(m.Envelope))
	}
	sendEnd := time.Now()
	r.Sent = len(started)
	got := arr.wait(ctx, started, &failed)
	cpu1, bytes1, proto1 := cpuTime(), b.bw.In(), b.bw.InByProtocol()
	mach1, steal1 := machineCPU()
	if err := failed.get(); err != nil {
		return nil, err
	}
	if len(got) < len(started) {
		return nil, fmt.Errorf("B received %d of %d messages: %v", len(got), len(started), ctx.Err())
	}

	r.Delivered = len(got)
	var lat []time.Duration
	var last time.Time
	for id, at := range got {
		lat = append(lat, at.Sub(started[id]))
		if at.After(last) {
			last = at
		}
	}
	r.DurationS = round3(last.Sub(first).Seconds())
	r.MsgsPerS = round2(float64(r.Delivered) / last.Sub(first).Seconds())
	r.SendMsgsPerS = round2(float64(r.Sent) / sendEnd.Sub(first).Seconds())
	r.LatencyMS = quantiles(lat)
	r.SendCallMS = quantiles(calls)
	r.BytesInBPerMsg = round2(float64(bytes1-bytes0) / float64(r.Sent))
	r.BytesInBByProto = map[protocol.ID]float64{}
	for p, v := range proto1 {
		if d := v - proto0[p]; d > 0 {
			r.BytesInBByProto[p] = round2(float64(d) / float64(r.Sent))
		}
	}
	envBytes, err := envelopeBytes(a.Store(), envelopes)
	if err != nil {
		return nil, err
	}
	r.MeanEnvelopeBytes = round2(float64(envBytes) / float64(len(envelopes)))
	r.CPUS = round3((cpu1 - cpu0).Seconds())
	if mach0 > 0 {
		r.OtherCPUS = round3(max(0, (mach1-mach0)-(cpu1-cpu0)).Seconds())
		r.StealS = round3((steal1 - steal0).Seconds())
	}

	// B's receipts: A learns that B has each message. Waiting for them
	// also lets B finish its work before the waiting part stops it.
	acked := acks.wait(ctx, started, &failed)
	if err := failed.get(); err != nil {
		return nil, err
	}
	if len(acked) < len(started) {
		return nil, fmt.Errorf("A got receipts for %d of %d messages: %v", len(acked), len(started), ctx.Err())
	}
	var lastAck time.Time
	for _, at := range acked {
		if at.After(lastAck) {
			lastAck = at
		}
	}
	r.AcknowledgedS = round3(lastAck.Sub(first).Seconds())

	// The carrier holds what A sent before the waiting part starts: the
	// gossip mesh of the mailbox topic works.
	err = waitFor(ctx, "C to carry the live messages", func() (bool, string) {
		n, err := countHeld(t.c.Store(), envelopes)
		return err == nil && n == len(envelopes), fmt.Sprintf("%d of %d (%v)", n, len(envelopes), err)
	})
	return r, err
}

func runDMWaiting(ctx context.Context, o *dmOptions, t *dmTrio, contact *private.Contact, rng *rand.Rand) (*DMWaiting, error) {
	r := &DMWaiting{Messages: o.waiting}
	bHome := t.b.home
	if err := t.b.stop(); err != nil {
		return nil, fmt.Errorf("stop B: %w", err)
	}
	want := map[[private.DMIDSize]byte]time.Time{}
	var envelopes []event.ID
	first := time.Now()
	for i := range o.waiting {
		m, err := t.a.DMs().Send(ctx, contact, string(makePayload(rng, o.size, uint64(o.messages+i), false)))
		if err != nil {
			return nil, fmt.Errorf("send %d: %w", i, err)
		}
		want[m.ID] = time.Time{}
		envelopes = append(envelopes, event.ID(m.Envelope))
	}
	err := waitFor(ctx, "C to carry the waiting messages", func() (bool, string) {
		n, err := countHeld(t.c.Store(), envelopes)
		return err == nil && n == len(envelopes), fmt.Sprintf("%d of %d (%v)", n, len(envelopes), err)
	})
	if err != nil {
		return nil, err
	}
	r.CarriedS = round3(time.Since(first).Seconds())
	if r.EnvelopeBytes, err = envelopeBytes(t.a.Store(), envelopes); err != nil {
		return nil, err
	}
	aID := t.a.ID()
	if err := t.a.stop(); err != nil {
		return nil, fmt.Errorf("stop A: %w", err)
	}

	o.progress("dm: waiting: B back, connecting to C")
	if t.b, err = startSoloNode(bHome, o.log.With("node", "B"), nil); err != nil {
		return nil, fmt.Errorf("restart B: %w", err)
	}
	b := t.b
	seq0, err := b.Store().LastArrival()
	if err != nil {
		return nil, err
	}
	var failed failure
	arr := watchDMs(ctx, b.Store(), seq0, incoming(aID), &failed)
	defer arr.stop()
	bytes0, proto0 := b.bw.In(), b.bw.InByProtocol()
	cpu0 := cpuTime()
	mach0, steal0 := machineCPU()
	t0 := time.Now()
	if err := b.Host().Connect(ctx, t.c.info()); err != nil {
		return nil, fmt.Errorf("connect B to C: %w", err)
	}
	connect := time.Since(t0)
	// B, the lower peer ID, syncs with C on connecting. A connection made
	// as a node starts can come before its discovery watches connections,
	// and then only the periodic sync (15 to 25 s later) would collect the
	// mail; so the benchmark asks B's syncer itself, as discovery would.
	// Requests for one peer merge: one sync runs.
	b.Syncer().Trigger(t.c.ID())
	got := arr.wait(ctx, want, &failed)
	cpu1, bytes1, proto1 := cpuTime(), b.bw.In(), b.bw.InByProtocol()
	mach1, steal1 := machineCPU()
	if err := failed.get(); err != nil {
		return nil, err
	}
	r.Collected = len(got)
	if len(got) < len(want) {
		return nil, fmt.Errorf("B collected %d of %d messages: %v", len(got), len(want), ctx.Err())
	}
	var last time.Time
	for _, at := range got {
		if at.After(last) {
			last = at
		}
	}
	r.ConnectS = round3(connect.Seconds())
	r.CollectS = round3(last.Sub(t0).Seconds())
	r.MsgsPerS = round2(float64(r.Collected) / last.Sub(t0).Seconds())
	r.BytesInB = bytes1 - bytes0
	r.BytesInBByProto = map[protocol.ID]int64{}
	for p, v := range proto1 {
		if d := v - proto0[p]; d > 0 {
			r.BytesInBByProto[p] = d
		}
	}
	r.BytesOverEnvelopes = ratio(float64(r.BytesInB), float64(r.EnvelopeBytes))
	r.CPUS = round3((cpu1 - cpu0).Seconds())
	if mach0 > 0 {
		r.OtherCPUS = round3(max(0, (mach1-mach0)-(cpu1-cpu0)).Seconds())
		r.StealS = round3((steal1 - steal0).Seconds())
	}
	// B's receipts, which wait a while and go together, are sent when B
	// stops.
	return r, nil
}

// countHeld counts the events of ids that st holds.
func countHeld(st *store.Store, ids []event.ID) (int, error) {
	n := 0
	for _, id := range ids {
		has, err := st.HasEvent(id)
		if err != nil {
			return n, err
		}
		if has {
			n++
		}
	}
	return n, nil
}

// envelopeBytes sums the sizes of stored envelopes.
func envelopeBytes(st *store.Store, ids []event.ID) (int64, error) {
	var n int64
	for _, id := range ids {
		e, err := st.Event(id)
		if err != nil {
			return 0, fmt.Errorf("envelope %s: %w", id, err)
		}
		n += int64(len(e.Raw))
	}
	return n, nil
}
