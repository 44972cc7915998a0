package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/mesh/reconcile"
	"github.com/banyan-mesh/banyan/store"
	"github.com/banyan-mesh/banyan/wallet"
)

// Wallet defaults.
const (
	DefaultWalletUnit = "village"
	// DefaultEnvelopeTTL is how long a red envelope can be claimed.
	DefaultEnvelopeTTL = 24 * time.Hour
	walletTopicPrefix  = "/banyan/wallet/1/"
	walletProofPrefix  = "/banyan/wallet-proofs/1/"
	// walletInterval is how often the wallet receipts what it was paid and
	// settles its red envelopes, besides doing so as entries arrive.
	walletInterval = 30 * time.Second
)

// WalletOptions configures the wallet: one unit of mutual credit.
type WalletOptions struct {
	// Unit is the unit's name (default "village").
	Unit string
	// Guarantors are the accounts whose limit grants count: hex Ed25519
	// public keys or peer IDs.
	Guarantors []string
	// OfflineCap bounds the unconfirmed spending accepted from a payer
	// (0: no cap).
	OfflineCap uint64
}

// Wallet replicates one unit's ledger and writes this node's chain: it pays,
// receipts what it is paid, and settles its red envelopes.
type Wallet struct {
	n      *Node
	id     *crypto.Identity
	me     wallet.Account
	store  *store.Store
	gossip *mesh.Gossip
	log    *slog.Logger
	stats  *Counters
	now    func() time.Time
	ledger *wallet.Ledger
	scope  event.Scope
	// policy is what this person accepts from unconfirmed payers.
	policyMu sync.Mutex
	policy   wallet.Policy

	topic, proofs *mesh.Topic
	syncWith      func(peer.ID)
	// syncNow syncs with a peer at once, to spread a fraud proof.
	syncNow func(peer.ID)

	// writeMu serialises this node's entries so that its chain never forks.
	writeMu sync.Mutex
	// kick wakes the worker that receipts and settles.
	kick chan struct{}
}

// ParseWalletAccount parses an account given as hex public key or peer ID.
func ParseWalletAccount(s string) (wallet.Account, error) {
	s = strings.TrimSpace(s)
	if len(s) == 64 {
		if _, err := hex.DecodeString(s); err == nil {
			return wallet.ParseAccount(s)
		}
	}
	p, err := peer.Decode(s)
	if err != nil {
		return wallet.Account{}, fmt.Errorf("%q is neither a hex account (64 hex digits) nor a peer ID", s)
	}
	pub, err := crypto.PublicKeyFromPeerID(p)
	if err != nil {
		return wallet.Account{}, fmt.Errorf("peer ID %s: %w", p, err)
	}
	return wallet.AccountOf(pub)
}

func newWallet(n *Node, opts WalletOptions) (*Wallet, error) {
	cfg := wallet.Config{Unit: orDefault(opts.Unit, DefaultWalletUnit), OfflineCap: opts.OfflineCap}
	if err := wallet.ValidUnit(cfg.Unit); err != nil {
		return nil, fmt.Errorf("wallet unit: %w", err)
	}
	for _, g := range opts.Guarantors {
		a, err := ParseWalletAccount(g)
		if err != nil {
			return nil, fmt.Errorf("wallet guarantor: %w", err)
		}
		cfg.Guarantors = append(cfg.Guarantors, a)
	}
	l, err := wallet.NewLedger(cfg)
	if err != nil {
		return nil, err
	}
	me, err := wallet.AccountOf(n.id.PublicKey())
	if err != nil {
		return nil, err
	}
	w := &Wallet{
		n: n, id: n.id, me: me, store: n.store, gossip: n.gossip, log: n.log.With("sys", "wallet"),
		stats: &n.stats, now: time.Now, ledger: l, scope: l.Scope(), syncWith: n.syncer.Trigger, syncNow: n.syncer.TriggerNow,
		kick: make(chan struct{}, 1),
	}
	if err := w.load(); err != nil {
		return nil, err
	}
	anyone, payers, err := n.store.AcceptCaps()
	if err != nil {
		return nil, err
	}
	w.policy = wallet.Policy{DefaultCap: anyone, Caps: map[wallet.Account]uint64{}}
	for p, c := range payers {
		w.policy.Caps[wallet.Account(p)] = c
	}
	return w, nil
}

