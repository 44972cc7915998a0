package mesh

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// ErrIgnore, wrapped in a validator's error, tells gossipsub to drop a
// message without penalising the peer that sent it (a duplicate, say).
// Any other error rejects the message and counts against the sender.
var ErrIgnore = errors.New("ignored")

// Validator checks a message received on a topic. It is called once per
// message, before the message is forwarded; from is the peer that sent it.
// It runs in one of gossipsub's few validation workers, so it must not wait
// on the network: while it waits, messages queue in gossipsub's bounded
// validation queue (and are dropped there, unpenalised, when it is full).
type Validator func(ctx context.Context, from peer.ID, data []byte) error

// GossipOptions configures NewGossip.
type GossipOptions struct {
	Logger *slog.Logger
	// Guard, if set, adds its view of each peer to gossipsub's peer score.
	Guard *Guard
}

// Gossip is gossipsub with Banyan's settings: no pubsub-level signing
// (every event carries its own signature), message IDs that cover the
// whole message,
// and message size bounded by the envelope limit. It is built without
// touching the network; Start starts gossipsub and joins the topics joined
// before.
type Gossip struct {
	h      host.Host
	tracer *tracer
	log    *slog.Logger
	guard  *Guard
	subs   *subscriptionFilter
	scores atomic.Pointer[map[peer.ID]float64]

	mu     sync.Mutex
	ps     *pubsub.PubSub // nil until Start
	ctx    context.Context
	cancel context.CancelFunc
	topics map[string]*Topic
	drains sync.WaitGroup
}

// NewGossip prepares gossipsub on h.
func NewGossip(h host.Host, opts GossipOptions) *Gossip {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Gossip{h: h, tracer: newTracer(), log: opts.Logger, guard: opts.Guard, subs: newSubscriptionFilter(), topics: map[string]*Topic{}}
}

// Start starts gossipsub, which runs until ctx is done or Close, and joins
// every topic joined so far.
func (g *Gossip) Start(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ps != nil {
		return errors.New("gossip already started")
	}
	ctx, cancel := context.WithCancel(ctx)
	ps, err := pubsub.NewGossipSub(ctx, g.h,
		pubsub.WithRawTracer(g.tracer),
		pubsub.WithLogger(g.log),
		// A node's own messages go to every topic peer, not only its mesh:
		// a village group is small, and a message sent just after joining,
		// before the mesh forms, would otherwise reach nobody.
		pubsub.WithFloodPublish(true),
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(messageID),
		pubsub.WithMaxMessageSize(event.MaxEnvelopeSize+1024),
		pubsub.WithPeerOutboundQueueSize(256),
		pubsub.WithValidateQueueSize(1024),
		pubsub.WithSubscriptionFilter(g.subs),
		pubsub.WithPeerScore(g.scoreParams(), scoreThresholds),
		pubsub.WithPeerScoreInspect(g.inspectScores, scoreInspectPeriod),
	)
	if err != nil {
		cancel()
		return fmt.Errorf("gossipsub: %w", err)
	}
	g.ps, g.ctx, g.cancel = ps, ctx, cancel
	g.h.Network().Notify(g.subs.notifee)
	for _, t := range g.topics {
		if err := g.attach(t); err != nil {
			return err
		}
	}
	return nil
}

// Close stops gossipsub and waits for what it started.
func (g *Gossip) Close() {
	g.mu.Lock()
	cancel := g.cancel
	g.mu.Unlock()
	if cancel != nil {
		cancel()
		g.h.Network().StopNotify(g.subs.notifee)
	}
	g.drains.Wait()
}

// messageID is the SHA-256 of the whole message, signature included.
// Gossipsub marks an ID as seen before it validates the message, so an ID
// that a forger can reproduce (the event ID, a hash of the body alone)
// would let a broken copy sent first keep the genuine one out for the seen
// cache's lifetime. Copies of one envelope from several peers still share
// an ID, and the engine drops any other copy of a stored event unchecked.
func messageID(m *pb.Message) string {
	h := sha256.Sum256(m.Data)
	return string(h[:])
}

// Topic is a joined gossip topic.
type Topic struct {
	name  string
	g     *Gossip
	v     Validator
	topic *pubsub.Topic // nil until gossipsub runs
	sub   *pubsub.Subscription
	stop  context.CancelFunc
}

// Join joins a topic, with v validating every message received on it.
// Validated messages are handled by v itself (it stores them), so the
// subscription only keeps this node in the topic's mesh. Before Start, the
// topic is joined when gossipsub starts.
func (g *Gossip) Join(name string, v Validator) (*Topic, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t, ok := g.topics[name]; ok {
		return t, nil
	}
	t := &Topic{name: name, g: g, v: v}
	if g.ps != nil {
		if err := g.attach(t); err != nil {
			return nil, err
		}
	}
	g.topics[name] = t
	return t, nil
}

