package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh/reconcile"
	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/store"
)

// catchupOptions are the flags of 'banyan-bench catchup'.
type catchupOptions struct {
	authors  int
	messages []int
	size     int
	insync   int
	carry    bool
	// relay makes the holder a relay that keeps the group without its key.
	relay bool
	// syncProfile, if set, is where to write a CPU profile of each
	// measured catch-up sync alone.
	syncProfile string
	// syncTrace, the same for an execution trace.
	syncTrace string
	timeout   time.Duration
	seed      uint64
	log       *slog.Logger
	progress  func(format string, args ...any)
}

func newCatchupCmd(rf *rootFlags) *cobra.Command {
	o := &catchupOptions{}
	c := &cobra.Command{
		Use:   "catchup",
		Short: "Catch-up sync of a late node, and the cost of an in-sync round",
		Long: `Two scenarios of catch-up sync (range-based set reconciliation), each on two
in-process nodes on loopback with on-disk stores in fresh temporary
directories.

Catch-up: node P holds a group's history of --messages texts of --size bytes
by --authors authors; node L created the group, P joined it (same key, no
inviter address), and L holds nothing. L runs in a process of its own (this
program, started again), so that its memory is its own. L connects to P and
runs one sync; the result says how long until L's store held every event,
the bytes on the wire, the rate at which L validated (signature,
decryption) and stored events, and each node's CPU and peak memory.
Each value of --messages is a separate run on fresh nodes; with several, the
linearity section compares the first and the last. With --relay, P is a
relay ('banyan relay') that L registered the group with: it holds the
history sealed, without the key, as a relay does for a member back from a
week away.

In-sync: both nodes hold the same --insync events; one sync between them
costs what an idle periodic sync costs (--insync 0 skips it).

Histories are signed here, with one identity per author and the group key
sealed exactly as a node's own Send does, and put into the holders' stores
with store.PutEvents: building them is not measured, and their signatures
are checked only by the measured sync, which validates everything it
receives.

Exactly one sync is measured: L has the lower peer ID, so P never starts a
sync on connecting; L's own on-connect sync is held back (a sync attempt
with a cancelled context stamps the peer as synced just now, so the syncer
merges the on-connect request into a later one); the benchmark then calls
SyncPeer itself and reads its statistics. Periodic syncs are an hour apart.
The in-sync scenario runs both nodes in this process.`,
		Example: `  banyan-bench catchup
  banyan-bench catchup --messages 10000,100000 --insync 100000
  banyan-bench catchup --messages 100000 --insync 0 --sync-cpuprofile catchup.prof && go tool pprof -top catchup.prof`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.authors < 1 || o.size < 1 || o.size > maxTextSize || o.insync < 0 || o.timeout <= 0 {
				return fmt.Errorf("--authors must be positive, --size between 1 and %d, --insync not negative, --timeout positive", maxTextSize)
			}
			for _, m := range o.messages {
				if m < 1 {
					return fmt.Errorf("--messages %d: must be positive", m)
				}
			}
			if o.syncProfile != "" && rf.cpuProfile != "" {
				return errors.New("--sync-cpuprofile and --cpuprofile exclude each other (one CPU profile at a time)")
			}
			o.log, o.progress = scenarioOutput(cmd, rf)
			out, err := runCatchupScenario(cmd.Context(), o)
			if err != nil {
				return err
			}
			return writeJSON(cmd.OutOrStdout(), out)
		},
	}
	f := c.Flags()
	f.IntVar(&o.authors, "authors", 20, "authors of the history, taking turns")
	f.IntSliceVar(&o.messages, "messages", []int{10000}, "messages in the history; several values (10000,100000) run once each and are compared")
	f.IntVar(&o.size, "size", 256, "text size in bytes")
	f.IntVar(&o.insync, "insync", 100000, "events both nodes hold in the in-sync scenario; 0 skips it")
	f.BoolVar(&o.relay, "relay", false, "the node that holds the history is a relay ('banyan relay') the group is registered with: it holds it sealed, without the key")
	f.BoolVar(&o.carry, "carry", true, "nodes carry mail of every mailbox bucket, as nodes do by default (16 mailbox scopes take part in every sync); false keeps only their own bucket")
	f.StringVar(&o.syncTrace, "sync-trace", "", "write an execution trace of each measured catch-up sync (go tool trace), named as --sync-cpuprofile names its profiles")
	f.StringVar(&o.syncProfile, "sync-cpuprofile", "", "write a CPU profile of each measured catch-up sync alone (no setup): the late node's to this file, suffixed with .MESSAGES when --messages has several values, and the holder's to the same name with .holder added")
	f.DurationVar(&o.timeout, "timeout", 10*time.Minute, "bound on each run, setup included")
	f.Uint64Var(&o.seed, "seed", 1, "seed for message contents")
	return c
}