// load adds every stored entry of the unit to the ledger.
func (w *Wallet) load() error {
	var ids []event.ID
	if err := w.store.ScopeItems(w.scope, nil, nil, func(_ uint64, id event.ID) { ids = append(ids, id) }); err != nil {
		return err
	}
	for _, id := range ids {
		e, err := w.store.Event(id)
		if err != nil {
			return fmt.Errorf("wallet: load %s: %w", id, err)
		}
		if _, err := w.ledger.Add(e); err != nil {
			w.log.Warn("stored wallet entry not added", "id", id, "err", err)
		}
	}
	if len(ids) > 0 {
		w.log.Info("wallet loaded", "unit", w.ledger.Config().Unit, "entries", len(ids))
	}
	return nil
}

func (w *Wallet) start() error {
	var err error
	w.topic, err = w.gossip.Join(walletTopicPrefix+w.scope.String(), func(ctx context.Context, from peer.ID, raw []byte) error {
		e, err := w.receive(raw)
		if err == nil {
			watchGap(w.store, w.syncWith, from, e)
		}
		return err
	})
	if err != nil {
		return err
	}
	w.proofs, err = w.gossip.Join(walletProofPrefix+w.scope.String(), func(ctx context.Context, from peer.ID, raw []byte) error {
		return w.receiveProof(raw)
	})
	return err
}

// Policy returns what this person accepts from unconfirmed payers.
func (w *Wallet) Policy() wallet.Policy {
	w.policyMu.Lock()
	defer w.policyMu.Unlock()
	p := wallet.Policy{DefaultCap: w.policy.DefaultCap, Caps: make(map[wallet.Account]uint64, len(w.policy.Caps))}
	for a, c := range w.policy.Caps {
		p.Caps[a] = c
	}
	return p
}

// SetAcceptCap sets how much this person accepts from a payer (nil: from
// anyone without a cap of their own) while its recent spending is
// unconfirmed; 0 for a payer refuses it while unconfirmed, 0 for anyone
// means no bound.
func (w *Wallet) SetAcceptCap(payer *wallet.Account, limit uint64) error {
	var key []byte
	if payer != nil {
		key = payer[:]
	}
	if err := w.store.PutAcceptCap(key, limit); err != nil {
		return err
	}
	w.policyMu.Lock()
	if payer != nil {
		w.policy.Caps[*payer] = limit
	} else {
		w.policy.DefaultCap = limit
	}
	w.policyMu.Unlock()
	w.wake()
	return nil
}

// Ledger returns the unit's ledger.
func (w *Wallet) Ledger() *wallet.Ledger { return w.ledger }

// Account returns this node's account.
func (w *Wallet) Account() wallet.Account { return w.me }

// Unit returns the unit's name.
func (w *Wallet) Unit() string { return w.ledger.Config().Unit }

// check validates a wallet envelope without storing it.
func (w *Wallet) check(raw []byte) (*event.Event, error) {
	e, err := decodeEnvelope(w.store, raw)
	if err != nil {
		return nil, err
	}
	return e, w.checkEvent(e)
}

// checkEvent applies the wallet's edge rules to a decoded event.
func (w *Wallet) checkEvent(e *event.Event) error {
	if e.ScopeID() != w.scope {
		return reject(reasonScope, fmt.Errorf("event for scope %s on wallet unit %s", e.ScopeID(), w.Unit()))
	}
	if e.Kind != wallet.KindWalletEntry {
		return reject(reasonKind, fmt.Errorf("kind %d", e.Kind))
	}
	if _, err := wallet.CheckEvent(e); err != nil {
		return reject(reasonBody, err)
	}
	if e.Time > w.now().Add(maxClockSkew).UnixMilli() {
		return reject(reasonFuture, fmt.Errorf("timestamp %s is in the future", time.UnixMilli(e.Time).UTC()))
	}
	return nil
}

// receive validates, stores and adds one entry from gossip.
func (w *Wallet) receive(raw []byte) (*event.Event, error) {
	e, err := w.check(raw)
	if err := storeReceived(w.store, w.stats, e, err); err != nil {
		return nil, err
	}
	w.add(e)
	return e, nil
}

