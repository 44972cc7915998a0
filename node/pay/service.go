// Package pay is the wallet on the network: it replicates one unit's
// ledger of signed IOUs through the engine, writes this person's chain
// (payments, requests paid, refunds, limit grants, red envelopes and their
// claims and settlements), receipts what it is paid, spreads fraud proofs,
// and owns the wallet's API routes, commands and stream events. The
// ledger's rules are in package wallet.
package pay

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/people"
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

// Contacts resolves a person given by the user to their peer ID.
type Contacts interface {
	Resolve(ref string) (peer.ID, error)
}

// Groups is what red envelopes need of group chat: finding the group they
// are sent in, and announcing them there.
type Groups interface {
	// Lookup resolves a group reference to the group's ID (hex) and name.
	Lookup(ref string) (id, name string, err error)
	// Announce posts text in the group with the given ID.
	Announce(ctx context.Context, id, text string) error
}

// Topics joins gossip topics.
type Topics interface {
	Join(name string, v mesh.Validator) (*mesh.Topic, error)
}

// Syncer is what the wallet asks of the sync scheduler.
type Syncer interface {
	// TriggerNow syncs with a peer at once, to spread a fraud proof.
	TriggerNow(p peer.ID)
}

// Options configures New.
type Options struct {
	Identity *crypto.Identity
	Store    *store.Store
	Engine   *engine.Engine
	Gossip   Topics
	Syncer   Syncer
	// Peers lists the connected peers.
	Peers    func() []peer.ID
	Contacts Contacts
	Groups   Groups
	Wallet   WalletOptions
	// People shows the other side of wallet lines.
	People *people.Directory
	Logger *slog.Logger
	Now    func() time.Time
}