// CatchupOutput is what 'banyan-bench catchup' prints.
type CatchupOutput struct {
	CatchUp   []*CatchupRun `json:"catch_up,omitempty"`
	Linearity *Linearity    `json:"linearity,omitempty"`
	InSync    *InSyncRun    `json:"in_sync,omitempty"`
	GoVersion string        `json:"go_version"`
	Cores     int           `json:"cores"`
}

// CatchupRun is one catch-up of a late node.
type CatchupRun struct {
	Messages int `json:"messages"`
	Authors  int `json:"authors"`
	Size     int `json:"size"`
	// SetupS is the time taken to sign the history and store it on P (not
	// part of the measurement), SettleS the part of it spent waiting for
	// the process to fall idle (Badger compacting what was stored).
	SetupS  float64 `json:"setup_s"`
	SettleS float64 `json:"settle_s"`
	// CaughtUpS is from the start of L's dial to P until the sync returned
	// with every event stored on L; ConnectS is the dial, SyncS the sync as
	// the syncer timed it (stream opened to last frame).
	CaughtUpS float64 `json:"caught_up_s"`
	ConnectS  float64 `json:"connect_s"`
	SyncS     float64 `json:"sync_s"`
	// Events is the envelopes L received; Stored what L's store holds of
	// the group afterwards; Rejected the envelopes L found invalid.
	Events   int `json:"events"`
	Stored   int `json:"stored"`
	Rejected int `json:"rejected"`
	Rounds   int `json:"rounds"`
	// BytesSent and BytesGot are L's sync frames (after Noise and Yamux);
	// EventBytes the envelopes among BytesGot.
	BytesSent  int64 `json:"bytes_sent"`
	BytesGot   int64 `json:"bytes_got"`
	EventBytes int64 `json:"event_bytes"`
	// WireOverEvents is (BytesSent+BytesGot)/EventBytes.
	WireOverEvents float64 `json:"wire_over_events"`
	// StreamBytes is the sync protocol's libp2p stream payload in both
	// directions, protocol negotiation included, as the hosts counted it.
	StreamBytes int64 `json:"stream_bytes"`
	// MeanEnvelopeBytes is EventBytes/Events; EnvelopeOverhead divides it by
	// Size.
	MeanEnvelopeBytes float64 `json:"mean_envelope_bytes"`
	EnvelopeOverhead  float64 `json:"envelope_overhead"`
	// VerifyRate is Events/CaughtUpS: envelopes decoded, verified,
	// decrypted and stored per second.
	VerifyRate float64 `json:"verify_rate"`
	// DecodePerCore is how many of these envelopes event.Decode (parse
	// and verify the signature, nothing else) handles per second on one
	// goroutine on this machine, measured just before the sync, once the
	// setup's background work is done. OfDecodeBound is VerifyRate over
	// DecodePerCore times GOMAXPROCS: 1 would mean the catch-up ran as
	// fast as signature checks on every core allow.
	DecodePerCore float64 `json:"decode_per_core"`
	OfDecodeBound float64 `json:"of_decode_bound"`
	// CPUS is both nodes' CPU over CaughtUpS, LateCPUS the late node's
	// part of it; OtherCPUS the rest of the machine's, StealS the
	// hypervisor's.
	CPUS      float64 `json:"cpu_s"`
	LateCPUS  float64 `json:"late_cpu_s"`
	OtherCPUS float64 `json:"other_cpu_s"`
	StealS    float64 `json:"steal_s"`
	// L runs in a process of its own. SyncPeakRSSMB is L's peak RSS
	// during the sync, HolderSyncPeakRSSMB that of the benchmark's process
	// (P) in the same time (0 where the peak cannot be reset); PeakRSSMB is
	// the benchmark process's peak so far, setup and earlier runs included.
	PeakRSSMB           float64 `json:"peak_rss_mb"`
	SyncPeakRSSMB       float64 `json:"sync_peak_rss_mb"`
	HolderSyncPeakRSSMB float64 `json:"holder_sync_peak_rss_mb"`
	// LateAnonMB and LateFileMB split L's RSS when the sync has ended:
	// its own memory, and the pages of files it maps (the program, and
	// Badger's tables and value log).
	LateAnonMB float64 `json:"late_anon_mb"`
	LateFileMB float64 `json:"late_file_mb"`
}