// add adds a stored entry to the ledger, spreads the fraud proofs it
// reveals, and wakes the worker when the entry may concern this node.
func (w *Wallet) add(e *event.Event) {
	res, err := w.ledger.Add(e)
	if err != nil {
		w.log.Warn("wallet entry not added", "id", e.ID, "err", err)
		return
	}
	for _, p := range res.Proofs {
		w.log.Warn("double spending detected", "account", p.Author())
		go func(raw []byte) {
			if err := w.proofs.Publish(context.Background(), raw); err != nil {
				w.log.Warn("publish fraud proof", "err", err)
			}
		}(p.Encode())
	}
	if len(res.Proofs) > 0 && w.syncNow != nil {
		// Gossip drops a proof a node has already seen, so one that heard
		// it before its mesh formed would not pass it on; a sync carries
		// both conflicting entries to every neighbour, which then finds
		// the fork itself.
		for _, p := range w.n.host.Network().Peers() {
			w.syncNow(p)
		}
	}
	if res.New && w.concerns(e) {
		w.wake()
	}
}

// concerns reports whether an entry may call for a receipt or a settlement
// from this node.
func (w *Wallet) concerns(e *event.Event) bool {
	en, err := wallet.DecodeEntry(e.Payload)
	if err != nil {
		return false
	}
	switch en.Type {
	case wallet.TypePay, wallet.TypeRefund, wallet.TypeClaim:
		return en.Counterparty == w.me
	case wallet.TypeSettle:
		return true
	}
	return false
}

func (w *Wallet) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// receiveProof checks a fraud proof from gossip, and stores and adds its
// two entries.
func (w *Wallet) receiveProof(raw []byte) error {
	if len(raw) > wallet.MaxFraudProofSize {
		return reject(reasonTooLarge, errors.New("fraud proof too large"))
	}
	p, err := wallet.DecodeFraudProof(raw)
	if err != nil {
		return reject(reasonMalformed, err)
	}
	a, b, err := p.Events()
	if err != nil {
		return reject(reasonMalformed, err)
	}
	for _, e := range []*event.Event{a, b} {
		if e.ScopeID() != w.scope {
			return reject(reasonScope, errors.New("fraud proof of another unit"))
		}
		if _, err := wallet.CheckEvent(e); err != nil {
			return reject(reasonBody, err)
		}
	}
	arrivals, err := w.store.PutEvents([]*event.Event{a, b}, store.PutOptions{})
	if err != nil {
		return reject(reasonStore, err)
	}
	if arrivals[0] == 0 && arrivals[1] == 0 && w.ledger.Frozen(p.Author()) {
		return fmt.Errorf("fraud proof known: %w", mesh.ErrIgnore)
	}
	w.add(a)
	w.add(b)
	return nil
}

// syncScopes replicates the unit's whole scope: a ledger needs every entry.
func (w *Wallet) syncScopes() []reconcile.Scope {
	return []reconcile.Scope{{ID: w.scope}}
}

// acceptBatch takes entries of the unit from sync.
func (w *Wallet) acceptBatch(scope event.Scope, raws [][]byte) (int, error) {
	if scope != w.scope {
		return 0, fmt.Errorf("scope %s is not the wallet's", scope)
	}
	stored, rejected, err := acceptEnvelopes(w.store, w.stats, raws, w.check)
	// In frame order, which is chain order where possible: the ledger's
	// state does not depend on it, but evaluation is cheaper.
	for _, e := range stored {
		w.add(e)
	}
	return rejected, err
}

// WalletInputError is a refusal caused by what the user asked for (over
// the limit, an unknown account, an expired request...), not a failure of
// the node.
type WalletInputError struct{ Err error }

func (e *WalletInputError) Error() string { return e.Err.Error() }
func (e *WalletInputError) Unwrap() error { return e.Err }

func inputErr(err error) error { return &WalletInputError{Err: err} }

// errEnvelopeUnknown reports a red envelope this node does not hold.
var errEnvelopeUnknown = errors.New("red envelope not known here (yet): it may still be on its way")

