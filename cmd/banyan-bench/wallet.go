package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/wallet"
)

// benchUnit is the wallet unit every wallet scenario uses.
const benchUnit = "bench"

// walletOptions are the flags of 'banyan-bench wallet'.
type walletOptions struct {
	entries  int
	payers   int
	mesh     int
	topology string
	degree   int
	timeout  time.Duration
	seed     uint64
	log      *slog.Logger
	progress func(format string, args ...any)
}

func newWalletCmd(rf *rootFlags) *cobra.Command {
	o := &walletOptions{}
	c := &cobra.Command{
		Use:   "wallet",
		Short: "Wallet: ledger merge rate, catch-up of a ledger, spread of a fraud proof",
		Long: `Three measurements of the wallet (one unit of mutual credit).

Merge: a valid history of --entries entries by --payers payers (a
guarantor's limit grants, then random payments, each receipted by its
payee) is signed beforehand; the measurement decodes every envelope
(event.Decode: parse and signature check) and adds it to a fresh ledger
(Ledger.Add), on one goroutine, in the order the entries were made, and
reads the state hash at the end (the ledger evaluates lazily).

Reconcile: node P holds that history, node L none. The history is put into
P's store directly and P is restarted, so that its wallet loads it as any
node loads its stored entries at startup; L stores and adds what it gets
through the wallet's own sync path (validation, store, ledger). L connects
to P and runs exactly one catch-up sync (held back and started as in
'banyan-bench catchup'); the result is the time from the dial until L's
ledger state hash equals P's, and the bytes on the wire.

Fork spread: --mesh nodes (a ring lattice of --degree, as 'chat' uses, or a
line) split into two halves whose links between them are not connected.
One identity X runs on two homes (a copied key), X1 attached to a node of
one half and X2 to a node of the other, as far from the cut as the
topology allows. Each half's anchor node is a guarantor and grants X
credit; X1 and X2 then pay their own anchor at the same chain position.
Once each half holds its branch, the links between the halves are
connected, all at once; the result is the time from then until every
node's ledger (X1's and X2's included) reports X frozen.

Every wait has a deadline (--timeout bounds each part, setup included).`,
		Example: `  banyan-bench wallet
  banyan-bench wallet --entries 10000 --payers 50 --mesh 10 --topology line`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.entries < 1 || o.payers < 2 || o.entries < o.payers+2 || o.timeout <= 0 || o.mesh < 0 || o.mesh == 1 {
				return errors.New("--payers must be at least 2, --entries at least payers+2, --mesh 0 (skip) or at least 2, --timeout positive")
			}
			if o.topology != "lattice" && o.topology != "line" {
				return fmt.Errorf("--topology %q: lattice or line", o.topology)
			}
			o.log, o.progress = scenarioOutput(cmd, rf)
			out, err := runWalletScenario(cmd.Context(), o)
			if err != nil {
				return err
			}
			return writeJSON(cmd.OutOrStdout(), out)
		},
	}
	f := c.Flags()
	f.IntVar(&o.entries, "entries", 10000, "entries in the history (merge and reconcile)")
	f.IntVar(&o.payers, "payers", 50, "payers in the history")
	f.IntVar(&o.mesh, "mesh", 10, "nodes in the fork-spread mesh, X's two homes not counted; 0 skips it")
	f.StringVar(&o.topology, "topology", "lattice", "fork-spread mesh: lattice (ring lattice of --degree) or line")
	f.IntVar(&o.degree, "degree", 4, "degree of the ring lattice")
	f.DurationVar(&o.timeout, "timeout", 5*time.Minute, "bound on each part, setup included")
	f.Uint64Var(&o.seed, "seed", 1, "seed of the payments' choices")
	return c
}

// WalletOutput is what 'banyan-bench wallet' prints.
type WalletOutput struct {
	Merge      *WalletMerge     `json:"merge"`
	Reconcile  *WalletReconcile `json:"reconcile"`
	ForkSpread *WalletFork      `json:"fork_spread,omitempty"`
	GoVersion  string           `json:"go_version"`
	Cores      int              `json:"cores"`
}