// Linearity compares the first and the last catch-up runs.
type Linearity struct {
	Messages [2]int `json:"messages"`
	// MessagesRatio is last/first messages; TimeRatio last/first
	// caught_up_s: equal for linear scaling.
	MessagesRatio float64 `json:"messages_ratio"`
	TimeRatio     float64 `json:"time_ratio"`
	// USPerEvent is caught_up_s per event, in microseconds, for each.
	USPerEvent [2]float64 `json:"us_per_event"`
}

// InSyncRun is one sync between two nodes that hold the same events.
type InSyncRun struct {
	Events  int     `json:"events"`
	SetupS  float64 `json:"setup_s"`
	SettleS float64 `json:"settle_s"`
	Rounds  int     `json:"rounds"`
	// BytesSent and BytesGot are the initiator's sync frames; WireBytes
	// their sum, StreamBytes what the hosts counted for the protocol.
	BytesSent   int64   `json:"bytes_sent"`
	BytesGot    int64   `json:"bytes_got"`
	WireBytes   int64   `json:"wire_bytes"`
	StreamBytes int64   `json:"stream_bytes"`
	DurationMS  float64 `json:"duration_ms"`
	// Scopes is how many scopes the sync covered (the group and the
	// mailbox buckets); EventsMoved must be 0.
	Scopes      int     `json:"scopes"`
	EventsMoved int     `json:"events_moved"`
	CPUS        float64 `json:"cpu_s"`
	OtherCPUS   float64 `json:"other_cpu_s"`
	StealS      float64 `json:"steal_s"`
	// The first sync builds each node's sums of the scope's history (one
	// scan); Again* are a second sync right after it, as the periodic
	// syncs that follow cost.
	AgainRounds    int     `json:"again_rounds"`
	AgainWireBytes int64   `json:"again_wire_bytes"`
	AgainMS        float64 `json:"again_ms"`
	AgainCPUS      float64 `json:"again_cpu_s"`
}

func runCatchupScenario(ctx context.Context, o *catchupOptions) (*CatchupOutput, error) {
	out := &CatchupOutput{GoVersion: runtime.Version(), Cores: runtime.NumCPU()}
	for _, m := range o.messages {
		r, err := runCatchup(ctx, o, m)
		if err != nil {
			return nil, fmt.Errorf("catch-up of %d messages: %w", m, err)
		}
		out.CatchUp = append(out.CatchUp, r)
	}
	if n := len(out.CatchUp); n >= 2 {
		a, b := out.CatchUp[0], out.CatchUp[n-1]
		out.Linearity = &Linearity{
			Messages:      [2]int{a.Messages, b.Messages},
			MessagesRatio: ratio(float64(b.Messages), float64(a.Messages)),
			TimeRatio:     ratio(b.CaughtUpS, a.CaughtUpS),
			USPerEvent:    [2]float64{round2(a.CaughtUpS * 1e6 / float64(a.Messages)), round2(b.CaughtUpS * 1e6 / float64(b.Messages))},
		}
	}
	if o.insync > 0 {
		r, err := runInSync(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("in-sync round: %w", err)
		}
		out.InSync = r
	}
	return out, nil
}

// syncPair is two nodes in one group, not connected: low has the lower
// peer ID, so that only it starts syncs between them.
type syncPair struct {
	low, high *soloNode
	gLow      *groupchat.Group // low's record of the group
	// gHigh is high's record of the group; with --relay, the members'
	// (the relay has none), which signs the history it holds.
	gHigh *groupchat.Group
	dirs  *scratch
}

