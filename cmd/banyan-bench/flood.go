package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node/groupchat"
)

// floodOptions are the flags of 'banyan-bench flood'.
type floodOptions struct {
	chat   chatOptions
	size   int
	rate   float64
	rotate bool
}

func newFloodCmd(rf *rootFlags) *cobra.Command {
	o := &floodOptions{}
	c := &cobra.Command{
		Use:   "flood",
		Short: "A hostile peer floods the node two honest nodes chat through",
		Long: `Three Banyan nodes in this process on loopback, in a line: A - M - B, all in
one group. A and B chat through M (--rate messages per second in total,
alternately), first undisturbed and then while a hostile peer, a separate
process, floods M at its maximum rate with valid-looking traffic: group
events on the group's topic, well formed and signed, of the group's scope,
by an author who is not a member. When M disconnects it, the attacker
comes back under a new identity at once (--rotate), as a determined one
would.

The result has both runs (latency from A's or B's Send to the other's
store, as in 'chat'), their p99 ratio, this process's CPU and peak RSS
(which bound M's: A and B do the same work in both runs), and what the
attacker sent. The flooded run goes first, so that its peak RSS is not
raised by what an earlier run left behind. The attacker's own CPU is
reported apart: on a small machine it competes with the nodes for the
same cores, which a real attacker on its own machine would not.`,
		Example: `  banyan-bench flood
  banyan-bench flood --rate 20 --duration 30s --cpuprofile flood.prof`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ch := &o.chat
			if ch.rate <= 0 || ch.duration <= 0 || ch.warmup < 0 || ch.size < 16 || ch.size > maxTextSize {
				return fmt.Errorf("--rate and --duration must be positive, --warmup not negative, --size between 16 and %d", maxTextSize)
			}
			if o.size < 1 || o.size > event.MaxPayloadSize || o.rate < 0 {
				return fmt.Errorf("--flood-size must be between 1 and %d, --flood-rate not negative", event.MaxPayloadSize)
			}
			ch.log, ch.progress = scenarioOutput(cmd, rf)
			out, err := runFlood(cmd.Context(), o)
			if err != nil {
				return err
			}
			return writeJSON(cmd.OutOrStdout(), out)
		},
	}
	f := c.Flags()
	f.IntVar(&o.chat.size, "size", 256, "honest message size in bytes")
	f.Float64Var(&o.chat.rate, "rate", 20, "honest messages per second, in total")
	f.DurationVar(&o.chat.duration, "duration", 20*time.Second, "measured send phase of each run")
	f.DurationVar(&o.chat.warmup, "warmup", 2*time.Second, "send phase before the measured one (not measured)")
	f.DurationVar(&o.chat.drain, "drain", 10*time.Second, "how long to wait for the last deliveries after sending")
	f.DurationVar(&o.chat.setup, "setup-timeout", 60*time.Second, "how long starting, connecting and forming the gossip mesh may take")
	f.Uint64Var(&o.chat.seed, "seed", 1, "seed for message contents")
	f.IntVar(&o.size, "flood-size", 1024, "payload bytes of each hostile event")
	f.Float64Var(&o.rate, "flood-rate", 0, "hostile events per second; 0 is as fast as the attacker can")
	f.BoolVar(&o.rotate, "rotate", true, "come back under a new identity when disconnected")
	return c
}

// FloodReport is what 'banyan-bench flood' prints.
type FloodReport struct {
	Quiet   *ChatReport `json:"quiet"`
	Flooded *ChatReport `json:"flooded"`
	// P99Ratio and CPURatio are flooded / quiet.
	P99Ratio float64 `json:"p99_ratio"`
	CPURatio float64 `json:"cpu_ratio"`
}