// WalletMerge is the in-process merge rate.
type WalletMerge struct {
	Entries int `json:"entries"`
	Payers  int `json:"payers"`
	// Grants, Payments and Receipts make up Entries.
	Grants   int `json:"grants"`
	Payments int `json:"payments"`
	Receipts int `json:"receipts"`
	// BuildS is the time taken to build and sign the history (not
	// measured).
	BuildS float64 `json:"build_s"`
	// MergeS is decoding and adding every entry and reading the state
	// hash; EntriesPerS is Entries/MergeS.
	MergeS      float64 `json:"merge_s"`
	EntriesPerS float64 `json:"entries_per_s"`
	// DecodePerS is event.Decode alone and AddPerS Ledger.Add alone (with
	// the final state hash), each over every entry, on one goroutine.
	DecodePerS float64 `json:"decode_per_s"`
	AddPerS    float64 `json:"add_per_s"`
	// HashMatches says the fresh ledger's state hash equals the
	// builder's.
	HashMatches bool `json:"hash_matches"`
}

// WalletReconcile is the catch-up of a node that holds no entries.
type WalletReconcile struct {
	Entries int `json:"entries"`
	Payers  int `json:"payers"`
	// SetupS is storing the history on P and restarting P (not measured).
	SetupS float64 `json:"setup_s"`
	// StartS is P's restart with the history stored, until it answers
	// (node.Ready: its API, and peers on every protocol); its wallet then
	// loads in the background. WalletReadyS is from the same moment until
	// the wallet has loaded every entry (pay.Service.Loaded); StartHeapMB
	// the Go heap in use then, less before the restart, after a
	// collection each time: what the started node holds, its ledger and
	// Badger's caches. StartCPUS is the CPU time the process used until
	// the wallet was ready, which a busy machine does not inflate.
	StartS       float64 `json:"start_s"`
	WalletReadyS float64 `json:"wallet_ready_s"`
	StartCPUS    float64 `json:"start_cpu_s"`
	StartHeapMB  float64 `json:"start_heap_mb"`
	// CaughtUpS is from the start of L's dial until L's ledger state hash
	// equals P's; ConnectS the dial; SyncS the sync as the syncer timed
	// it; HashS from the sync's return until the hashes matched (the
	// ledger's lazy evaluation).
	CaughtUpS float64 `json:"caught_up_s"`
	ConnectS  float64 `json:"connect_s"`
	SyncS     float64 `json:"sync_s"`
	HashS     float64 `json:"hash_s"`
	// EntriesPerS is Entries/CaughtUpS.
	EntriesPerS float64 `json:"entries_per_s"`
	Events      int     `json:"events"`
	Rejected    int     `json:"rejected"`
	Rounds      int     `json:"rounds"`
	// LedgerLen is L's ledger's entries afterwards; HashesEqual whether its
	// state hash equals P's.
	LedgerLen   int  `json:"ledger_len"`
	HashesEqual bool `json:"hashes_equal"`
	// BytesSent and BytesGot are L's sync frames; EventBytes the envelopes
	// among them; StreamBytes the sync protocol's stream payload in both
	// directions as the hosts counted it.
	BytesSent         int64   `json:"bytes_sent"`
	BytesGot          int64   `json:"bytes_got"`
	EventBytes        int64   `json:"event_bytes"`
	StreamBytes       int64   `json:"stream_bytes"`
	MeanEnvelopeBytes float64 `json:"mean_envelope_bytes"`
	CPUS              float64 `json:"cpu_s"`
	OtherCPUS         float64 `json:"other_cpu_s"`
	StealS            float64 `json:"steal_s"`
}