// write builds this node's next entry, stores it durably, adds it and
// publishes it. build gets the time to use.
func (w *Wallet) write(ctx context.Context, build func(now int64) (*event.Event, error)) (*event.Event, error) {
	w.writeMu.Lock()
	e, err := build(w.now().UnixMilli())
	if err != nil {
		w.writeMu.Unlock()
		return nil, inputErr(err)
	}
	if _, _, err = w.store.PutEvent(e, store.PutOptions{Local: true}); err == nil {
		err = w.store.Sync()
	}
	if err != nil {
		w.writeMu.Unlock()
		return nil, fmt.Errorf("wallet: store entry: %w", err)
	}
	w.add(e)
	w.writeMu.Unlock()
	if err := w.topic.Publish(ctx, e.Raw); err != nil {
		w.log.Warn("publish failed; the entry is stored and will sync", "err", err)
	}
	return e, nil
}

// writeEntry writes en as this node's next entry.
func (w *Wallet) writeEntry(ctx context.Context, en wallet.Entry) (*event.Event, error) {
	return w.write(ctx, func(now int64) (*event.Event, error) { return w.ledger.BuildSigned(w.id, en, now) })
}

// Pay pays amount to an account (hex, peer ID, or a contact's nickname).
func (w *Wallet) Pay(ctx context.Context, to string, amount uint64, memo string) (*event.Event, error) {
	acct, err := w.resolve(to)
	if err != nil {
		return nil, inputErr(err)
	}
	return w.writeEntry(ctx, wallet.Payment(acct, amount, memo))
}

// resolve turns a contact (peer ID or nickname) or a hex account into an
// account.
func (w *Wallet) resolve(ref string) (wallet.Account, error) {
	if w.n.dms != nil {
		if c, err := w.n.dms.Find(ref); err == nil {
			pub, err := crypto.PublicKeyFromPeerID(c.ID)
			if err != nil {
				return wallet.Account{}, err
			}
			return wallet.AccountOf(pub)
		}
	}
	a, err := ParseWalletAccount(ref)
	if err != nil {
		return wallet.Account{}, fmt.Errorf("%q is not a contact, a peer ID or a hex account", ref)
	}
	return a, nil
}

// Request makes a payment request to this node.
func (w *Wallet) Request(amount uint64, memo string, ttl time.Duration) (*wallet.Request, error) {
	if ttl <= 0 {
		ttl = 7 * 24 * time.Hour
	}
	r, err := wallet.NewRequest(w.id, w.Unit(), amount, memo, w.now().Add(ttl).UnixMilli())
	if err != nil {
		return nil, inputErr(err)
	}
	return r, nil
}

// PayRequest pays a payment request link.
func (w *Wallet) PayRequest(ctx context.Context, link string) (*event.Event, error) {
	req, err := wallet.ParseRequestLink(link)
	if err != nil {
		return nil, inputErr(err)
	}
	return w.write(ctx, func(now int64) (*event.Event, error) {
		b, err := w.ledger.PayRequest(w.me, req, now)
		if err != nil {
			return nil, err
		}
		return event.Sign(w.id, b)
	})
}

// Refund refunds amount (0: all that is left) of a payment received.
func (w *Wallet) Refund(ctx context.Context, payment event.ID, amount uint64) (*event.Event, error) {
	if amount == 0 {
		left, err := w.ledger.Refundable(payment)
		if err != nil {
			return nil, inputErr(err)
		}
		if left == 0 {
			return nil, inputErr(wallet.ErrRefundExceeds)
		}
		amount = left
	}
	return w.writeEntry(ctx, wallet.Refund(payment, amount, ""))
}

// Grant sets an account's credit limit; it counts only if this node is a
// guarantor of the unit.
func (w *Wallet) Grant(ctx context.Context, account string, limit uint64) (*event.Event, error) {
	acct, err := w.resolve(account)
	if err != nil {
		return nil, inputErr(err)
	}
	return w.writeEntry(ctx, wallet.LimitGrant(acct, limit, ""))
}