func runFlood(ctx context.Context, o *floodOptions) (*FloodReport, error) {
	ch := o.chat
	ch.nodes, ch.edges, ch.senders = 3, [][2]int{{0, 1}, {1, 2}}, []int{0, 2}
	// The flooded run goes first, so that its peak RSS is its own.
	ch.attack = func(ctx context.Context, b *banyanNet) (func() (*FloodPeerReport, error), error) {
		return startFloodPeer(ctx, b, o)
	}
	flooded, err := runChat(ctx, &ch, "banyan")
	if err != nil {
		return nil, fmt.Errorf("flooded run: %w", err)
	}
	runtime.GC()
	ch.attack = nil
	quiet, err := runChat(ctx, &ch, "banyan")
	if err != nil {
		return nil, fmt.Errorf("quiet run: %w", err)
	}
	return &FloodReport{
		Quiet: quiet, Flooded: flooded,
		P99Ratio: ratio(flooded.LatencyMS.P99, quiet.LatencyMS.P99),
		CPURatio: ratio(flooded.CPUS, quiet.CPUS),
	}, nil
}

// startFloodPeer starts the attacker process against the middle node and
// returns when it floods.
func startFloodPeer(ctx context.Context, b *banyanNet, o *floodOptions) (func() (*FloodPeerReport, error), error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	m := b.nodes[1]
	target := peer.AddrInfo{ID: m.Host().ID(), Addrs: m.Host().Addrs()}
	addrs, err := peer.AddrInfoToP2pAddrs(&target)
	if err != nil || len(addrs) == 0 {
		return nil, fmt.Errorf("target address: %v", err)
	}
	scope := b.groups[1].Scope()
	cmd := exec.Command(self, "flood-peer",
		"--target", addrs[0].String(), "--scope", scope.String(),
		fmt.Sprintf("--size=%d", o.size), fmt.Sprintf("--rate=%g", o.rate), fmt.Sprintf("--rotate=%t", o.rotate))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := bufio.NewScanner(stdout)
	lines.Buffer(nil, 1<<20)
	ready := make(chan error, 1)
	go func() {
		if lines.Scan() && lines.Text() == "flooding" {
			ready <- nil
			return
		}
		ready <- errors.New("the attacker did not start flooding")
	}()
	select {
	case err = <-ready:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	stop := func() (*FloodPeerReport, error) {
		stdin.Close()
		var rep FloodPeerReport
		var derr error
		if lines.Scan() {
			derr = json.Unmarshal(lines.Bytes(), &rep)
		} else {
			derr = errors.New("no report from the attacker")
		}
		if err := cmd.Wait(); err != nil {
			return nil, fmt.Errorf("attacker: %w", err)
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rep.CPUS = round3(time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds())
		}
		return &rep, derr
	}
	return stop, nil
}

// FloodPeerReport is what the attacker did.
type FloodPeerReport struct {
	// Published counts hostile events handed to gossipsub; gossipsub
	// drops what its queue to the target cannot take.
	Published int `json:"published"`
	// Identities is how many peer IDs it used; Disconnects how often the
	// target closed its connection.
	Identities  int `json:"identities"`
	Disconnects int `json:"disconnects"`
	// RefusedReconnects counts dials the target refused.
	RefusedReconnects int `json:"refused_reconnects"`
	// CPUS is the attacker process's own CPU time.
	CPUS float64 `json:"cpu_s"`
}

// newFloodPeerCmd is the attacker of 'flood', run as a separate process so
// that its own work is not charged to the nodes. It floods until stdin
// closes, then prints its report.
func newFloodPeerCmd() *cobra.Command {
	var (
		target, scope string
		size          int
		perSecond     float64
		rotate        bool
	)
	c := &cobra.Command{
		Use:    "flood-peer",
		Short:  "The hostile peer of 'flood' (started by it)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ai, err := peer.AddrInfoFromString(target)
			if err != nil {
				return fmt.Errorf("--target: %w", err)
			}
			raw, err := hex.DecodeString(scope)
			if err != nil || len(raw) != event.ScopeSize {
				return fmt.Errorf("--scope: want %d hex bytes", event.ScopeSize)
			}
			var s event.Scope
			copy(s[:], raw)
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			go func() {
				io.Copy(io.Discard, cmd.InOrStdin())
				cancel()
			}()
			f := &floodPeer{target: *ai, scope: s, size: size, rotate: rotate, limit: rate.NewLimiter(rate.Inf, 1)}
			if perSecond > 0 {
				f.limit = rate.NewLimiter(rate.Limit(perSecond), 1)
			}
			err = f.run(ctx, func() { fmt.Fprintln(cmd.OutOrStdout(), "flooding") })
			if err != nil && ctx.Err() == nil {
				return err
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(&f.rep)
		},
	}
	fl := c.Flags()
	fl.StringVar(&target, "target", "", "multiaddr of the node to flood, with /p2p/")
	fl.StringVar(&scope, "scope", "", "scope of the group to flood, hex")
	fl.IntVar(&size, "size", 1024, "payload bytes of each event")
	fl.Float64Var(&perSecond, "rate", 0, "events per second; 0 is as fast as it can")
	fl.BoolVar(&rotate, "rotate", true, "come back under a new identity when disconnected")
	return c
}

// floodPeer is a raw libp2p peer with plain gossipsub and no validation.
type floodPeer struct {
	target peer.AddrInfo
	scope  event.Scope
	size   int
	rotate bool
	limit  *rate.Limiter
	rep    FloodPeerReport
}

// run floods until ctx ends, starting over under a new identity each time
// the target drops it.
func (f *floodPeer) run(ctx context.Context, started func()) error {
	var once sync.Once
	for ctx.Err() == nil {
		err := f.session(ctx, func() { once.Do(started) })
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errRefused):
			f.rep.RefusedReconnects++
		case err != nil:
			return err
		default:
			f.rep.Disconnects++
		}
		if !f.rotate {
			<-ctx.Done()
			return nil
		}
	}
	return nil
}

