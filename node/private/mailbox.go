package private

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node/engine"
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
	MailboxTopic  = "/banyan/mailbox/1"
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

// MailboxOptions configures the mailboxes.
type MailboxOptions struct {
	// NoCarry stops carrying other people's mail.
	NoCarry bool
	TTL     time.Duration
	Quota   int64
}

// mailbox carries sealed envelopes: it keeps the buckets this node
// carries, checks what arrives for them, and hands what arrives in this
// node's own bucket to deliver.
type mailbox struct {
	store   *store.Store
	log     *slog.Logger
	now     func() time.Time
	carry   bool
	ttl     time.Duration
	quota   int64
	own     int
	buckets map[event.Scope]int
	boxes   [MailboxBuckets]*engine.Replica
	// arrived is told that mail of this node's own bucket was stored.
	arrived func()
	// held approximates each bucket's stored bytes, so that the quota is
	// enforced as mail is stored, not minutes later.
	heldMu sync.Mutex
	held   map[event.Scope]int64
}

func newMailbox(eng *engine.Engine, st *store.Store, log *slog.Logger, now func() time.Time, own int, opts MailboxOptions, arrived func()) (*mailbox, error) {
	m := &mailbox{
		store: st, log: log, now: now, carry: !opts.NoCarry,
		ttl: cmpOr(opts.TTL, DefaultMailboxTTL), quota: cmpOr(opts.Quota, DefaultMailboxQuota),
		own: own, buckets: map[event.Scope]int{}, arrived: arrived, held: map[event.Scope]int64{},
	}
	for b := range MailboxBuckets {
		m.buckets[MailboxScope(b)] = b
		r, err := eng.Keep(engine.Spec{
			Scope:   MailboxScope(b),
			Topic:   MailboxTopic,
			Kinds:   []event.Kind{event.KindSealed},
			Floor:   m.floor,
			Feature: m,
			Discard: !m.keeps(b),
			Forward: true,
			// Mail is written by people, not machines; one-time keys
			// write once each.
			PeerRate:   mesh.Rate{Per: 50, Burst: 200},
			AuthorRate: mesh.Rate{Per: -1},
			// This node writes mail under one-time keys, in no chain.
			NoPriorChain: func() bool { return true },
		})
		if err != nil {
			return nil, err
		}
		m.boxes[b] = r
	}
	return m, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// keeps reports whether this node keeps a bucket's mail.
func (m *mailbox) keeps(bucket int) bool { return m.carry || bucket == m.own }

// save keeps a sealed envelope this node made, durably; the private
// service decides how it leaves.
func (m *mailbox) save(e *event.Event) error {
	b, ok := m.buckets[e.ScopeID()]
	if !ok {
		return fmt.Errorf("post: scope %s is not a mailbox", e.ScopeID())
	}
	return m.boxes[b].Store(e)
}

// Check applies the mailbox's rules: envelopes are signed by one-time keys
// (seq 1) and their sealed payload is bounded.
func (m *mailbox) Check(e *event.Event) error {
	switch {
	case e.Seq != 1:
		return engine.Reject(engine.ReasonMalformed, fmt.Errorf("mailbox envelope with seq %d", e.Seq))
	case len(e.Payload) > MaxSealedSize:
		return engine.Reject(engine.ReasonTooLarge, fmt.Errorf("sealed payload of %d bytes", len(e.Payload)))
	}
	return nil
}

// Stored keeps each bucket within its quota and wakes the delivery of
// this node's own mail. Opening it waits for the delivery worker, so that
// how long a peer waits for its answer never tells whether this node
// could open what it was given.
func (m *mailbox) Stored(evs []*event.Event, origin engine.Origin) {
	own := false
	grown := map[event.Scope]int64{}
	for _, e := range evs {
		grown[e.ScopeID()] += int64(len(e.Raw))
		own = own || (origin != engine.Local && m.buckets[e.ScopeID()] == m.own)
	}
	for scope, n := range grown {
		m.enforceQuota(scope, n)
	}
	if own {
		m.arrived()
	}
}

// enforceQuota counts n more bytes in a bucket and, once it is over its
// quota, evicts fairly (the peer that gave the most loses its oldest
// first) down to nine tenths of it. What is evicted is not taken back.
func (m *mailbox) enforceQuota(scope event.Scope, n int64) {
	limit := m.quota / MailboxBuckets
	m.heldMu.Lock()
	defer m.heldMu.Unlock()
	held, ok := m.held[scope]
	if !ok {
		var err error
		if held, err = m.store.ScopeBytes(scope); err != nil {
			m.log.Warn("mailbox size", "err", err)
			return
		}
		n = 0 // counted already
	}
	held += n
	if held > limit {
		evicted, err := m.store.EvictFairly(scope, limit*9/10)
		if err != nil {
			m.log.Warn("mailbox quota", "err", err)
		} else if evicted > 0 {
			m.log.Info("mailbox over its quota: evicted the mail of whoever gave the most", "bucket", m.buckets[scope], "evicted", evicted)
		}
		if held, err = m.store.ScopeBytes(scope); err != nil {
			m.log.Warn("mailbox size", "err", err)
		}
	}
	m.held[scope] = held
}

// bytes returns the bytes of mail held, in every bucket kept.
func (m *mailbox) bytes() (int64, error) {
	m.heldMu.Lock()
	defer m.heldMu.Unlock()
	var total int64
	for b := range MailboxBuckets {
		scope := MailboxScope(b)
		if !m.keeps(b) {
			continue
		}
		held, ok := m.held[scope]
		if !ok {
			var err error
			if held, err = m.store.ScopeBytes(scope); err != nil {
				return 0, err
			}
			m.held[scope] = held
		}
		total += held
	}
	return total, nil
}

// floor is when mail expires: the TTL ago, rounded down to the hour so
// that two nodes agree on it (sync starts from the higher of two floors
// and restarts when they differ). Expired mail is neither kept, asked for
// nor offered.
func (m *mailbox) floor() store.Cursor {
	return store.Cursor{Time: m.now().Add(-m.ttl).Truncate(time.Hour).UnixMilli()}
}

// serve deletes expired mail every ten minutes.
func (m *mailbox) serve(ctx context.Context) error {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		for b := range MailboxBuckets {
			n, _, err := m.store.Prune(MailboxScope(b), m.floor().Time, 0)
			if err != nil {
				m.log.Warn("prune mailbox", "bucket", b, "err", err)
			} else if n > 0 {
				m.log.Debug("pruned mailbox", "bucket", b, "deleted", n)
				m.heldMu.Lock()
				delete(m.held, MailboxScope(b)) // read again when next needed
				m.heldMu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
