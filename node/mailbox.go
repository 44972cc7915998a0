package node

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/mesh/reconcile"
	"github.com/banyan-mesh/banyan/store"
)

// Mailboxes spread sealed private messages to recipients who may be
// offline. Every envelope goes into one of MailboxBuckets scopes, chosen by
// the recipient's key; nodes that carry mail (the default) keep every
// bucket for a TTL and within a quota, and a recipient collects its bucket
// through sync. Carriers see a one-time signing key, a bucket and
// ciphertext: not who wrote it, and not which of the bucket's people it is
// for.
const MailboxBuckets = 16

// Mailbox defaults.
const (
	DefaultMailboxTTL   = 14 * 24 * time.Hour
	DefaultMailboxQuota = 256 << 20
	// MaxSealedSize bounds a sealed envelope's payload: a maximal text, the
	// ratchet and sealing overheads, and padding.
	MaxSealedSize = 24 << 10
	mailboxTopic  = "/banyan/mailbox/1"
)

// MailboxScope returns the scope of a mailbox bucket.
func MailboxScope(bucket int) event.Scope {
	return sha256.Sum256(append([]byte("banyan/mailbox/v1\x00"), byte(bucket)))
}

// MailboxBucket returns the bucket of a recipient's public DM key.
func MailboxBucket(dhKey []byte) int {
	h := sha256.Sum256(append([]byte("banyan/mailbox-bucket/v1\x00"), dhKey...))
	return int(h[0]) % MailboxBuckets
}

// Mailbox is the mail-carrying service.
type Mailbox struct {
	store  *store.Store
	gossip *mesh.Gossip
	log    *slog.Logger
	stats  *Counters
	now    func() time.Time

	// carry keeps every bucket for others; without it only the node's own
	// bucket is kept.
	carry bool
	ttl   time.Duration
	quota int64
	own   int

	buckets map[event.Scope]int
	topic   *mesh.Topic
	// deliver receives envelopes of the node's own bucket, once each.
	deliver func(*event.Event)
}

// MailboxOptions configures the mailbox service.
type MailboxOptions struct {
	// NoCarry stops carrying other people's mail.
	NoCarry bool
	TTL     time.Duration
	Quota   int64
}

func newMailbox(n *Node, own int, opts MailboxOptions) *Mailbox {
	m := &Mailbox{
		store: n.store, gossip: n.gossip, log: n.log.With("sys", "mailbox"), stats: &n.stats, now: time.Now,
		carry: !opts.NoCarry, ttl: orDefault(opts.TTL, DefaultMailboxTTL), quota: orDefault(opts.Quota, DefaultMailboxQuota),
		own: own, buckets: map[event.Scope]int{},
	}
	for b := range MailboxBuckets {
		m.buckets[MailboxScope(b)] = b
	}
	return m
}

func (m *Mailbox) start() error {
	t, err := m.gossip.Join(mailboxTopic, func(ctx context.Context, from peer.ID, raw []byte) error {
		return m.receive(raw)
	})
	if err != nil {
		return err
	}
	m.topic = t
	return nil
}

// keeps reports whether this node keeps a bucket's mail.
func (m *Mailbox) keeps(bucket int) bool { return m.carry || bucket == m.own }

// Post stores a sealed envelope this node made and sends it on its way.
func (m *Mailbox) Post(ctx context.Context, e *event.Event) error {
	if _, _, err := m.store.PutEvent(e, store.PutOptions{Local: true}); err != nil {
		return err
	}
	if err := m.topic.Publish(ctx, e.Raw); err != nil {
		m.log.Warn("publish failed; the message is stored and will sync", "err", err)
	}
	return m.store.Sync()
}

// check validates a mailbox envelope without storing it.
func (m *Mailbox) check(raw []byte) (*event.Event, error) {
	e, err := decodeEnvelope(m.store, raw)
	if err != nil {
		return nil, err
	}
	bucket, ok := m.buckets[e.ScopeID()]
	switch {
	case !ok:
		return nil, reject(reasonScope, fmt.Errorf("scope %s is not a mailbox", e.ScopeID()))
	case e.Kind != event.KindSealed:
		return nil, reject(reasonKind, fmt.Errorf("kind %d in a mailbox", e.Kind))
	case e.Seq != 1:
		// Envelopes are signed by one-time keys.
		return nil, reject(reasonMalformed, fmt.Errorf("mailbox envelope with seq %d", e.Seq))
	case len(e.Payload) > MaxSealedSize:
		return nil, reject(reasonTooLarge, fmt.Errorf("sealed payload of %d bytes", len(e.Payload)))
	case e.Time > m.now().Add(maxClockSkew).UnixMilli():
		return nil, reject(reasonFuture, fmt.Errorf("timestamp %s is in the future", time.UnixMilli(e.Time).UTC()))
	case e.Time < m.floorTime():
		return nil, fmt.Errorf("envelope %s: %w", e.ID, errBelowFloor)
	case !m.keeps(bucket):
		return nil, fmt.Errorf("bucket %d is not carried here: %w", bucket, mesh.ErrIgnore)
	}
	return e, nil
}

// receive takes one envelope from gossip or a direct stream, and hands it
// over if it is for this node's bucket.
func (m *Mailbox) receive(raw []byte) error {
	e, err := m.check(raw)
	if err = storeReceived(m.store, m.stats, e, err); err == nil {
		m.handOver(e)
	}
	return err
}

func (m *Mailbox) handOver(e *event.Event) {
	if m.deliver != nil && m.buckets[e.ScopeID()] == m.own {
		m.deliver(e)
	}
}

// floorTime is when mail expires: the TTL ago, rounded down to the hour so
// that two nodes agree on it (sync starts from the higher of two floors
// and restarts when they differ).
func (m *Mailbox) floorTime() int64 {
	return m.now().Add(-m.ttl).Truncate(time.Hour).UnixMilli()
}

// syncScopes lists the buckets this node keeps, with the expiry as their
// floor: expired mail is neither asked for nor offered.
func (m *Mailbox) syncScopes() []reconcile.Scope {
	floor := reconcile.Bound{Time: store.SortTime(m.floorTime())}
	var out []reconcile.Scope
	for b := range MailboxBuckets {
		if m.keeps(b) {
			out = append(out, reconcile.Scope{ID: MailboxScope(b), Floor: floor})
		}
	}
	return out
}

// acceptBatch checks envelopes from sync on every core and stores the
// valid ones in one write.
func (m *Mailbox) acceptBatch(scope event.Scope, raws [][]byte) (int, error) {
	stored, rejected, err := acceptEnvelopes(m.store, m.stats, raws, func(raw []byte) (*event.Event, error) {
		e, err := m.check(raw)
		if err == nil && e.ScopeID() != scope {
			return nil, reject(reasonScope, errors.New("envelope of another bucket"))
		}
		return e, err
	})
	for _, e := range stored {
		m.handOver(e)
	}
	return rejected, err
}

// Serve deletes expired mail, and mail beyond the quota, every ten minutes.
func (m *Mailbox) Serve(ctx context.Context) error {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		for b := range MailboxBuckets {
			n, _, err := m.store.Prune(MailboxScope(b), m.floorTime(), m.quota/MailboxBuckets)
			if err != nil {
				m.log.Warn("prune mailbox", "bucket", b, "err", err)
			} else if n > 0 {
				m.log.Debug("pruned mailbox", "bucket", b, "deleted", n)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