// SendEnvelope reserves total for count red-envelope shares and announces
// the envelope in group g.
func (w *Wallet) SendEnvelope(ctx context.Context, g *store.Group, total uint64, count int) (*event.Event, error) {
	seed, err := wallet.NewSeed()
	if err != nil {
		return nil, err
	}
	expiry := w.now().Add(DefaultEnvelopeTTL).UnixMilli()
	e, err := w.write(ctx, func(now int64) (*event.Event, error) {
		e, err := w.ledger.BuildSigned(w.id, wallet.Envelope(total, count, seed, expiry, ""), now)
		if err != nil {
			return nil, err
		}
		// The seed is durable before the envelope exists anywhere.
		es := &store.EnvelopeSeed{Envelope: e.ID, Unit: w.Unit(), Seed: seed, Count: count, Expiry: expiry}
		if g != nil {
			es.Group = hex.EncodeToString(g.ID[:])
		}
		if err := w.store.PutEnvelopeSeed(es); err != nil {
			return nil, err
		}
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	if g != nil {
		text := fmt.Sprintf("🧧 Red envelope: %d %s in %d shares. Claim it with: banyan wallet envelope claim %s", total, w.Unit(), count, e.ID)
		if _, err := w.n.groups.Send(ctx, g, text); err != nil {
			w.log.Warn("announce red envelope", "err", err)
		}
	}
	return e, nil
}

// Claim claims a share of a red envelope.
func (w *Wallet) Claim(ctx context.Context, envelope event.ID) (*event.Event, error) {
	if _, ok := w.ledger.Envelope(envelope); !ok {
		return nil, inputErr(fmt.Errorf("%s: %w", envelope, errEnvelopeUnknown))
	}
	return w.writeEntry(ctx, wallet.Claim(envelope))
}

// Serve receipts incoming transfers and settles red envelopes as entries
// arrive and every 30 seconds.
func (w *Wallet) Serve(ctx context.Context) error {
	t := time.NewTicker(walletInterval)
	defer t.Stop()
	for {
		w.receiptAll(ctx)
		w.settleAll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-w.kick:
		}
	}
}

// receiptAll receipts every transfer to this node the ledger counts and
// (for payments) the offline checks accept.
func (w *Wallet) receiptAll(ctx context.Context) {
	for _, id := range w.ledger.Unreceipted(w.me) {
		info, ok := w.ledger.Entry(id)
		if !ok {
			continue
		}
		if info.Entry.Type == wallet.TypePay {
			e, ok := w.ledger.Event(id)
			if !ok {
				continue
			}
			if err := w.ledger.CheckPayment(e, w.me, w.Policy()); err != nil {
				w.log.Info("payment not accepted (yet)", "entry", id, "err", err)
				continue
			}
		}
		if _, err := w.writeEntry(ctx, wallet.Receipt(id)); err != nil {
			w.log.Warn("receipt", "entry", id, "err", err)
		}
	}
}

// settleAll settles this node's red envelopes that are fully claimed or
// expired.
func (w *Wallet) settleAll(ctx context.Context) {
	seeds, err := w.store.EnvelopeSeeds()
	if err != nil {
		w.log.Warn("envelope seeds", "err", err)
		return
	}
	now := w.now().UnixMilli()
	for _, es := range seeds {
		if es.Unit != w.Unit() {
			continue
		}
		info, ok := w.ledger.Envelope(es.Envelope)
		if !ok {
			if ei, held := w.ledger.Entry(es.Envelope); held && ei.Status != wallet.StatusPending {
				w.dropSeed(es.Envelope) // void or invalid: nothing to settle
			}
			continue
		}
		if info.Settled {
			w.dropSeed(es.Envelope)
			continue
		}
		claims := w.distinctClaims(info)
		if len(claims) < info.Count && now < info.Expiry {
			continue
		}
		if _, err := w.writeEntry(ctx, wallet.Settle(es.Envelope, es.Seed, claims)); err != nil {
			w.log.Warn("settle red envelope", "envelope", es.Envelope, "err", err)
		}
	}
}

// distinctClaims picks at most Count effective claims, one per claimant.
func (w *Wallet) distinctClaims(info wallet.EnvelopeInfo) []event.ID {
	seen := map[wallet.Account]bool{}
	var out []event.ID
	for _, id := range info.Claims {
		ci, ok := w.ledger.Entry(id)
		if !ok || seen[ci.Author] {
			continue
		}
		seen[ci.Author] = true
		out = append(out, id)
		if len(out) == info.Count {
			break
		}
	}
	return out
}

func (w *Wallet) dropSeed(id event.ID) {
	if err := w.store.DeleteEnvelopeSeed(id); err != nil {
		w.log.Warn("forget envelope seed", "err", err)
	}
}