// Service replicates one unit's ledger and writes this node's chain: it
// pays, receipts what it is paid, and settles its red envelopes.
type Service struct {
	id       *crypto.Identity
	me       wallet.Account
	store    *store.Store
	log      *slog.Logger
	now      func() time.Time
	ledger   *wallet.Ledger
	scope    event.Scope
	replica  *engine.Replica
	proofs   *mesh.Topic
	syncer   Syncer
	peers    func() []peer.ID
	contacts Contacts
	groups   Groups
	people   *people.Directory
	seeds    *store.Table
	caps     *store.Table
	// policy is what this person accepts from unconfirmed payers.
	policyMu sync.Mutex
	policy   wallet.Policy
	// kick wakes the worker that receipts and settles; waiting is set
	// while a payment to this node waits for a later entry (a limit
	// grant, a confirmation) to become acceptable.
	kick    chan struct{}
	waiting atomic.Bool
	// uncounted are transfers to this node that the ledger does not count
	// yet (their payer's credit may still be on its way), with when they
	// arrived: until they count, every new entry wakes the worker.
	uncountedMu sync.Mutex
	uncounted   map[event.ID]time.Time
	// passes counts the worker's passes (tests wait on it).
	passes atomic.Uint64
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

// New builds the service: it loads the unit's stored entries into the
// ledger and keeps the unit's scope.
func New(opts Options) (*Service, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cfg := wallet.Config{Unit: cmp.Or(opts.Wallet.Unit, DefaultWalletUnit), OfflineCap: opts.Wallet.OfflineCap}
	if err := wallet.ValidUnit(cfg.Unit); err != nil {
		return nil, fmt.Errorf("wallet unit: %w", err)
	}
	for _, g := range opts.Wallet.Guarantors {
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
	me, err := wallet.AccountOf(opts.Identity.PublicKey())
	if err != nil {
		return nil, err
	}
	w := &Service{
		id: opts.Identity, me: me, store: opts.Store, log: opts.Logger, now: opts.Now,
		ledger: l, scope: l.Scope(), syncer: opts.Syncer, peers: opts.Peers,
		contacts: opts.Contacts, groups: opts.Groups, people: opts.People, kick: make(chan struct{}, 1),
		uncounted: map[event.ID]time.Time{},
	}
	if w.seeds, err = opts.Store.Table("envelope-seeds"); err != nil {
		return nil, err
	}
	if w.caps, err = opts.Store.Table("accept-caps"); err != nil {
		return nil, err
	}
	if err := w.load(); err != nil {
		return nil, err
	}
	anyone, payers, err := w.acceptCaps()
	if err != nil {
		return nil, err
	}
	w.policy = wallet.Policy{DefaultCap: anyone, Caps: payers}
	if w.replica, err = opts.Engine.Keep(engine.Spec{
		Scope: w.scope, Topic: walletTopicPrefix + w.scope.String(),
		Kinds: []event.Kind{wallet.KindWalletEntry}, Feature: w,
	}); err != nil {
		return nil, err
	}
	if w.proofs, err = opts.Gossip.Join(walletProofPrefix+w.scope.String(), func(ctx context.Context, from peer.ID, raw []byte) error {
		return w.receiveProof(raw)
	}); err != nil {
		return nil, err
	}
	return w, nil
}

// load adds every stored entry of the unit to the ledger.
func (w *Service) load() error {
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

// Policy returns what this person accepts from unconfirmed payers.
func (w *Service) Policy() wallet.Policy {
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
func (w *Service) SetAcceptCap(payer *wallet.Account, limit uint64) error {
	var key []byte
	if payer != nil {
		key = payer[:]
	}
	if err := w.caps.Put(key, binary.BigEndian.AppendUint64(nil, limit)); err != nil {
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
func (w *Service) Ledger() *wallet.Ledger { return w.ledger }

// Account returns this node's account.
func (w *Service) Account() wallet.Account { return w.me }

// Unit returns the unit's name.
func (w *Service) Unit() string { return w.ledger.Config().Unit }

// Check applies the wallet's rules to an entry of the unit.
func (w *Service) Check(e *event.Event) error {
	if _, err := wallet.CheckEvent(e); err != nil {
		return engine.Reject(engine.ReasonBody, err)
	}
	return nil
}

// Stored adds entries stored in the unit's scope to the ledger, in the
// order they came (chain order where possible: the ledger's state does not
// depend on it, but evaluation is cheaper).
func (w *Service) Stored(evs []*event.Event, _ engine.Origin) {
	for _, e := range evs {
		w.add(e)
	}
}

// add adds a stored entry to the ledger, spreads the fraud proofs it
// reveals, and wakes the worker when the entry may concern this node.
func (w *Service) add(e *event.Event) {
	res, err := w.ledger.Add(e)
	if err != nil {
		w.log.Warn("wallet entry not added", "id", e.ID, "err", err)
		return
	}
	for _, p := range res.Proofs {
		w.log.Warn("double spending detected", "account", p.Author())
		if err := w.proofs.Publish(context.Background(), p.Encode()); err != nil {
			w.log.Warn("publish fraud proof", "err", err)
		}
	}
	if len(res.Proofs) > 0 {
		// Gossip drops a proof a node has already seen, so one that heard
		// it before its mesh formed would not pass it on; a sync carries
		// both conflicting entries to every neighbour, which then finds
		// the fork itself.
		for _, p := range w.peers() {
			w.syncer.TriggerNow(p)
		}
	}
	// A payment waiting to count, or to be acceptable, may be made so by
	// any entry (a limit grant, a confirmation by someone else).
	if !res.New {
		return
	}
	concerns := w.concerns(e)
	if concerns {
		if info, ok := w.ledger.Entry(e.ID); ok && info.Status != wallet.StatusOK && info.Author != w.me {
			w.uncountedMu.Lock()
			w.uncounted[e.ID] = w.now()
			w.uncountedMu.Unlock()
			w.waiting.Store(true)
		}
	}
	if concerns || w.waiting.Load() {
		w.wake()
	}
}

// concerns reports whether an entry may call for a receipt or a settlement
// from this node.
func (w *Service) concerns(e *event.Event) bool {
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

func (w *Service) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// receiveProof checks a fraud proof from gossip, and stores and adds its
// two entries.
func (w *Service) receiveProof(raw []byte) error {
	if len(raw) > wallet.MaxFraudProofSize {
		return engine.Reject(engine.ReasonTooLarge, errors.New("fraud proof too large"))
	}
	p, err := wallet.DecodeFraudProof(raw)
	if err != nil {
		return engine.Reject(engine.ReasonMalformed, err)
	}
	a, b, err := p.Events()
	if err != nil {
		return engine.Reject(engine.ReasonMalformed, err)
	}
	for _, e := range []*event.Event{a, b} {
		if e.ScopeID() != w.scope {
			return engine.Reject(engine.ReasonScope, errors.New("fraud proof of another unit"))
		}
	}
	stored, rejected, err := w.replica.Accept([][]byte{a.Raw, b.Raw})
	switch {
	case err != nil:
		return engine.Reject(engine.ReasonStore, err)
	case rejected > 0:
		return engine.Reject(engine.ReasonBody, errors.New("fraud proof with an entry this node refuses"))
	case stored == 0 && w.ledger.Frozen(p.Author()):
		return engine.Ignore(errors.New("fraud proof known"))
	}
	return nil
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
func (w *Service) write(ctx context.Context, build func(now int64) (event.Body, error)) (*event.Event, error) {
	e, err := w.replica.Write(ctx, func(pos engine.Position) (event.Body, error) {
		b, err := build(pos.Time)
		if err != nil {
			return event.Body{}, inputErr(err)
		}
		return b, nil
	})
	var ie *WalletInputError
	if err != nil && !errors.As(err, &ie) {
		return nil, fmt.Errorf("wallet: store entry: %w", err)
	}
	return e, err
}

// writeEntry writes en as this node's next entry.
func (w *Service) writeEntry(ctx context.Context, en wallet.Entry) (*event.Event, error) {
	return w.write(ctx, func(now int64) (event.Body, error) { return w.ledger.Build(w.me, en, now) })
}

// Pay pays amount to an account (hex, peer ID, or a contact's nickname).
func (w *Service) Pay(ctx context.Context, to string, amount uint64, memo string) (*event.Event, error) {
	acct, err := w.resolve(to)
	if err != nil {
		return nil, inputErr(err)
	}
	return w.writeEntry(ctx, wallet.Payment(acct, amount, memo))
}

// resolve turns a contact (peer ID or nickname) or a hex account into an
// account.
func (w *Service) resolve(ref string) (wallet.Account, error) {
	if w.contacts != nil {
		if p, err := w.contacts.Resolve(ref); err == nil {
			pub, err := crypto.PublicKeyFromPeerID(p)
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
func (w *Service) Request(amount uint64, memo string, ttl time.Duration) (*wallet.Request, error) {
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
func (w *Service) PayRequest(ctx context.Context, link string) (*event.Event, error) {
	req, err := wallet.ParseRequestLink(link)
	if err != nil {
		return nil, inputErr(err)
	}
	return w.write(ctx, func(now int64) (event.Body, error) { return w.ledger.PayRequest(w.me, req, now) })
}

// Refund refunds amount (0: all that is left) of a payment received.
func (w *Service) Refund(ctx context.Context, payment event.ID, amount uint64) (*event.Event, error) {
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
func (w *Service) Grant(ctx context.Context, account string, limit uint64) (*event.Event, error) {
	acct, err := w.resolve(account)
	if err != nil {
		return nil, inputErr(err)
	}
	return w.writeEntry(ctx, wallet.LimitGrant(acct, limit, ""))
}

// SendEnvelope reserves total for count red-envelope shares and announces
// the envelope in the group with the given ID, if any.
func (w *Service) SendEnvelope(ctx context.Context, groupID string, total uint64, count int) (*event.Event, error) {
	seed, err := wallet.NewSeed()
	if err != nil {
		return nil, err
	}
	expiry := w.now().Add(DefaultEnvelopeTTL).UnixMilli()
	e, err := w.write(ctx, func(now int64) (event.Body, error) {
		// Signing here gives the envelope's ID (which the engine's
		// signature keeps): the seed is durable before the envelope exists
		// anywhere.
		e, err := w.ledger.BuildSigned(w.id, wallet.Envelope(total, count, seed, expiry, ""), now)
		if err != nil {
			return event.Body{}, err
		}
		es := &EnvelopeSeed{Envelope: e.ID, Unit: w.Unit(), Seed: seed, Count: count, Expiry: expiry, Group: groupID}
		if err := store.PutJSON(w.seeds, e.ID[:], es); err != nil {
			return event.Body{}, err
		}
		return e.Body, nil
	})
	if err != nil {
		return nil, err
	}
	if groupID != "" {
		text := fmt.Sprintf("🧧 Red envelope: %d %s in %d shares. Claim it with: banyan wallet envelope claim %s", total, w.Unit(), count, e.ID)
		if err := w.groups.Announce(ctx, groupID, text); err != nil {
			w.log.Warn("announce red envelope", "err", err)
		}
	}
	return e, nil
}

// Claim claims a share of a red envelope.
func (w *Service) Claim(ctx context.Context, envelope event.ID) (*event.Event, error) {
	if _, ok := w.ledger.Envelope(envelope); !ok {
		return nil, inputErr(fmt.Errorf("%s: %w", envelope, errEnvelopeUnknown))
	}
	return w.writeEntry(ctx, wallet.Claim(envelope))
}

// Serve receipts incoming transfers and settles red envelopes as entries
// arrive and every 30 seconds.
func (w *Service) Serve(ctx context.Context) error {
	t := time.NewTicker(walletInterval)
	defer t.Stop()
	for {
		w.receiptAll(ctx)
		w.settleAll(ctx)
		w.passes.Add(1)
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
func (w *Service) receiptAll(ctx context.Context) {
	// Entries that arrive during the pass wake the worker again.
	w.waiting.Store(true)
	waiting := w.stillUncounted()
	defer func() { w.waiting.Store(waiting) }()
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
				w.log.Debug("payment not accepted (yet)", "entry", id, "err", err)
				waiting = true
				continue
			}
		}
		if _, err := w.writeEntry(ctx, wallet.Receipt(id)); err != nil {
			w.log.Warn("receipt", "entry", id, "err", err)
		}
	}
}

// uncountedWait is how long a transfer the ledger does not count keeps
// every new entry waking the worker; after it, the periodic pass looks.
const uncountedWait = time.Hour

// stillUncounted forgets the transfers that count now, or that waited
// long enough, and reports whether any is left.
func (w *Service) stillUncounted() bool {
	w.uncountedMu.Lock()
	defer w.uncountedMu.Unlock()
	for id, since := range w.uncounted {
		info, ok := w.ledger.Entry(id)
		if !ok || info.Status == wallet.StatusOK || w.now().Sub(since) > uncountedWait {
			delete(w.uncounted, id)
		}
	}
	return len(w.uncounted) > 0
}

// settleAll settles this node's red envelopes that are fully claimed or
// expired.
func (w *Service) settleAll(ctx context.Context) {
	seeds, err := store.ListJSON[EnvelopeSeed](w.seeds, nil)
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
func (w *Service) distinctClaims(info wallet.EnvelopeInfo) []event.ID {
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

func (w *Service) dropSeed(id event.ID) {
	if err := w.seeds.Delete(id[:]); err != nil {
		w.log.Warn("forget envelope seed", "err", err)
	}
}
