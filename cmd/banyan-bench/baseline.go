package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
)

// baselineTopic is the baseline's one gossip topic.
const baselineTopic = "/banyan-bench/baseline"

// baselineDifferences lists how the baseline's gossipsub differs from
// Banyan's (mesh.Gossip); every other option is the same: flood publish,
// message size limit, outbound and validation queue sizes.
var baselineDifferences = []string{
	"signing: gossipsub signs every message with the host key and checks it (Ed25519), where Banyan's gossipsub does not sign and the engine checks the event's own Ed25519 signature",
	"message ID: gossipsub's default (author and sequence number), where Banyan hashes the whole message (SHA-256)",
	"no peer scoring, no subscription filter and no topic validator in the baseline",
	"no store, no encryption, no sync in the baseline",
	"subscription buffer: 4,096 in the baseline, whose subscriber records deliveries; 256 in Banyan, whose validator stores them and whose subscriber only drains",
}

// baselineNet is the baseline: N bare libp2p hosts, built by mesh.NewHost
// exactly as Banyan builds its own (same transports, security, muxer and
// resource limits), running gossipsub with Banyan's options where they
// apply (baselineDifferences) on one topic, with nothing on top: no store,
// no validator, no encryption.
type baselineNet struct {
	hosts  []host.Host
	topics []*pubsub.Topic
	bw     []*byteCounter
	tr     []*meshTracer

	cancel  context.CancelFunc
	readers sync.WaitGroup
	failed  failure
	once    sync.Once
	err     error
}

func newBaselineNet(ctx context.Context, o *chatOptions, edges [][2]int, rec *recorder) (_ *baselineNet, err error) {
	runCtx, cancel := context.WithCancel(context.Background())
	b := &baselineNet{cancel: cancel}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	var subs []*pubsub.Subscription
	for i := range o.nodes {
		id, err := crypto.NewIdentity()
		if err != nil {
			return nil, err
		}
		bw := newByteCounter()
		h, err := mesh.NewHost(mesh.HostOptions{
			Identity:    id,
			ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")},
			Bandwidth:   bw,
		})
		if err != nil {
			return nil, fmt.Errorf("host %d: %w", i, err)
		}
		b.hosts = append(b.hosts, h)
		b.bw = append(b.bw, bw)
		tr := &meshTracer{peers: map[peer.ID]bool{}}
		b.tr = append(b.tr, tr)
		// Banyan's gossipsub options where they apply
		// (baselineDifferences); the tracer only observes (mesh
		// membership, drops).
		ps, err := pubsub.NewGossipSub(runCtx, h, pubsub.WithRawTracer(tr),
			pubsub.WithFloodPublish(true),
			pubsub.WithMaxMessageSize(event.MaxEnvelopeSize+1024),
			pubsub.WithPeerOutboundQueueSize(256),
			pubsub.WithValidateQueueSize(1024),
		)
		if err != nil {
			return nil, fmt.Errorf("gossipsub %d: %w", i, err)
		}
		t, err := ps.Join(baselineTopic)
		if err != nil {
			return nil, err
		}
		b.topics = append(b.topics, t)
		// The subscription is the baseline's delivery path (Banyan's is
		// its validator): a deep buffer, so that a reader starved of CPU
		// is measured as late rather than losing messages.
		sub, err := t.Subscribe(pubsub.WithBufferSize(4096))
		if err != nil {
			return nil, err
		}
		subs = append(subs, sub)
	}
	if err := connectEdges(ctx, edges, func(i int) hostLike { return b.hosts[i] }); err != nil {
		return nil, err
	}
	deg := degrees(len(b.hosts), edges)
	err = waitFor(ctx, "every host to see its neighbours in the gossip mesh", func() (bool, string) {
		for i, t := range b.topics {
			peers, mesh := len(t.ListPeers()), b.tr[i].meshPeers()
			if peers < deg[i] || mesh < min(deg[i], meshLow) {
				return false, fmt.Sprintf("host %d: %d topic peers, %d in mesh, want %d", i, peers, mesh, deg[i])
			}
		}
		return true, ""
	})
	if err != nil {
		return nil, err
	}
	for i, sub := range subs {
		b.readers.Add(1)
		go func() {
			defer b.readers.Done()
			defer sub.Cancel()
			for {
				m, err := sub.Next(runCtx)
				if err != nil {
					if runCtx.Err() == nil {
						b.failed.set(fmt.Errorf("host %d: subscription: %w", i, err))
					}
					return
				}
				now := time.Now()
				if len(m.Data) >= 8 {
					rec.arrive(i, string(m.Data[:8]), now)
				}
			}
		}()
	}
	return b, nil
}