func newSyncPair(ctx context.Context, o *catchupOptions) (_ *syncPair, err error) {
	p := &syncPair{dirs: &scratch{}}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	homes, err := p.dirs.orderedHomes(2)
	if err != nil {
		return nil, err
	}
	opts := func(no *node.Options) {
		no.SyncInterval = time.Hour
		no.Mailbox.NoCarry = !o.carry
	}
	if p.low, err = startSoloNode(homes[0], o.log.With("node", "low"), opts); err != nil {
		return nil, err
	}
	highOpts := opts
	if o.relay {
		highOpts = func(no *node.Options) { opts(no); no.Relay = true }
	}
	if p.high, err = startSoloNode(homes[1], o.log.With("node", "high"), highOpts); err != nil {
		return nil, err
	}
	if o.relay {
		if p.gLow, err = p.low.Groups().Create("bench"); err != nil {
			return nil, err
		}
		p.gHigh = p.gLow
		return p, p.high.Relay().Register(p.low.ID(), p.gLow.Scope())
	}
	if p.gHigh, err = p.high.Groups().Create("bench"); err != nil {
		return nil, err
	}
	// Joined without the inviter's address: the nodes must not meet
	// before the measurement.
	inv := p.high.Groups().Invite(p.gHigh)
	inv.Inviter = peer.AddrInfo{}
	in, err := groupchat.ParseInvite(inv.String())
	if err != nil {
		return nil, err
	}
	if p.gLow, err = p.low.Groups().Join(ctx, in); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *syncPair) close() error {
	var errs []error
	for _, n := range []*soloNode{p.low, p.high} {
		if n != nil {
			errs = append(errs, n.stop())
		}
	}
	return errors.Join(append(errs, p.dirs.remove())...)
}

// oneSync is the outcome of syncPair.syncOnce.
type oneSync struct {
	*reconcile.Stats
	// Connect is the time the dial took; Total from the start of the dial
	// until the sync returned.
	Connect, Total time.Duration
	// Stream is the sync protocol's stream bytes in both directions, as the
	// two hosts counted them.
	Stream int64
}

// syncOnce runs exactly one sync between the pair, started by low.
func (p *syncPair) syncOnce(ctx context.Context) (*oneSync, error) {
	in0 := p.high.streamIn(reconcile.ProtocolID)
	st, err := syncOnce(ctx, p.low, p.high.info())
	if err != nil {
		return nil, err
	}
	st.Stream += p.high.streamIn(reconcile.ProtocolID) - in0
	return st, nil
}

// syncOnce connects low to high and runs exactly one sync, started by low;
// Stream counts low's side only.
//
// high never starts a sync on connecting (discovery leaves that to the
// lower peer ID), and periodic syncs are an hour apart. low's own
// on-connect sync is held back: a SyncPeer with a cancelled context fails
// at once but stamps high as synced just now, so the syncer merges the
// on-connect request into one that starts MinInterval later and never
// while this one runs.
func syncOnce(ctx context.Context, low *soloNode, high peer.AddrInfo) (*oneSync, error) {
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := low.Syncer().SyncPeer(cancelled, high.ID); err == nil {
		return nil, errors.New("holding back the on-connect sync: a sync with a cancelled context succeeded")
	}
	in0 := low.streamIn(reconcile.ProtocolID)
	t0 := time.Now()
	if err := low.Host().Connect(ctx, high); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	connect := time.Since(t0)
	st, err := low.Syncer().SyncPeer(ctx, high.ID)
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	return &oneSync{Stats: st, Connect: connect, Total: time.Since(t0), Stream: low.streamIn(reconcile.ProtocolID) - in0}, nil
}

