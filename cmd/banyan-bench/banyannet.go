package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/content"
	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/home"
)

const maxTextSize = content.MaxText

// banyanNet is N Banyan nodes in this process, each with an on-disk store
// in its own temporary directory.
type banyanNet struct {
	nodes  []*node.Node
	groups []*groupchat.Group // each node's record of the group
	bw     []*byteCounter
	dirs   []string

	cancel context.CancelFunc // stops Serve and the arrival watchers
	served sync.WaitGroup
	failed failure
	once   sync.Once
	err    error
}

func newBanyanNet(ctx context.Context, o *chatOptions, edges [][2]int, rec *recorder) (_ *banyanNet, err error) {
	runCtx, cancel := context.WithCancel(context.Background())
	b := &banyanNet{cancel: cancel}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	for i := range o.nodes {
		dir, err := os.MkdirTemp("", "banyan-bench-")
		if err != nil {
			return nil, err
		}
		b.dirs = append(b.dirs, dir)
		home := home.Home(dir)
		if _, err := home.Init(nil); err != nil {
			return nil, err
		}
		bw := newByteCounter()
		n, err := node.New(node.Options{
			Home:      home,
			Listen:    []string{"/ip4/127.0.0.1/tcp/0"},
			API:       "off",
			NoMDNS:    true,
			Logger:    o.log.With("node", i),
			Bandwidth: bw,
		})
		if err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		b.nodes = append(b.nodes, n)
		b.bw = append(b.bw, bw)
		b.served.Add(1)
		stopped := make(chan struct{})
		go func() {
			defer b.served.Done()
			defer close(stopped)
			if err := n.Serve(runCtx); err != nil {
				b.failed.set(fmt.Errorf("node %d: %w", i, err))
			}
		}()
		select {
		case <-n.Ready():
		case <-stopped:
			return nil, fmt.Errorf("node %d did not start", i)
		}
	}
	if err := connectEdges(ctx, edges, func(i int) hostLike { return b.nodes[i].Host() }); err != nil {
		return nil, err
	}

	// One group, created on node 0 and joined by the others with an invite.
	// The invite's inviter address is left out: joining would otherwise
	// dial node 0 from every node and break the fixed degree.
	g, err := b.nodes[0].Groups().Create("bench")
	if err != nil {
		return nil, err
	}
	b.groups = append(b.groups, g)
	inv := b.nodes[0].Groups().Invite(g)
	inv.Inviter = peer.AddrInfo{}
	code := inv.String()
	for i, n := range b.nodes[1:] {
		in, err := groupchat.ParseInvite(code)
		if err != nil {
			return nil, err
		}
		gi, err := n.Groups().Join(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("node %d: join: %w", i+1, err)
		}
		b.groups = append(b.groups, gi)
	}
	if err := seedAbsent(ctx, b, o); err != nil {
		return nil, err
	}
	deg := degrees(len(b.nodes), edges)
	err = waitFor(ctx, "every node to see its neighbours in the gossip mesh", func() (bool, string) {
		for i, n := range b.nodes {
			peers, mesh := n.Groups().TopicPeers(b.groups[i])
			if peers < deg[i] || mesh < min(deg[i], meshLow) {
				return false, fmt.Sprintf("node %d: %d topic peers, %d in mesh, want %d", i, peers, mesh, deg[i])
			}
		}
		return true, ""
	})
	if err != nil {
		return nil, err
	}

	// Watch every node's arrival log: every event stored, in order, none
	// lost. The time is taken before each read, so it is no earlier than
	// the store committed any event the read returns.
	for i, n := range b.nodes {
		b.served.Add(1)
		go func() {
			defer b.served.Done()
			st := n.Store()
			var seq uint64
			for runCtx.Err() == nil {
				wake := st.Notify()
				now := time.Now()
				arr, err := st.ArrivalsSince(seq, 1024)
				if err != nil {
					if runCtx.Err() == nil {
						b.failed.set(fmt.Errorf("node %d: arrivals: %w", i, err))
					}
					return
				}
				for _, a := range arr {
					rec.arrive(i, string(a.Event.ID[:]), now)
					seq = a.Seq
				}
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
	return b, nil
}

func (b *banyanNet) send(ctx context.Context, from int, seq uint64, payload []byte) (string, error) {
	if err := b.failed.get(); err != nil {
		return "", err
	}
	m, err := b.nodes[from].Groups().Send(ctx, b.groups[from], string(payload))
	if err != nil {
		return "", err
	}
	return string(m.Event.ID[:]), nil
}

func (b *banyanNet) bytesInByProtocol() map[protocol.ID]int64 { return sumByProtocol(b.bw) }

func (b *banyanNet) bytesIn() int64 {
	var s int64
	for _, c := range b.bw {
		s += c.In()
	}
	return s
}

func (b *banyanNet) report(r *ChatReport) {
	r.Rejected = map[string]uint64{}
	var marks, stores, markS, storeS float64
	for _, n := range b.nodes {
		st := n.Stats()
		for k, v := range st.Rejected() {
			r.Rejected[k] += v
		}
		c, s, _ := st.Mark.Histogram()
		marks, markS = marks+float64(c), markS+s
		c, s, _ = st.Store.Histogram()
		stores, storeS = stores+float64(c), storeS+s
	}
	if marks > 0 && stores > 0 {
		r.OwnWriteMS = map[string]float64{"mark": 1000 * markS / marks, "store": 1000 * storeS / stores}
	}
}

// close stops the nodes, waits for them, and removes their directories.
func (b *banyanNet) close() error {
	b.once.Do(func() {
		b.cancel()
		done := make(chan struct{})
		go func() { b.served.Wait(); close(done) }()
		// Fifty nodes on a busy machine take a while to close their
		// stores.
		limit := time.Duration(max(30, 2*len(b.nodes))) * time.Second
		select {
		case <-done:
		case <-time.After(limit):
			b.err = fmt.Errorf("nodes did not stop within %v", limit)
		}
		b.err = errors.Join(b.err, b.failed.get())
		for _, d := range b.dirs {
			if err := os.RemoveAll(d); err != nil {
				b.err = errors.Join(b.err, err)
			}
		}
	})
	return b.err
}