// WalletFork is the spread of a double spend's fraud proof.
type WalletFork struct {
	Topology string `json:"topology"`
	Nodes    int    `json:"nodes"`
	Degree   int    `json:"degree,omitempty"`
	// CutLinks are the links between the halves, connected at the heal.
	CutLinks [][2]int `json:"cut_links"`
	// Anchors are the mesh nodes X1 and X2 are attached to.
	Anchors [2]int `json:"anchors"`
	// Seq is the chain position both of X's payments take.
	Seq    uint64  `json:"seq"`
	SetupS float64 `json:"setup_s"`
	// ConnectS is how long connecting the cut links took; FrozenS, per
	// mesh node, from the start of the heal until its ledger reported X
	// frozen; X1FrozenS and X2FrozenS the same for X's two homes.
	ConnectS  float64   `json:"connect_s"`
	FrozenS   []float64 `json:"frozen_s"`
	X1FrozenS float64   `json:"x1_frozen_s"`
	X2FrozenS float64   `json:"x2_frozen_s"`
	// AllFrozenS is the largest of them all; AllFrozen whether every node
	// reported X frozen.
	AllFrozenS float64 `json:"all_frozen_s"`
	AllFrozen  bool    `json:"all_frozen"`
	// BytesIn is what all the nodes received from the start of the heal
	// until all were frozen.
	BytesIn int64 `json:"bytes_in"`
}

func runWalletScenario(ctx context.Context, o *walletOptions) (*WalletOutput, error) {
	out := &WalletOutput{GoVersion: runtime.Version(), Cores: runtime.NumCPU()}
	o.progress("wallet: building a history of %d entries by %d payers", o.entries, o.payers)
	h, err := walletHistory(o.entries, o.payers, o.seed)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	if out.Merge, err = runWalletMerge(h); err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	o.progress("wallet: merged at %.0f entries/s", out.Merge.EntriesPerS)
	if out.Reconcile, err = runWalletReconcile(ctx, o, h); err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	o.progress("wallet: reconciled in %.3fs", out.Reconcile.CaughtUpS)
	if o.mesh > 0 {
		if out.ForkSpread, err = runWalletFork(ctx, o); err != nil {
			return nil, fmt.Errorf("fork spread: %w", err)
		}
		o.progress("wallet: all frozen in %.3fs", out.ForkSpread.AllFrozenS)
	}
	return out, nil
}

// history is a signed wallet history and the ledger that built it.
type history struct {
	cfg       wallet.Config
	guarantor *crypto.Identity
	evs       []*event.Event
	hash      [32]byte
	payers    int
	build     time.Duration
	grants    int
	payments  int
	receipts  int
}

// walletHistory signs a history of n entries: a guarantor grants each of
// payers fresh identities a limit, then random payers pay random payees,
// each payment receipted by its payee at once. Entries are 1 ms apart and
// end a minute ago (a node refuses entries from the future).
func walletHistory(n, payers int, seed uint64) (*history, error) {
	start := time.Now()
	g, err := crypto.NewIdentity()
	if err != nil {
		return nil, err
	}
	ga, err := wallet.AccountOf(g.PublicKey())
	if err != nil {
		return nil, err
	}
	h := &history{cfg: wallet.Config{Unit: benchUnit, Guarantors: []wallet.Account{ga}}, guarantor: g, payers: payers}
	l, err := wallet.NewLedger(h.cfg)
	if err != nil {
		return nil, err
	}
	ids := make([]*crypto.Identity, payers)
	accts := make([]wallet.Account, payers)
	for i := range ids {
		if ids[i], err = crypto.NewIdentity(); err != nil {
			return nil, err
		}
		if accts[i], err = wallet.AccountOf(ids[i].PublicKey()); err != nil {
			return nil, err
		}
	}
	now := time.Now().Add(-time.Minute).UnixMilli() - int64(n)
	do := func(id *crypto.Identity, en wallet.Entry) (*event.Event, error) {
		now++
		e, err := l.BuildSigned(id, en, now)
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", en.Type, err)
		}
		if _, err := l.Add(e); err != nil {
			return nil, fmt.Errorf("add %s: %w", en.Type, err)
		}
		h.evs = append(h.evs, e)
		return e, nil
	}
	for i := range payers {
		if _, err := do(g, wallet.LimitGrant(accts[i], 1_000_000, "")); err != nil {
			return nil, err
		}
		h.grants++
	}
	rng := rand.New(rand.NewPCG(seed, 0x77a11e7))
	for len(h.evs) < n {
		i := rng.IntN(payers)
		j := (i + 1 + rng.IntN(payers-1)) % payers
		p, err := do(ids[i], wallet.Payment(accts[j], 1+rng.Uint64N(1000), "bench"))
		if err != nil {
			return nil, err
		}
		h.payments++
		if len(h.evs) == n {
			break
		}
		if _, err := do(ids[j], wallet.Receipt(p.ID)); err != nil {
			return nil, err
		}
		h.receipts++
	}
	h.hash = l.StateHash()
	h.build = time.Since(start)
	return h, nil
}