func runCatchup(ctx context.Context, o *catchupOptions, messages int) (_ *CatchupRun, err error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	o.progress("catch-up: %d messages by %d authors: starting two nodes", messages, o.authors)
	setup := time.Now()
	dirs := &scratch{}
	defer func() { err = errors.Join(err, dirs.remove()) }()
	homes, err := dirs.orderedHomes(2)
	if err != nil {
		return nil, err
	}
	lateProfile, holderProfile := syncFileNames(o.syncProfile, o, messages)
	lateTrace, holderTrace := syncFileNames(o.syncTrace, o, messages)
	late, err := startLate(ctx, homes[0], o.carry, lateProfile, lateTrace)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, late.close()) }()
	full, err := startSoloNode(homes[1], o.log.With("node", "holder"), func(no *node.Options) {
		no.SyncInterval = time.Hour
		no.Mailbox.NoCarry = !o.carry
		no.Relay = o.relay
	})
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, full.stop()) }()
	in, err := groupchat.ParseInvite(late.hello.Invite)
	if err != nil {
		return nil, err
	}
	g := inviteGroup(in)
	if o.relay {
		err = full.Relay().Register(late.hello.Peer, g.Scope())
	} else {
		_, err = full.Groups().Join(ctx, in)
	}
	if err != nil {
		return nil, err
	}
	o.progress("catch-up: signing and storing the history")
	evs, err := groupHistory(g, o.authors, messages, o.size, o.seed)
	if err != nil {
		return nil, err
	}
	if err := putAll(full.Store(), evs); err != nil {
		return nil, err
	}
	settled, err := settle(ctx)
	if err != nil {
		return nil, err
	}
	decodeRate, err := decodeRate(evs, 2000)
	if err != nil {
		return nil, err
	}
	evs = nil
	debug.FreeOSMemory()
	r := &CatchupRun{
		Messages: messages, Authors: o.authors, Size: o.size,
		SetupS: round3(time.Since(setup).Seconds()), SettleS: round3(settled.Seconds()),
	}
	peakReset := resetPeakRSS()

	o.progress("catch-up: connecting and syncing")
	stopRecording, err := startSyncRecordings(holderProfile, holderTrace)
	if err != nil {
		return nil, err
	}
	in0 := full.streamIn(reconcile.ProtocolID)
	cpu0 := cpuTime()
	mach0, steal0 := machineCPU()
	rep, err := late.sync(full.info())
	cpu1 := cpuTime()
	mach1, steal1 := machineCPU()
	if perr := stopRecording(); err == nil {
		err = perr
	}
	if err != nil {
		return nil, err
	}
	st := rep.Sync
	if r.Stored = rep.Stored; r.Stored != messages {
		return nil, fmt.Errorf("after the sync the late node holds %d of %d events (%d rejected)", r.Stored, messages, st.Rejected)
	}
	r.CaughtUpS = round3(st.Total.Seconds())
	r.ConnectS = round3(st.Connect.Seconds())
	r.SyncS = round3(st.Duration.Seconds())
	r.Events, r.Rejected, r.Rounds = st.EventsGot, st.Rejected, st.Rounds
	r.BytesSent, r.BytesGot, r.EventBytes = st.BytesSent, st.BytesGot, st.EventBytes
	r.WireOverEvents = ratio(float64(st.BytesSent+st.BytesGot), float64(st.EventBytes))
	r.StreamBytes = st.Stream + full.streamIn(reconcile.ProtocolID) - in0
	if st.EventsGot > 0 {
		r.MeanEnvelopeBytes = round2(float64(st.EventBytes) / float64(st.EventsGot))
	}
	r.EnvelopeOverhead = ratio(r.MeanEnvelopeBytes, float64(o.size))
	r.VerifyRate = round2(float64(st.EventsGot) / st.Total.Seconds())
	r.DecodePerCore = round2(decodeRate)
	r.OfDecodeBound = ratio(r.VerifyRate, decodeRate*float64(runtime.GOMAXPROCS(0)))
	r.LateCPUS = round3(rep.CPU.Seconds())
	r.CPUS = round3((cpu1 - cpu0 + rep.CPU).Seconds())
	if mach0 > 0 {
		r.OtherCPUS = round3(max(0, (mach1-mach0)-(cpu1-cpu0)-rep.CPU).Seconds())
		r.StealS = round3((steal1 - steal0).Seconds())
	}
	r.PeakRSSMB = peakRSSMB()
	r.SyncPeakRSSMB = rep.PeakRSSMB
	r.LateAnonMB, r.LateFileMB = rep.AnonMB, rep.FileMB
	if hwm, _, err := procStatusMB(0); err == nil && peakReset {
		r.HolderSyncPeakRSSMB = hwm
	}
	o.progress("catch-up: %d events in %.3fs", r.Events, r.CaughtUpS)
	return r, nil
}