func (b *baselineNet) send(ctx context.Context, from int, seq uint64, payload []byte) (string, error) {
	if err := b.failed.get(); err != nil {
		return "", err
	}
	if err := b.topics[from].Publish(ctx, payload); err != nil {
		return "", err
	}
	return string(payload[:8]), nil
}

func (b *baselineNet) bytesInByProtocol() map[protocol.ID]int64 { return sumByProtocol(b.bw) }

func (b *baselineNet) bytesIn() int64 {
	var s int64
	for _, c := range b.bw {
		s += c.In()
	}
	return s
}

func (b *baselineNet) report(r *ChatReport) {
	var drops, undeliverable uint64
	for _, t := range b.tr {
		drops += t.dropped.Load()
		undeliverable += t.undeliverable.Load()
	}
	if drops+undeliverable > 0 {
		r.Rejected = map[string]uint64{"validation_queue_full": drops, "undeliverable": undeliverable}
	}
}

func (b *baselineNet) close() error {
	b.once.Do(func() {
		b.cancel()
		done := make(chan struct{})
		go func() { b.readers.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			b.err = errors.New("subscriptions did not stop within 30s")
		}
		for _, t := range b.topics {
			_ = t.Close() // fails while subscribed; the host closes anyway
		}
		for _, h := range b.hosts {
			if err := h.Close(); err != nil {
				b.err = errors.Join(b.err, err)
			}
		}
		b.err = errors.Join(b.err, b.failed.get())
	})
	return b.err
}

// meshTracer follows one host's gossipsub mesh (it has one topic) and
// counts the messages gossipsub dropped.
type meshTracer struct {
	mu            sync.Mutex
	peers         map[peer.ID]bool
	dropped       atomic.Uint64
	undeliverable atomic.Uint64
}

func (t *meshTracer) meshPeers() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.peers)
}

func (t *meshTracer) Graft(p peer.ID, topic string) {
	t.mu.Lock()
	t.peers[p] = true
	t.mu.Unlock()
}

func (t *meshTracer) Prune(p peer.ID, topic string) {
	t.mu.Lock()
	delete(t.peers, p)
	t.mu.Unlock()
}

func (t *meshTracer) RejectMessage(m *pubsub.Message, reason string) {
	if reason == pubsub.RejectValidationQueueFull || reason == pubsub.RejectValidationThrottled {
		t.dropped.Add(1)
	}
}

func (t *meshTracer) UndeliverableMessage(*pubsub.Message) { t.undeliverable.Add(1) }

func (t *meshTracer) OnNewOutboundStream(peer.ID, protocol.ID)             {}
func (t *meshTracer) OnClosedOutboundStream(peer.ID)                       {}
func (t *meshTracer) Join(string)                                          {}
func (t *meshTracer) Leave(string)                                         {}
func (t *meshTracer) ValidateMessage(*pubsub.Message)                      {}
func (t *meshTracer) DeliverMessage(*pubsub.Message)                       {}
func (t *meshTracer) DuplicateMessage(*pubsub.Message)                     {}
func (t *meshTracer) ThrottlePeer(peer.ID)                                 {}
func (t *meshTracer) RecvRPC(*pubsub.RPC)                                  {}
func (t *meshTracer) SendRPC(*pubsub.RPC, peer.ID)                         {}
func (t *meshTracer) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
func (t *meshTracer) DropRPC(*pubsub.RPC, peer.ID)                         {}
