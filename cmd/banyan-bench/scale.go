package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/mesh/reconcile"
)

// scaleOptions are the flags of 'banyan-bench scale'.
type scaleOptions struct {
	chat    chatOptions
	members int
}

func newScaleCmd(rf *rootFlags) *cobra.Command {
	o := &scaleOptions{}
	c := &cobra.Command{
		Use:   "scale",
		Short: "A village group of 200 members, 50 of them online: delivery, latency, bytes, CPU",
		Long: `One group of --members members, --nodes of them online as Banyan nodes in
this process (the 'chat' scenario's nodes, workload and measurements), the
others away for the whole run.

A Banyan group has no member list: whoever holds the group key is a member
(docs/PROTOCOL.md section 6). What the online nodes know of an absent member
is what that member wrote before going away. So each of the --members minus
--nodes absent members is an identity of its own that holds the group key
and wrote --history messages to the group (signed, sealed with the group
key, a chain of its own) shortly before the run, and every online node holds
those messages when the run starts, as after an earlier sync. The absent
members never run: nothing is sent to them, and what they cost the online
nodes is the larger history that every sync fingerprints and the authors
every node keeps apart.

The online nodes are connected as one LAN's nodes are after mDNS found them
all (--degree 0: everyone to everyone; or a ring lattice of --degree) and
chat at --rate messages per second in total, senders taken round-robin.
Delivery counts (message, online receiver) pairs; latency is from the Send
call to the message's arrival in the receiver's store; bytes in are split by
protocol (gossipsub, sync).`,
		Example: `  banyan-bench scale
  banyan-bench scale --duration 60s --cpuprofile scale.prof && go tool pprof -top scale.prof`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ch := &o.chat
			if ch.degree == 0 {
				ch.degree = ch.nodes - 1
			}
			if o.members < ch.nodes {
				return fmt.Errorf("--members %d: must be at least --nodes (%d)", o.members, ch.nodes)
			}
			if ch.offlineHistory < 0 {
				return errors.New("--history must not be negative")
			}
			if ch.rate <= 0 || ch.duration <= 0 || ch.warmup < 0 || ch.size < 8 || ch.size > maxTextSize {
				return fmt.Errorf("--rate and --duration must be positive, --warmup not negative, --size between 8 and %d", maxTextSize)
			}
			if _, err := ringLattice(ch.nodes, ch.degree); err != nil {
				return err
			}
			ch.offline = o.members - ch.nodes
			ch.log, ch.progress = scenarioOutput(cmd, rf)
			stop, _, err := startLoad(ch.load)
			if err != nil {
				return fmt.Errorf("--load: %w", err)
			}
			defer stop()
			r, err := runChat(cmd.Context(), ch, "banyan")
			if err != nil {
				return err
			}
			return writeJSON(cmd.OutOrStdout(), newScaleReport(o, r))
		},
	}
	f := c.Flags()
	ch := &o.chat
	f.IntVar(&o.members, "members", 200, "members of the group, online or not")
	f.IntVar(&ch.nodes, "nodes", 50, "members online: Banyan nodes in this process")
	f.IntVar(&ch.offlineHistory, "history", 4, "messages each absent member wrote before going away")
	f.IntVar(&ch.degree, "degree", 0, "connections per online node (0: every online node to every other, as on one LAN)")
	f.IntVar(&ch.size, "size", 256, "message size in bytes")
	f.Float64Var(&ch.rate, "rate", 20, "messages per second, in total over all online members")
	f.DurationVar(&ch.duration, "duration", 30*time.Second, "measured send phase")
	f.DurationVar(&ch.warmup, "warmup", 5*time.Second, "send phase before the measured one (not measured)")
	f.DurationVar(&ch.drain, "drain", 30*time.Second, "how long to wait for the last deliveries after sending")
	f.DurationVar(&ch.setup, "setup-timeout", 10*time.Minute, "how long starting, connecting, seeding history and forming the gossip mesh may take")
	f.Uint64Var(&ch.seed, "seed", 1, "seed for message contents")
	f.IntVar(&ch.load, "load", 0, "threads of other work kept busy meanwhile, in a process of their own (0: none)")
	return c
}