func runInSync(ctx context.Context, o *catchupOptions) (_ *InSyncRun, err error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	o.progress("in-sync: %d events on both nodes: starting two nodes", o.insync)
	setup := time.Now()
	pair, err := newSyncPair(ctx, o)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, pair.close()) }()
	evs, err := groupHistory(pair.gHigh, o.authors, o.insync, o.size, o.seed)
	if err != nil {
		return nil, err
	}
	for _, n := range []*soloNode{pair.low, pair.high} {
		if err := putAll(n.Store(), evs); err != nil {
			return nil, err
		}
	}
	evs = nil
	debug.FreeOSMemory()
	settled, err := settle(ctx)
	if err != nil {
		return nil, err
	}
	r := &InSyncRun{Events: o.insync, SetupS: round3(time.Since(setup).Seconds()), SettleS: round3(settled.Seconds())}

	o.progress("in-sync: connecting and syncing")
	cpu0 := cpuTime()
	mach0, steal0 := machineCPU()
	st, err := pair.syncOnce(ctx)
	if err != nil {
		return nil, err
	}
	cpu1 := cpuTime()
	mach1, steal1 := machineCPU()
	r.Rounds = st.Rounds
	r.BytesSent, r.BytesGot, r.WireBytes = st.BytesSent, st.BytesGot, st.BytesSent+st.BytesGot
	r.StreamBytes = st.Stream
	r.DurationMS = ms(st.Duration)
	r.Scopes = st.ScopesSynced
	r.EventsMoved = st.EventsGot + st.EventsSent
	r.CPUS = round3((cpu1 - cpu0).Seconds())
	if mach0 > 0 {
		r.OtherCPUS = round3(max(0, (mach1-mach0)-(cpu1-cpu0)).Seconds())
		r.StealS = round3((steal1 - steal0).Seconds())
	}
	cpu0 = cpuTime()
	again, err := pair.low.Syncer().SyncPeer(ctx, pair.high.ID())
	if err != nil {
		return nil, fmt.Errorf("second in-sync round: %w", err)
	}
	r.AgainCPUS = round3((cpuTime() - cpu0).Seconds())
	r.AgainRounds, r.AgainWireBytes, r.AgainMS = again.Rounds, again.BytesSent+again.BytesGot, ms(again.Duration)
	return r, nil
}

// groupText is the plaintext of a group message, as node.encodeText
// writes it: the deterministic CBOR map {1: text}.
type groupText struct {
	Text string `cbor:"1,keyasint"`
}

var textEnc = crypto.CanonicalCBOR

// groupHistory signs a history of group g: messages texts of size bytes
// from authors fresh identities taking turns, each author's events chained
// as Groups.Send chains them, one millisecond apart and ending a minute
// ago. Authors sign in parallel.
func groupHistory(g *groupchat.Group, authors, messages, size int, seed uint64) ([]*event.Event, error) {
	scope := g.Scope()
	start := time.Now().Add(-time.Minute).UnixMilli() - int64(messages)
	evs := make([]*event.Event, messages)
	var failed failure
	var wg sync.WaitGroup
	work := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for a := range work {
				if err := signAuthor(g.Key, scope, a, authors, start, size, seed, evs); err != nil {
					failed.set(err)
				}
			}
		})
	}
	for a := range min(authors, messages) {
		work <- a
	}
	close(work)
	wg.Wait()
	return evs, failed.get()
}

// signAuthor signs author a's share of the history: events a, a+authors,
// a+2*authors...
func signAuthor(key [crypto.KeySize]byte, scope event.Scope, a, authors int, start int64, size int, seed uint64, evs []*event.Event) error {
	id, err := crypto.NewIdentity()
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, uint64(a)))
	var prev []byte
	for i, seq := a, uint64(1); i < len(evs); i, seq = i+authors, seq+1 {
		pt, err := textEnc.Marshal(groupText{Text: string(makePayload(rng, size, uint64(i), false))})
		if err != nil {
			return err
		}
		b := event.Body{Scope: scope[:], Seq: seq, Prev: prev, Time: start + int64(i), Kind: event.KindGroupMessage}
		if b.Payload, err = crypto.Seal(key, pt, crypto.GroupAD(scope[:], id.PublicKey(), seq)); err != nil {
			return err
		}
		e, err := event.Sign(id, b)
		if err != nil {
			return err
		}
		evs[i] = e
		prev = e.ID[:]
	}
	return nil
}

// settle waits until this process is idle, using under a tenth of a core
// over 200 ms, so that the background work of a setup (Badger flushing
// and compacting what was stored) does not count in what follows. It
// gives up after 30 s and returns how long it waited.
func settle(ctx context.Context) (time.Duration, error) {
	const window = 200 * time.Millisecond
	start := time.Now()
	for time.Since(start) < 30*time.Second {
		c0 := cpuTime()
		select {
		case <-ctx.Done():
			return time.Since(start), ctx.Err()
		case <-time.After(window):
		}
		if cpuTime()-c0 < window/10 {
			break
		}
	}
	return time.Since(start), nil
}