// runWalletMerge times decoding and adding the history into fresh ledgers:
// both together, then each alone.
func runWalletMerge(h *history) (*WalletMerge, error) {
	n := len(h.evs)
	r := &WalletMerge{
		Entries: n, Payers: h.payers, Grants: h.grants, Payments: h.payments, Receipts: h.receipts,
		BuildS: round3(h.build.Seconds()),
	}
	runtime.GC()
	l, err := wallet.NewLedger(h.cfg)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	for _, e := range h.evs {
		d, err := event.Decode(e.Raw)
		if err != nil {
			return nil, fmt.Errorf("entry %s does not decode: %w", e.ID, err)
		}
		if _, err := l.Add(d); err != nil {
			return nil, fmt.Errorf("entry %s not added: %w", e.ID, err)
		}
	}
	hash := l.StateHash()
	merge := time.Since(start)
	r.MergeS = round3(merge.Seconds())
	r.EntriesPerS = round2(float64(n) / merge.Seconds())
	r.HashMatches = hash == h.hash

	// Each half alone.
	decoded := make([]*event.Event, n)
	runtime.GC()
	start = time.Now()
	for i, e := range h.evs {
		if decoded[i], err = event.Decode(e.Raw); err != nil {
			return nil, err
		}
	}
	r.DecodePerS = round2(float64(n) / time.Since(start).Seconds())
	if l, err = wallet.NewLedger(h.cfg); err != nil {
		return nil, err
	}
	runtime.GC()
	start = time.Now()
	for _, e := range decoded {
		if _, err := l.Add(e); err != nil {
			return nil, err
		}
	}
	l.StateHash()
	r.AddPerS = round2(float64(n) / time.Since(start).Seconds())
	return r, nil
}

// walletNodeOptions configures a node's wallet for the bench unit with
// the given guarantors.
func walletNodeOptions(guarantors []wallet.Account, adjust func(*node.Options)) func(*node.Options) {
	return func(no *node.Options) {
		no.Wallet.Unit = benchUnit
		for _, g := range guarantors {
			no.Wallet.Guarantors = append(no.Wallet.Guarantors, g.String())
		}
		if adjust != nil {
			adjust(no)
		}
	}
}

