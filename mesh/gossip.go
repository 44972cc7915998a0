package mesh

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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
type Validator func(ctx context.Context, from peer.ID, data []byte) error

// GossipOptions configures NewGossip.
type GossipOptions struct {
	Logger *slog.Logger
}

// Gossip is gossipsub with Banyan's settings: no pubsub-level signing
// (every event carries its own signature), message IDs equal to event IDs,
// and message size bounded by the envelope limit.
type Gossip struct {
	ps     *pubsub.PubSub
	self   peer.ID
	tracer *tracer
	log    *slog.Logger

	mu     sync.Mutex
	topics map[string]*Topic
}

// NewGossip starts gossipsub on h. It runs until ctx is done.
func NewGossip(ctx context.Context, h host.Host, opts GossipOptions) (*Gossip, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	tr := newTracer()
	ps, err := pubsub.NewGossipSub(ctx, h,
		pubsub.WithRawTracer(tr),
		pubsub.WithLogger(opts.Logger),
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
	)
	if err != nil {
		return nil, fmt.Errorf("gossipsub: %w", err)
	}
	return &Gossip{ps: ps, self: h.ID(), tracer: tr, log: opts.Logger, topics: map[string]*Topic{}}, nil
}

// messageID makes gossipsub's duplicate cache work on event IDs, so that the
// same event arriving from two peers is validated once.
func messageID(m *pb.Message) string {
	if id, ok := event.PeekID(m.Data); ok {
		return string(id[:])
	}
	h := sha256.Sum256(m.Data)
	return string(h[:])
}

// Topic is a joined gossip topic.
type Topic struct {
	name   string
	g      *Gossip
	topic  *pubsub.Topic
	sub    *pubsub.Subscription
	cancel context.CancelFunc
	done   chan struct{}
}

// Join joins a topic, with v validating every message received on it.
// Validated messages are handled by v itself (it stores them), so the
// subscription only keeps this node in the topic's mesh.
func (g *Gossip) Join(name string, v Validator) (*Topic, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t, ok := g.topics[name]; ok {
		return t, nil
	}
	err := g.ps.RegisterTopicValidator(name, func(ctx context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
		if from == g.self {
			// Our own events were built and stored by us.
			return pubsub.ValidationAccept
		}
		err := v(ctx, from, m.Data)
		switch {
		case err == nil:
			return pubsub.ValidationAccept
		case errors.Is(err, ErrIgnore):
			return pubsub.ValidationIgnore
		default:
			return pubsub.ValidationReject
		}
	}, pubsub.WithValidatorTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("register validator %s: %w", name, err)
	}
	t, err := g.ps.Join(name)
	if err != nil {
		g.ps.UnregisterTopicValidator(name)
		return nil, fmt.Errorf("join topic %s: %w", name, err)
	}
	sub, err := t.Subscribe(pubsub.WithBufferSize(256))
	if err != nil {
		t.Close()
		g.ps.UnregisterTopicValidator(name)
		return nil, fmt.Errorf("subscribe %s: %w", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tp := &Topic{name: name, g: g, topic: t, sub: sub, cancel: cancel, done: make(chan struct{})}
	go tp.drain(ctx)
	g.topics[name] = tp
	return tp, nil
}

// drain reads the subscription so that it never fills; the validator has
// already handled each message.
func (t *Topic) drain(ctx context.Context) {
	defer close(t.done)
	for {
		if _, err := t.sub.Next(ctx); err != nil {
			return
		}
	}
}

// Publish sends data to the topic's peers. It succeeds with zero peers; the
// sync protocol delivers what gossip could not.
func (t *Topic) Publish(ctx context.Context, data []byte) error {
	if err := t.topic.Publish(ctx, data); err != nil {
		return fmt.Errorf("publish %s: %w", t.name, err)
	}
	return nil
}

// Peers lists the peers known to be in the topic.
func (t *Topic) Peers() []peer.ID { return t.topic.ListPeers() }

// MeshPeers counts the peers in this node's gossipsub mesh for the topic:
// the peers that forward the topic's messages to it.
func (t *Topic) MeshPeers() int { return t.g.tracer.meshPeers(t.name) }

// Dropped counts messages gossipsub dropped, on every topic, because its
// validation queue was full.
func (g *Gossip) Dropped() uint64 { return g.tracer.dropped.Load() }

// Leave leaves the topic.
func (t *Topic) Leave() error {
	t.g.mu.Lock()
	delete(t.g.topics, t.name)
	t.g.mu.Unlock()
	t.sub.Cancel()
	t.cancel()
	<-t.done
	err := t.topic.Close()
	if uerr := t.g.ps.UnregisterTopicValidator(t.name); err == nil {
		err = uerr
	}
	if err != nil {
		return fmt.Errorf("leave %s: %w", t.name, err)
	}
	return nil
}