// ScaleReport is the result of 'banyan-bench scale'.
type ScaleReport struct {
	Members int `json:"members"`
	Online  int `json:"online"`
	// Offline members hold the key and wrote OfflineHistory messages each
	// before the run; HeldAtStart is the events every online node held
	// when the run started (theirs).
	Offline        int `json:"offline"`
	OfflineHistory int `json:"offline_history"`
	HeldAtStart    int `json:"held_at_start"`
	// DeliveryPct is the run's delivery ratio in percent.
	DeliveryPct float64 `json:"delivery_pct"`
	// Bytes in per online node per measured message, by gossipsub, by
	// sync and by everything else (identify, clocks...).
	GossipBytesPerNodePerMsg float64 `json:"gossip_bytes_in_per_node_per_msg"`
	SyncBytesPerNodePerMsg   float64 `json:"sync_bytes_in_per_node_per_msg"`
	OtherBytesPerNodePerMsg  float64 `json:"other_bytes_in_per_node_per_msg"`
	// Run is the chat run, with every figure 'chat' reports.
	Run *ChatReport `json:"run"`
}

func newScaleReport(o *scaleOptions, r *ChatReport) *ScaleReport {
	s := &ScaleReport{
		Members: o.members, Online: o.chat.nodes, Offline: o.chat.offline, OfflineHistory: o.chat.offlineHistory,
		HeldAtStart: o.chat.offline * o.chat.offlineHistory, DeliveryPct: round2(100 * r.DeliveryRatio), Run: r,
	}
	for p, v := range r.BytesInByProtocol {
		switch {
		case isGossipsub(p):
			s.GossipBytesPerNodePerMsg += v
		case p == reconcile.ProtocolID:
			s.SyncBytesPerNodePerMsg += v
		default:
			s.OtherBytesPerNodePerMsg += v
		}
	}
	s.GossipBytesPerNodePerMsg = round2(s.GossipBytesPerNodePerMsg)
	s.SyncBytesPerNodePerMsg = round2(s.SyncBytesPerNodePerMsg)
	s.OtherBytesPerNodePerMsg = round2(s.OtherBytesPerNodePerMsg)
	return s
}

// isGossipsub reports whether p is one of gossipsub's protocol versions.
func isGossipsub(p protocol.ID) bool { return strings.HasPrefix(string(p), "/meshsub/") }

// seedAbsent gives every node of b the history of o.offline absent
// members, as an earlier sync would have, and checks that each stored
// all of it.
func seedAbsent(ctx context.Context, b *banyanNet, o *chatOptions) error {
	if o.offline == 0 || o.offlineHistory == 0 {
		return nil
	}
	// Each absent member an identity of its own, writing in turn, as
	// 'catchup' builds a history.
	evs, err := groupHistory(b.groups[0], o.offline, o.offline*o.offlineHistory, o.size, o.seed)
	if err != nil {
		return err
	}
	raws := make([][]byte, len(evs))
	for i, e := range evs {
		raws[i] = e.Raw
	}
	scope := b.groups[0].Scope()
	for i, n := range b.nodes {
		if err := ctx.Err(); err != nil {
			return err
		}
		// A node may have some of it from a peer by sync already: those
		// are neither stored again nor rejected.
		_, rejected, err := n.Engine().Accept(scope, raws)
		if err != nil {
			return fmt.Errorf("node %d: absent members' history: %w", i, err)
		}
		if rejected != 0 {
			return fmt.Errorf("node %d rejected %d of the absent members' %d messages", i, rejected, len(raws))
		}
	}
	for i, n := range b.nodes {
		for _, e := range evs {
			if has, err := n.Store().HasEvent(e.ID); err != nil || !has {
				return fmt.Errorf("node %d lacks an absent member's message (%v)", i, err)
			}
		}
	}
	return nil
}