// attach joins t in the running gossipsub; g.mu is held.
func (g *Gossip) attach(t *Topic) error {
	// Inline: the validator runs in a worker whose stack has grown, not in
	// a goroutine of its own per message, and without a timeout, whose
	// timer every message would pay for: it never waits on the network.
	err := g.ps.RegisterTopicValidator(t.name, func(ctx context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
		if from == g.h.ID() {
			// Our own events were built and stored by us.
			return pubsub.ValidationAccept
		}
		err := t.v(ctx, from, m.Data)
		switch {
		case err == nil:
			return pubsub.ValidationAccept
		case errors.Is(err, ErrIgnore):
			return pubsub.ValidationIgnore
		default:
			return pubsub.ValidationReject
		}
	}, pubsub.WithValidatorInline(true))
	if err != nil {
		return fmt.Errorf("register validator %s: %w", t.name, err)
	}
	pt, err := g.ps.Join(t.name)
	if err != nil {
		g.ps.UnregisterTopicValidator(t.name)
		return fmt.Errorf("join topic %s: %w", t.name, err)
	}
	sub, err := pt.Subscribe(pubsub.WithBufferSize(256))
	if err != nil {
		pt.Close()
		g.ps.UnregisterTopicValidator(t.name)
		return fmt.Errorf("subscribe %s: %w", t.name, err)
	}
	if err := pt.SetScoreParams(topicScore); err != nil {
		sub.Cancel()
		pt.Close()
		g.ps.UnregisterTopicValidator(t.name)
		return fmt.Errorf("score %s: %w", t.name, err)
	}
	ctx, stop := context.WithCancel(g.ctx)
	t.topic, t.sub, t.stop = pt, sub, stop
	g.drains.Go(func() { t.drain(ctx) })
	return nil
}

// drain reads the subscription so that it never fills; the validator has
// already handled each message.
func (t *Topic) drain(ctx context.Context) {
	for {
		if _, err := t.sub.Next(ctx); err != nil {
			return
		}
	}
}

// errNotRunning reports a publish before gossipsub started or after it
// stopped.
var errNotRunning = errors.New("gossip is not running")

// Publish sends data to the topic's peers. It succeeds with zero peers; the
// sync protocol delivers what gossip could not.
func (t *Topic) Publish(ctx context.Context, data []byte) error {
	t.g.mu.Lock()
	pt := t.topic
	t.g.mu.Unlock()
	if pt == nil {
		return fmt.Errorf("publish %s: %w", t.name, errNotRunning)
	}
	if err := pt.Publish(ctx, data); err != nil {
		return fmt.Errorf("publish %s: %w", t.name, err)
	}
	return nil
}

// Peers lists the peers known to be in the topic.
func (t *Topic) Peers() []peer.ID {
	t.g.mu.Lock()
	pt := t.topic
	t.g.mu.Unlock()
	if pt == nil {
		return nil
	}
	return pt.ListPeers()
}

// MeshPeers counts the peers in this node's gossipsub mesh for the topic:
// the peers that forward the topic's messages to it.
func (t *Topic) MeshPeers() int { return t.g.tracer.meshPeers(t.name) }

// scoreInspectPeriod is how often gossipsub's scores are read: also how
// long a graylisted peer may keep the event loop busy before it is sent
// away.
const scoreInspectPeriod = 100 * time.Millisecond

// inspectScores keeps gossipsub's latest scores and bans the peers it
// graylists.
func (g *Gossip) inspectScores(m map[peer.ID]float64) {
	g.scores.Store(&m)
	if g.guard == nil {
		return
	}
	for p, s := range m {
		if s < GraylistThreshold {
			g.guard.Graylisted(p)
		}
	}
}

// Scores returns gossipsub's latest score of each connected peer (taken
// every scoreInspectPeriod). Below GraylistThreshold a peer is ignored.
func (g *Gossip) Scores() map[peer.ID]float64 {
	if m := g.scores.Load(); m != nil {
		return *m
	}
	return nil
}

// GraylistThreshold is the score below which everything a peer sends by
// gossip is ignored.
const GraylistThreshold = -2500

// Dropped counts messages gossipsub dropped, on every topic, because its
// validation queue was full.
func (g *Gossip) Dropped() uint64 { return g.tracer.dropped.Load() }

// Leave leaves the topic.
func (t *Topic) Leave() error {
	g := t.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.topics[t.name] == t {
		delete(g.topics, t.name)
	}
	if t.topic == nil {
		return nil
	}
	t.sub.Cancel()
	t.stop()
	err := t.topic.Close()
	if uerr := g.ps.UnregisterTopicValidator(t.name); err == nil {
		err = uerr
	}
	t.topic = nil
	if err != nil {
		return fmt.Errorf("leave %s: %w", t.name, err)
	}
	return nil
}