// resetPeakRSS restarts the process's VmHWM from its current RSS (Linux
// 4.0 and later); it reports whether that worked.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// syncFileNames are the files of --sync-cpuprofile or --sync-trace (base)
// for the late node and the holder ("" for none).
func syncFileNames(base string, o *catchupOptions, messages int) (late, holder string) {
	if base == "" {
		return "", ""
	}
	name := base
	if len(o.messages) > 1 {
		name = fmt.Sprintf("%s.%d", name, messages)
	}
	return name, name + ".holder"
}

// decodeRate times event.Decode, the parse and signature check every
// received envelope goes through, on up to n of evs, on one goroutine.
func decodeRate(evs []*event.Event, n int) (float64, error) {
	n = min(n, len(evs))
	start := time.Now()
	for _, e := range evs[:n] {
		if _, err := event.Decode(e.Raw); err != nil {
			return 0, fmt.Errorf("generated event does not decode: %w", err)
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// putAll stores verified events a thousand at a time.
func putAll(st *store.Store, evs []*event.Event) error {
	for c := range slices.Chunk(evs, 1000) {
		arr, err := st.PutEvents(c, store.PutOptions{})
		if err != nil {
			return err
		}
		if slices.Contains(arr, 0) {
			return errors.New("an event of the generated history was stored twice")
		}
	}
	return st.Sync()
}

// soloNode is one Banyan node that a scenario starts, stops and restarts
// on its own (banyanNet runs a fixed set for the duration of a run).
type soloNode struct {
	*node.Node
	home   home.Home
	bw     *byteCounter
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// startSoloNode starts a node on loopback with home (initialised), no mDNS
// and no API; adjust may change the options.
func startSoloNode(home home.Home, log *slog.Logger, adjust func(*node.Options)) (*soloNode, error) {
	bw := newByteCounter()
	opts := node.Options{
		Home:      home,
		Listen:    []string{"/ip4/127.0.0.1/tcp/0"},
		API:       "off",
		NoMDNS:    true,
		Logger:    log,
		Bandwidth: bw,
	}
	if adjust != nil {
		adjust(&opts)
	}
	n, err := node.New(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &soloNode{Node: n, home: home, bw: bw, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- n.Serve(ctx) }()
	select {
	case <-n.Ready():
	case err := <-s.done:
		cancel()
		return nil, fmt.Errorf("start node: %w", err)
	}
	return s, nil
}

// stop stops the node and waits for it to close its store.
func (n *soloNode) stop() error {
	n.once.Do(func() {
		n.cancel()
		select {
		case n.err = <-n.done:
		case <-time.After(30 * time.Second):
			n.err = errors.New("node did not stop within 30s")
		}
	})
	return n.err
}

func (n *soloNode) info() peer.AddrInfo { return peer.AddrInfo{ID: n.ID(), Addrs: n.Host().Addrs()} }

// streamIn returns the stream bytes the node received for protocol p.
func (n *soloNode) streamIn(p protocol.ID) int64 { return n.bw.InByProtocol()[p] }

// scratch holds a scenario's temporary directories.
type scratch struct{ dirs []string }

// home returns a new, initialised data directory.
func (s *scratch) home() (home.Home, error) {
	dir, err := os.MkdirTemp("", "banyan-bench-")
	if err != nil {
		return "", err
	}
	s.dirs = append(s.dirs, dir)
	h := home.Home(dir)
	if _, err := h.Init(nil); err != nil {
		return "", err
	}
	return h, nil
}

// orderedHomes returns n new data directories sorted by peer ID.
func (s *scratch) orderedHomes(n int) ([]home.Home, error) {
	type idHome struct {
		id   peer.ID
		home home.Home
	}
	var hs []idHome
	for range n {
		h, err := s.home()
		if err != nil {
			return nil, err
		}
		id, err := h.Identity(nil)
		if err != nil {
			return nil, err
		}
		hs = append(hs, idHome{id.PeerID(), h})
	}
	slices.SortFunc(hs, func(a, b idHome) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	out := make([]home.Home, n)
	for i, h := range hs {
		out[i] = h.home
	}
	return out, nil
}

func (s *scratch) remove() error {
	var errs []error
	for _, d := range s.dirs {
		errs = append(errs, os.RemoveAll(d))
	}
	s.dirs = nil
	return errors.Join(errs...)
}
