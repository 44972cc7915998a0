// Package pay is the wallet on the network: it replicates one unit's
// ledger of signed IOUs through the engine, writes this person's chain
// (payments, requests paid, refunds, limit grants, red envelopes and their
// claims and settlements), receipts what it is paid, spreads fraud proofs,
// and owns the wallet's API routes, commands and stream events. The
// ledger's rules are in package wallet.
package pay

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/sync/errgroup"

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
	// Redefine replaces the unit definition this node keeps with the one
	// Unit and Guarantors give (unit.go).
	Redefine bool
}

// Contacts resolves a person given by the user to their peer ID.
type Contacts interface {
	Resolve(ref string) (peer.ID, error)
}

// Groups is what red envelopes need of group chat: finding the group they
// are sent in, announcing them there, and telling its members from
// strangers.
type Groups interface {
	// Lookup resolves a group reference to the group's ID (hex) and name.
	Lookup(ref string) (id, name string, err error)
	// Announce posts text in the group with the given ID.
	Announce(ctx context.Context, id, text string) error
	// GroupScope returns the scope of the group with the given ID (hex).
	GroupScope(id string) (event.Scope, error)
	// GroupMAC returns a MAC of data under a key derived, for label, from
	// the key of the group with the given scope: only its members can make
	// or check it. ok is false when this node is not in the group.
	GroupMAC(scope event.Scope, label string, data []byte) (mac [32]byte, ok bool)
}

// Home is what the wallet asks of the node's data directory: whether the
// identity was created there and has never written anywhere (see head.go).
type Home interface {
	NewIdentity() bool
	ClearNewIdentity() error
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
	Peers func() []peer.ID
	// Host, if set, compares the unit's definition with every peer's.
	Host     host.Host
	Contacts Contacts
	Groups   Groups
	Wallet   WalletOptions
	// Home, if set, tells whether the identity is new (head.go).
	Home Home
	// People shows the other side of wallet lines.
	People *people.Directory
	Logger *slog.Logger
	Now    func() time.Time
}

// Service replicates one unit's ledger and writes this node's chain: it
// pays, receipts what it is paid, and settles its red envelopes.
type Service struct {
	// unitTable keeps the unit's definition; units compares it with
	// peers' (unit.go).
	unitTable *store.Table
	units     *unitPeers
	// started is closed once Serve answers peers.
	started chan struct{}
	// load is the start's load of the stored entries (load.go).
	load loading
	home Home

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
	requests *store.Table
	chain    *store.Table
	head     headState
	pool     *pool
	// proofSync bounds the syncs fraud proofs start.
	proofSync limiter
	// ignored counts entries ignored for want of standing, stored the
	// entries added: a sync that had to ignore some, and after which more
	// were stored, is run again (see Synced).
	ignored, stored atomic.Uint64
	lastStored      atomic.Uint64
	// changed is closed, and replaced, whenever entries are added.
	changedMu sync.Mutex
	changed   chan struct{}
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

// New builds the service and keeps the unit's scope; Serve loads the
// unit's stored entries into the ledger (load.go).
func New(opts Options) (*Service, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	unitTable, err := opts.Store.VaultTable("unit")
	if err != nil {
		return nil, err
	}
	def, err := chooseUnit(opts.Identity, unitTable, opts.Wallet, opts.Now())
	if err != nil {
		return nil, err
	}
	// The store holds every entry the ledger does: the ledger reads events
	// back from it instead of keeping them.
	l, err := wallet.NewLedger(wallet.Config{Unit: def.Unit, Guarantors: def.Guarantors, OfflineCap: opts.Wallet.OfflineCap, Events: opts.Store})
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
		pool:      newPool(), proofSync: limiter{every: proofSyncEvery, last: map[peer.ID]time.Time{}},
		changed: make(chan struct{}), unitTable: unitTable, units: newUnitPeers(def, opts.Host),
		started: make(chan struct{}), home: opts.Home,
		load: loading{addAll: l.Hold(), done: make(chan struct{})},
	}
	w.head.ch = make(chan struct{})
	if w.seeds, err = opts.Store.VaultTable("envelope-seeds"); err != nil {
		return nil, err
	}
	if w.caps, err = opts.Store.VaultTable("accept-caps"); err != nil {
		return nil, err
	}
	if w.requests, err = opts.Store.VaultTable("requests"); err != nil {
		return nil, err
	}
	// Not a vault table: its origin mark says this store holds the chain
	// from its start, which a store started afresh does not.
	if w.chain, err = opts.Store.Table("chain"); err != nil {
		return nil, err
	}
	// Kept before loading: the engine restores this node's newest entry
	// if the store lost it, and the ledger must see it (Stored keeps it
	// for after the load).
	if w.replica, err = opts.Engine.Keep(engine.Spec{
		Scope: w.scope, Topic: walletTopicPrefix + w.scope.String(),
		Kinds: []event.Kind{wallet.KindWalletEntry}, Feature: w,
	}); err != nil {
		return nil, err
	}
	anyone, payers, err := w.acceptCaps()
	if err != nil {
		return nil, err
	}
	w.policy = wallet.Policy{DefaultCap: anyone, Caps: payers}
	if w.proofs, err = opts.Gossip.Join(walletProofPrefix+w.scope.String(), func(ctx context.Context, from peer.ID, raw []byte) error {
		return w.receiveProof(raw)
	}); err != nil {
		return nil, err
	}
	return w, nil
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

// Check applies the wallet's rules to an entry of the unit from the
// network: a valid entry, of an account with standing (admit.go).
func (w *Service) Check(e *event.Event) error { return w.checkEntry(e) }

// TopicName returns the gossip topic of a unit's entries.
func TopicName(unit string) string { return walletTopicPrefix + wallet.UnitScope(unit).String() }

// ProofTopicName returns the gossip topic of a unit's fraud proofs.
func ProofTopicName(unit string) string { return walletProofPrefix + wallet.UnitScope(unit).String() }

// Stored adds entries stored in the unit's scope to the ledger, in the
// order they came (chain order where possible: the ledger's state does not
// depend on it, but evaluation is cheaper).
func (w *Service) Stored(evs []*event.Event, _ engine.Origin) {
	if w.load.keep(evs) {
		return
	}
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
		// the fork itself. At most one such sync per peer per minute: a
		// flood of forks must not become a flood of syncs.
		now := w.now()
		for _, p := range w.peers() {
			if w.proofSync.allow(p, now) {
				w.syncer.TriggerNow(p)
			}
		}
	}
	// A payment waiting to count, or to be acceptable, may be made so by
	// any entry (a limit grant, a confirmation by someone else), and an
	// entry held for want of standing may have it now.
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
	if concerns || w.waiting.Load() || w.pool.len() > 0 {
		w.wake()
	}
	w.stored.Add(1)
	w.changedMu.Lock()
	close(w.changed)
	w.changed = make(chan struct{})
	w.changedMu.Unlock()
}