func runWalletReconcile(ctx context.Context, o *walletOptions, h *history) (_ *WalletReconcile, err error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	setup := time.Now()
	pair := &syncPair{dirs: &scratch{}}
	defer func() { err = errors.Join(err, pair.close()) }()
	homes, err := pair.dirs.orderedHomes(2)
	if err != nil {
		return nil, err
	}
	opts := walletNodeOptions(h.cfg.Guarantors, func(no *node.Options) { no.SyncInterval = time.Hour })
	// P (the higher peer ID) gets the history in its store, then restarts
	// so that its wallet loads it.
	o.progress("reconcile: storing %d entries on P and restarting it", len(h.evs))
	p, err := startSoloNode(homes[1], o.log.With("node", "P"), opts)
	if err != nil {
		return nil, err
	}
	if err := putAll(p.Store(), h.evs); err != nil {
		p.stop()
		return nil, err
	}
	if err := p.stop(); err != nil {
		return nil, err
	}
	heap0 := heapInUse()
	restart, restartCPU := time.Now(), cpuTime()
	if pair.high, err = startSoloNode(homes[1], o.log.With("node", "P"), opts); err != nil {
		return nil, err
	}
	startS := time.Since(restart).Seconds()
	select {
	case <-pair.high.Wallet().Loaded():
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	readyS, startCPU := time.Since(restart).Seconds(), (cpuTime() - restartCPU).Seconds()
	heapMB := float64(heapInUse()-heap0) / (1 << 20)
	o.progress("reconcile: P started in %.3fs, its wallet ready in %.3fs, %.3f CPU-s, heap %+.1f MB", startS, readyS, startCPU, heapMB)
	pl := pair.high.Wallet().Ledger()
	if pl.Len() != len(h.evs) || pl.StateHash() != h.hash {
		return nil, fmt.Errorf("P loaded %d of %d entries, or a different state", pl.Len(), len(h.evs))
	}
	if pair.low, err = startSoloNode(homes[0], o.log.With("node", "L"), opts); err != nil {
		return nil, err
	}
	if _, err := settle(ctx); err != nil {
		return nil, err
	}
	r := &WalletReconcile{Entries: len(h.evs), Payers: h.payers, SetupS: round3(time.Since(setup).Seconds()),
		StartS: round3(startS), WalletReadyS: round3(readyS), StartCPUS: round3(startCPU), StartHeapMB: round2(heapMB)}

	o.progress("reconcile: connecting L to P and syncing")
	ll := pair.low.Wallet().Ledger()
	cpu0 := cpuTime()
	mach0, steal0 := machineCPU()
	st, err := pair.syncOnce(ctx)
	if err != nil {
		return nil, err
	}
	synced := time.Now()
	if err := waitForFast(ctx, "L's ledger to equal P's", func() (bool, string) {
		return ll.StateHash() == h.hash, fmt.Sprintf("L holds %d of %d entries", ll.Len(), len(h.evs))
	}); err != nil {
		return nil, err
	}
	caughtUp := st.Total + time.Since(synced)
	cpu1 := cpuTime()
	mach1, steal1 := machineCPU()
	r.CaughtUpS = round3(caughtUp.Seconds())
	r.ConnectS = round3(st.Connect.Seconds())
	r.SyncS = round3(st.Duration.Seconds())
	r.HashS = round3(time.Since(synced).Seconds())
	r.EntriesPerS = round2(float64(len(h.evs)) / caughtUp.Seconds())
	r.Events, r.Rejected, r.Rounds = st.EventsGot, st.Rejected, st.Rounds
	r.LedgerLen = ll.Len()
	r.HashesEqual = ll.StateHash() == pl.StateHash()
	r.BytesSent, r.BytesGot, r.EventBytes, r.StreamBytes = st.BytesSent, st.BytesGot, st.EventBytes, st.Stream
	if st.EventsGot > 0 {
		r.MeanEnvelopeBytes = round2(float64(st.EventBytes) / float64(st.EventsGot))
	}
	r.CPUS = round3((cpu1 - cpu0).Seconds())
	if mach0 > 0 {
		r.OtherCPUS = round3(max(0, (mach1-mach0)-(cpu1-cpu0)).Seconds())
		r.StealS = round3((steal1 - steal0).Seconds())
	}
	return r, nil
}

// waitForFast is waitFor polling every millisecond, for waits that are
// measured.
func waitForFast(ctx context.Context, what string, cond func() (bool, string)) error {
	for {
		ok, detail := cond()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (%s)", what, ctx.Err(), detail)
		case <-time.After(time.Millisecond):
		}
	}
}

// forkMesh lays out the fork-spread mesh: its links within the halves,
// the links between them, and the two anchors, one per half, as far from
// the cut as the topology allows.
func forkMesh(topology string, n, degree int) (inner, cut [][2]int, anchors [2]int, err error) {
	var edges [][2]int
	switch topology {
	case "line":
		for i := range n - 1 {
			edges = append(edges, [2]int{i, i + 1})
		}
		anchors = [2]int{0, n - 1}
	case "lattice":
		if edges, err = ringLattice(n, degree); err != nil {
			return nil, nil, anchors, err
		}
		anchors = [2]int{n / 4, n/2 + n/4}
	default:
		return nil, nil, anchors, fmt.Errorf("topology %q", topology)
	}
	left := func(i int) bool { return i < n/2 }
	for _, e := range edges {
		if left(e[0]) == left(e[1]) {
			inner = append(inner, e)
		} else {
			cut = append(cut, e)
		}
	}
	return inner, cut, anchors, nil
}