var errRefused = errors.New("the target refused the connection")

// session floods under one fresh identity until the target disconnects
// it or ctx ends.
func (f *floodPeer) session(ctx context.Context, flooding func()) error {
	id, err := crypto.NewIdentity()
	if err != nil {
		return err
	}
	h, err := mesh.NewHost(mesh.HostOptions{Identity: id, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}})
	if err != nil {
		return err
	}
	defer h.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ps, err := rawGossip(sctx, h)
	if err != nil {
		return err
	}
	topic, err := ps.Join(groupchat.TopicName(f.scope))
	if err != nil {
		return err
	}
	if _, err := topic.Subscribe(); err != nil {
		return err
	}
	f.rep.Identities++
	dctx, dcancel := context.WithTimeout(sctx, 10*time.Second)
	err = h.Connect(dctx, f.target)
	dcancel()
	if err != nil {
		return errRefused
	}
	if err := waitTopicPeer(sctx, topic, f.target.ID); err != nil {
		return err
	}
	flooding()
	payload := make([]byte, f.size)
	var prev []byte
	for seq := uint64(1); sctx.Err() == nil; seq++ {
		if seq%64 == 0 && h.Network().Connectedness(f.target.ID) != network.Connected {
			return nil
		}
		if err := f.limit.Wait(sctx); err != nil {
			return nil
		}
		rand.Read(payload)
		e, err := event.Sign(id, event.Body{
			Scope: f.scope[:], Seq: seq, Prev: prev, Time: time.Now().UnixMilli(),
			Kind: event.KindGroupMessage, Payload: payload,
		})
		if err != nil {
			return err
		}
		prev = e.ID[:]
		if err := topic.Publish(sctx, e.Raw); err != nil {
			return nil
		}
		f.rep.Published++
	}
	return nil
}

// rawGossip is plain gossipsub with Banyan's message IDs and no
// validation: what a peer that follows no rules runs.
func rawGossip(ctx context.Context, h host.Host) (*pubsub.PubSub, error) {
	return pubsub.NewGossipSub(ctx, h,
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(func(m *pb.Message) string { s := sha256.Sum256(m.Data); return string(s[:]) }),
		pubsub.WithMaxMessageSize(1<<20),
		pubsub.WithFloodPublish(true),
	)
}

// waitTopicPeer waits until p is seen subscribed to t.
func waitTopicPeer(ctx context.Context, t *pubsub.Topic, p peer.ID) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, q := range t.ListPeers() {
			if q == p {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return errRefused
		case <-tick.C:
		}
	}
}