// changes returns a channel closed when entries are next added.
func (w *Service) changes() <-chan struct{} {
	w.changedMu.Lock()
	defer w.changedMu.Unlock()
	return w.changed
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
	if !w.load.isDone() {
		// Its entries come with the sync that follows the load.
		return engine.Ignore(errLoading)
	}
	// A fork by a made-up key proves nothing anyone relies on: do not
	// spread it (nor store its entries).
	if author := p.Author(); author != w.me && !w.ledger.Standing(author) && !w.ledger.Referred(a.ID) && !w.ledger.Referred(b.ID) {
		return engine.Ignore(errors.New("fraud proof of an account without standing"))
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
// the limit, an unknown account, an expired request...), or by what the
// node cannot do yet (catching up), not a failure of the node.
type WalletInputError struct {
	Err error
	// status is the API status: 400 unless set (409 for a conflict with
	// what others did, 503 while catching up).
	status int
}

func (e *WalletInputError) Error() string { return e.Err.Error() }
func (e *WalletInputError) Unwrap() error { return e.Err }

func inputErr(err error) error { return &WalletInputError{Err: err} }

// conflictErr is a refusal because of what someone else did first.
func conflictErr(err error) error { return &WalletInputError{Err: err, status: 409} }

// Errors of red envelopes and requests.
var (
	errSharesGone = errors.New("every share of this red envelope has been claimed already")
	errNotMember  = errors.New("this red envelope was sent in a group you are not in: only its members can claim it")
	errNoGroup    = errors.New("this red envelope names no group, so nobody can prove they may claim it")
	// ErrRequestLost reports a payment of a request whose payee accepted
	// another payment of it.
	ErrRequestLost = fmt.Errorf("%w: the payee accepted another payment of this request; yours does not count and moved no money", wallet.ErrAlreadyPaid)
)

// errEnvelopeUnknown reports a red envelope this node does not hold.
var errEnvelopeUnknown = errors.New("red envelope not known here (yet): it may still be on its way")

// write builds this node's next entry, stores it durably, adds it and
// publishes it. build gets the time to use. Nothing is written while the
// node does not know its chain's head (head.go): a user's write (auto
// false) waits a little for a catch-up under way, an automatic one does
// not.
func (w *Service) write(ctx context.Context, auto bool, build func(now int64) (event.Body, error)) (*event.Event, error) {
	if err := w.awaitHead(ctx, !auto); err != nil {
		return nil, err
	}
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

// writeEntry writes en as this node's next entry, for the user.
func (w *Service) writeEntry(ctx context.Context, en wallet.Entry) (*event.Event, error) {
	return w.write(ctx, false, func(now int64) (event.Body, error) { return w.ledger.Build(w.me, en, now) })
}

// writeAuto writes en as this node's next entry on its own initiative (a
// receipt, a settlement).
func (w *Service) writeAuto(ctx context.Context, en wallet.Entry) (*event.Event, error) {
	return w.write(ctx, true, func(now int64) (event.Body, error) { return w.ledger.Build(w.me, en, now) })
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

// Request makes a payment request to this node and keeps it: the node
// receipts payments of the requests it issued, and of no others.
func (w *Service) Request(amount uint64, memo string, ttl time.Duration) (*wallet.Request, error) {
	if ttl <= 0 {
		ttl = 7 * 24 * time.Hour
	}
	r, err := wallet.NewRequest(w.id, w.Unit(), amount, memo, w.now().Add(ttl).UnixMilli())
	if err != nil {
		return nil, inputErr(err)
	}
	id := r.ID()
	if err := store.PutJSON(w.requests, id[:], &IssuedRequest{ID: id, Link: r.Link(), Amount: r.Amount, Memo: r.Memo, Expiry: r.Expiry}); err != nil {
		return nil, err
	}
	return r, nil
}

// PayRequest pays a payment request link.
func (w *Service) PayRequest(ctx context.Context, link string) (*event.Event, error) {
	req, err := wallet.ParseRequestLink(link)
	if err != nil {
		return nil, inputErr(err)
	}
	e, err := w.write(ctx, false, func(now int64) (event.Body, error) { return w.ledger.PayRequest(w.me, req, now) })
	var ie *WalletInputError
	if errors.As(err, &ie) && errors.Is(err, wallet.ErrAlreadyPaid) {
		ie.status = 409 // someone paid it first
	}
	return e, err
}

// AwaitRequest waits, up to wait, for the payee of the request that
// payment e pays to decide: accepted is true once the payee receipted e;
// the error is ErrRequestLost (a conflict) once it receipted another
// payment of the request. Neither within wait (the payee is offline, say):
// both zero.
func (w *Service) AwaitRequest(ctx context.Context, e *event.Event, wait time.Duration) (accepted bool, err error) {
	info, ok := w.ledger.Entry(e.ID)
	if !ok || info.Entry.Type != wallet.TypePay || info.Entry.Request == (wallet.RequestID{}) {
		return false, inputErr(errors.New("not a payment of a request"))
	}
	payee, id := info.Entry.Counterparty, info.Entry.Request
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		changed := w.changes()
		if acc := w.ledger.AcceptedPayments(payee, id); slices.Contains(acc, e.ID) {
			return true, nil
		} else if len(acc) > 0 {
			return false, conflictErr(ErrRequestLost)
		}
		select {
		case <-changed:
		case <-t.C:
			return false, nil
		case <-ctx.Done():
			return false, nil
		}
	}
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

// SendEnvelope reserves total for count red-envelope shares in the group
// with the given ID and announces the envelope there. Only the group's
// members can claim it: the envelope records the group's scope, and each
// claim carries a tag that only holders of the group's key can make.
func (w *Service) SendEnvelope(ctx context.Context, groupID string, total uint64, count int) (*event.Event, error) {
	if groupID == "" {
		return nil, inputErr(errors.New("a red envelope is sent in a group: say which"))
	}
	scope, err := w.groups.GroupScope(groupID)
	if err != nil {
		return nil, inputErr(err)
	}
	seed, err := wallet.NewSeed()
	if err != nil {
		return nil, err
	}
	expiry := w.now().Add(DefaultEnvelopeTTL).UnixMilli()
	env := wallet.Envelope(total, count, seed, expiry, "")
	env.Group = scope
	e, err := w.write(ctx, false, func(now int64) (event.Body, error) {
		// Signing here gives the envelope's ID (which the engine's
		// signature keeps): the seed is durable before the envelope exists
		// anywhere.
		e, err := w.ledger.BuildSigned(w.id, env, now)
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
	text := fmt.Sprintf("🧧 Red envelope: %d %s in %d shares. Claim it with: banyan wallet envelope claim %s", total, w.Unit(), count, e.ID)
	if err := w.groups.Announce(ctx, groupID, text); err != nil {
		w.log.Warn("announce red envelope", "err", err)
	}
	return e, nil
}

// Claim claims a share of a red envelope, as a member of its group. It
// refuses a second claim, a claim of a settled envelope and one whose
// shares other members have all claimed.
func (w *Service) Claim(ctx context.Context, envelope event.ID) (*event.Event, error) {
	info, ok := w.ledger.Envelope(envelope)
	if !ok {
		return nil, inputErr(fmt.Errorf("%s: %w", envelope, errEnvelopeUnknown))
	}
	env, _ := w.ledger.Entry(envelope)
	group := env.Entry.Group
	if group == (event.Scope{}) {
		return nil, inputErr(errNoGroup)
	}
	tag, member := w.groups.GroupMAC(group, wallet.ClaimTagLabel, wallet.ClaimTagData(envelope, w.me))
	if !member {
		return nil, inputErr(errNotMember)
	}
	if info.Settled {
		return nil, conflictErr(fmt.Errorf("%w: its shares are gone", wallet.ErrSettled))
	}
	others := map[wallet.Account]bool{}
	for _, id := range info.Claims {
		ci, ok := w.ledger.Entry(id)
		if !ok {
			continue
		}
		if ci.Author == w.me {
			return nil, conflictErr(fmt.Errorf("%w: you claimed it already (entry %s)", wallet.ErrDuplicateClaim, id))
		}
		if w.memberClaim(group, envelope, ci) {
			others[ci.Author] = true
		}
	}
	if len(others) >= info.Count {
		return nil, conflictErr(errSharesGone)
	}
	en := wallet.Claim(envelope)
	en.Tag = tag
	e, err := w.writeEntry(ctx, en)
	var ie *WalletInputError
	if errors.As(err, &ie) && (errors.Is(err, wallet.ErrDuplicateClaim) || errors.Is(err, wallet.ErrSettled)) {
		ie.status = 409
	}
	return e, err
}

// Serve receipts incoming transfers and settles red envelopes as entries
// arrive and every 30 seconds, and compares the unit's definition with
// every peer's.
func (w *Service) Serve(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return w.units.serve(ctx, w) })
	g.Go(func() error {
		if err := w.loadStored(ctx); err != nil || ctx.Err() != nil {
			return err
		}
		t := time.NewTicker(walletInterval)
		defer t.Stop()
		for {
			w.admitHeld()
			w.receiptAll(ctx)
			w.settleAll(ctx)
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			case <-w.kick:
			}
		}
	})
	return g.Wait()
}

// Started is closed once Serve answers peers' questions.
func (w *Service) Started() <-chan struct{} { return w.started }

// receiptAll receipts every transfer to this node the ledger counts and
// (for payments) the offline checks accept; of payments of requests, only
// those of requests this node issued.
func (w *Service) receiptAll(ctx context.Context) {
	if !w.HeadKnown() {
		return // Synced wakes the worker
	}
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
			if r := info.Entry.Request; r != (wallet.RequestID{}) {
				if _, mine := w.issued(r); !mine {
					w.log.Debug("payment of a request this node did not issue: not receipted", "entry", id)
					continue
				}
			}
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
		if _, err := w.writeAuto(ctx, wallet.Receipt(id)); err != nil {
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

// settleAll settles this node's red envelopes once members have claimed
// every share, or at expiry. Who gets a share: the claims of members of
// the envelope's group (their tags verify), dated within the envelope's
// life (the ledger voids the others), one per member; the sender settles
// as soon as it holds as many as there are shares, so the first members to
// reach it are paid; if more are held at that moment, SelectClaims picks
// by a rank the seed fixes and claimants cannot know. Claim times never
// decide.
func (w *Service) settleAll(ctx context.Context) {
	if !w.HeadKnown() {
		return
	}
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
		claims := w.memberClaims(es.Envelope, es.Seed, info)
		if len(claims) < info.Count && now < info.Expiry {
			continue
		}
		if _, err := w.writeAuto(ctx, wallet.Settle(es.Envelope, es.Seed, claims)); err != nil {
			w.log.Warn("settle red envelope", "envelope", es.Envelope, "err", err)
		}
	}
}

// memberClaims picks the claims a settlement pays: effective claims by
// members of the envelope's group, one per member, at most Count.
func (w *Service) memberClaims(envelope event.ID, seed wallet.Seed, info wallet.EnvelopeInfo) []event.ID {
	env, _ := w.ledger.Entry(envelope)
	cands := map[event.ID]wallet.Account{}
	for _, id := range info.Claims {
		ci, ok := w.ledger.Entry(id)
		if ok && ci.Status == wallet.StatusOK && w.memberClaim(env.Entry.Group, envelope, ci) {
			cands[id] = ci.Author
		}
	}
	return wallet.SelectClaims(seed, info.Count, cands)
}

func (w *Service) dropSeed(id event.ID) {
	if err := w.seeds.Delete(id[:]); err != nil {
		w.log.Warn("forget envelope seed", "err", err)
	}
}