func runWalletFork(ctx context.Context, o *walletOptions) (_ *WalletFork, err error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	setup := time.Now()
	n := o.mesh
	inner, cut, anchors, err := forkMesh(o.topology, n, o.degree)
	if err != nil {
		return nil, err
	}
	r := &WalletFork{Topology: o.topology, Nodes: n, CutLinks: cut, Anchors: anchors}
	if o.topology == "lattice" {
		r.Degree = o.degree
	}
	o.progress("fork: starting %d nodes (%s) and X's two homes", n, o.topology)
	dirs := &scratch{}
	var nodes []*soloNode
	defer func() {
		var errs []error
		for _, nd := range nodes {
			errs = append(errs, nd.stop())
		}
		err = errors.Join(append([]error{err}, append(errs, dirs.remove())...)...)
	}()
	homes := make([]home.Home, n)
	accts := make([]wallet.Account, n)
	for i := range homes {
		if homes[i], err = dirs.home(); err != nil {
			return nil, err
		}
		id, err := homes[i].Identity(nil)
		if err != nil {
			return nil, err
		}
		if accts[i], err = wallet.AccountOf(id.PublicKey()); err != nil {
			return nil, err
		}
	}
	// X's two homes: one initialised, the other holding a copy of its key.
	x1Home, err := dirs.home()
	if err != nil {
		return nil, err
	}
	xID, err := x1Home.Identity(nil)
	if err != nil {
		return nil, err
	}
	xAcct, err := wallet.AccountOf(xID.PublicKey())
	if err != nil {
		return nil, err
	}
	x2Dir, err := os.MkdirTemp("", "banyan-bench-")
	if err != nil {
		return nil, err
	}
	dirs.dirs = append(dirs.dirs, x2Dir)
	x2Home := home.Home(x2Dir)
	key, err := os.ReadFile(x1Home.KeyFile())
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(x2Home.KeyFile(), key, 0o600); err != nil {
		return nil, err
	}

	opts := walletNodeOptions([]wallet.Account{accts[anchors[0]], accts[anchors[1]]}, nil)
	for i, h := range homes {
		nd, err := startSoloNode(h, o.log.With("node", i), opts)
		if err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		nodes = append(nodes, nd)
	}
	x1, err := startSoloNode(x1Home, o.log.With("node", "X1"), opts)
	if err != nil {
		return nil, err
	}
	nodes = append(nodes, x1)
	x2, err := startSoloNode(x2Home, o.log.With("node", "X2"), opts)
	if err != nil {
		return nil, err
	}
	nodes = append(nodes, x2)
	if x1.ID() != x2.ID() {
		return nil, errors.New("X's copied identity differs")
	}
	host := func(i int) hostLike { return nodes[i].Host() }
	if err := connectEdges(ctx, inner, host); err != nil {
		return nil, err
	}
	if err := x1.Host().Connect(ctx, nodes[anchors[0]].info()); err != nil {
		return nil, err
	}
	if err := x2.Host().Connect(ctx, nodes[anchors[1]].info()); err != nil {
		return nil, err
	}
	left := func(i int) bool { return i < n/2 }
	// The halves, each with its copy of X.
	halves := [2][]*soloNode{{x1}, {x2}}
	for i := range n {
		if left(i) {
			halves[0] = append(halves[0], nodes[i])
		} else {
			halves[1] = append(halves[1], nodes[i])
		}
	}

	// Each anchor grants X credit in its half.
	o.progress("fork: granting X credit in both halves")
	for k, a := range anchors {
		if _, err := nodes[a].Wallet().Grant(ctx, xAcct.String(), 50); err != nil {
			return nil, fmt.Errorf("grant in half %d: %w", k, err)
		}
	}
	for k, x := range []*soloNode{x1, x2} {
		if err := waitFor(ctx, fmt.Sprintf("X%d's credit", k+1), func() (bool, string) {
			return x.Wallet().Ledger().Limit(xAcct) > 0, ""
		}); err != nil {
			return nil, err
		}
	}
	// Both copies pay their own anchor at the same position.
	o.progress("fork: X1 and X2 pay")
	var pays [2]*event.Event
	for k, x := range []*soloNode{x1, x2} {
		if pays[k], err = x.Wallet().Pay(ctx, accts[anchors[k]].String(), 40, fmt.Sprintf("branch %d", k+1)); err != nil {
			return nil, fmt.Errorf("X%d pays: %w", k+1, err)
		}
	}
	if pays[0].Seq != pays[1].Seq || pays[0].ID == pays[1].ID {
		return nil, fmt.Errorf("X's payments at %d and %d: not a fork", pays[0].Seq, pays[1].Seq)
	}
	r.Seq = pays[0].Seq
	// Each half syncs outwards from X along a breadth-first tree, so that
	// it holds its branch whether or not gossip carried it (a copy of X
	// that publishes right after connecting may not know its anchor's
	// subscription yet).
	for k, x := range []*soloNode{x1, x2} {
		if _, err := x.Syncer().SyncPeer(ctx, nodes[anchors[k]].ID()); err != nil {
			return nil, fmt.Errorf("X%d syncs with its anchor: %w", k+1, err)
		}
		for _, link := range bfsTree(inner, anchors[k]) {
			if _, err := nodes[link[1]].Syncer().SyncPeer(ctx, nodes[link[0]].ID()); err != nil {
				return nil, fmt.Errorf("node %d syncs with node %d: %w", link[1], link[0], err)
			}
		}
	}
	for k, half := range halves {
		for _, nd := range half {
			l := nd.Wallet().Ledger()
			if err := waitFor(ctx, fmt.Sprintf("half %d to hold its branch", k), func() (bool, string) {
				_, ok := l.Entry(pays[k].ID)
				return ok, ""
			}); err != nil {
				return nil, err
			}
			if l.Frozen(xAcct) {
				return nil, errors.New("X frozen before the halves met")
			}
		}
	}
	if _, err := settle(ctx); err != nil {
		return nil, err
	}
	r.SetupS = round3(time.Since(setup).Seconds())

	// Heal: connect every cut link at once.
	o.progress("fork: connecting the halves")
	var bytes0 int64
	for _, nd := range nodes {
		bytes0 += nd.bw.In()
	}
	frozenAt := make([]time.Duration, len(nodes))
	var connected time.Duration
	var connectErr failure
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Go(func() {
		var cw sync.WaitGroup
		for _, e := range cut {
			cw.Go(func() {
				if err := connectEdges(ctx, [][2]int{e}, host); err != nil {
					connectErr.set(err)
				}
			})
		}
		cw.Wait()
		connected = time.Since(t0)
	})
	waitErr := waitForFast(ctx, "every node to freeze X", func() (bool, string) {
		left := 0
		for i, nd := range nodes {
			if frozenAt[i] == 0 {
				if nd.Wallet().Ledger().Frozen(xAcct) {
					frozenAt[i] = time.Since(t0)
				} else {
					left++
				}
			}
		}
		return left == 0, fmt.Sprintf("%d of %d nodes not frozen", left, len(nodes))
	})
	wg.Wait()
	var bytes1 int64
	for _, nd := range nodes {
		bytes1 += nd.bw.In()
	}
	if err := errors.Join(connectErr.get(), waitErr); err != nil {
		return nil, err
	}
	r.ConnectS = round3(connected.Seconds())
	r.AllFrozen = true
	for i, d := range frozenAt {
		s := round3(d.Seconds())
		r.AllFrozenS = max(r.AllFrozenS, s)
		switch i {
		case n:
			r.X1FrozenS = s
		case n + 1:
			r.X2FrozenS = s
		default:
			r.FrozenS = append(r.FrozenS, s)
		}
	}
	r.BytesIn = bytes1 - bytes0
	return r, nil
}

// bfsTree returns the links of a breadth-first tree of edges from root,
// each as parent, child, parents first.
func bfsTree(edges [][2]int, root int) [][2]int {
	adj := map[int][]int{}
	for _, e := range edges {
		adj[e[0]] = append(adj[e[0]], e[1])
		adj[e[1]] = append(adj[e[1]], e[0])
	}
	seen := map[int]bool{root: true}
	var out [][2]int
	for queue := []int{root}; len(queue) > 0; queue = queue[1:] {
		for _, c := range adj[queue[0]] {
			if !seen[c] {
				seen[c] = true
				out = append(out, [2]int{queue[0], c})
				queue = append(queue, c)
			}
		}
	}
	return out
}

// heapInUse returns the Go heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
