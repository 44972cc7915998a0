package wallet

import (
	"bytes"
	"cmp"
	"container/heap"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"slices"
	"sync"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// Config configures one unit of mutual credit.
type Config struct {
	// Unit is the unit's name; its entries live in scope UnitScope(Unit).
	Unit string
	// Guarantors are the accounts whose limit entries grant credit.
	Guarantors []Account
	// OfflineCap bounds the unconfirmed spending a payee accepts from a
	// payer offline (see CheckPayment). 0 disables the cap.
	OfflineCap uint64
	// MaxLimit caps an account's credit limit (the sum of its grants).
	// 0 means MaxAmount.
	MaxLimit uint64
	// Events, if set, reads held entries back (see Events), and must
	// hold each entry by the time it is added: the ledger then keeps a
	// few hundred bytes per entry instead of its event.
	Events Events
}

// Status is what the ledger makes of an entry.
type Status uint8

// Entry statuses.
const (
	// StatusPending: an entry of the chain before it is not held yet.
	StatusPending Status = iota
	// StatusInvalid: the entry breaks its chain (wrong prev, time or
	// balance, or an invalid entry before it). It and every entry after it
	// on its branch never count.
	StatusInvalid
	// StatusVoid: the entry is on a valid chain but has no effect (a
	// payment over the limit, a second payment of a request, a receipt of
	// an unknown payment, ...). The chain continues after it.
	StatusVoid
	// StatusOK: the entry is on a valid chain and takes effect.
	StatusOK
)

var statusNames = [...]string{"pending", "invalid", "void", "ok"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Reasons an entry is invalid or void, and reasons a payment is refused.
var (
	ErrChainBroken      = errors.New("chain broken")
	ErrAncestorInvalid  = errors.New("an earlier entry of the chain is invalid")
	ErrOverLimit        = errors.New("over the credit limit")
	ErrAlreadyPaid      = errors.New("payment request already paid")
	ErrRefundExceeds    = errors.New("refunds would exceed the original payment")
	ErrUnknownRef       = errors.New("referenced entry not held")
	ErrBadRef           = errors.New("referenced entry does not match")
	ErrDuplicateReceipt = errors.New("transfer already receipted on this chain")
	ErrNotGuarantor     = errors.New("author is not a guarantor of the unit")
	ErrSettled          = errors.New("envelope already settled")
	ErrBadSeed          = errors.New("seed does not match the envelope's commitment")
	ErrBadSettle        = errors.New("settlement does not match its envelope and claims")
	ErrSettleEarly      = errors.New("envelope settled before expiry with unclaimed shares")
	ErrClaimLate        = errors.New("claim after the envelope's expiry")
	ErrClaimEarly       = errors.New("claim dated before its envelope")
	ErrDuplicateClaim   = errors.New("envelope already claimed on this chain")
	ErrRequestUnnamed   = errors.New("payment names a request nonce but not the request: it pays no request")
	ErrOverflow         = errors.New("balance out of range")
)

type transfer struct {
	from, to Account
	amount   uint64
}

type prio struct {
	time int64
	id   event.ID
}

func (p prio) less(q prio) bool {
	if p.time != q.time {
		return p.time < q.time
	}
	return bytes.Compare(p.id[:], q.id[:]) < 0
}

// node is one entry of the set: what evaluation and the queries need of
// it, held as values (see entry), in 224 bytes. The author is its chain's
// account, shared by the author's entries.
type node struct {
	id   event.ID
	by   *Account
	seq  uint64
	time int64
	en   entry

	// structural, maintained by Add: parent is the entry this one names
	// as its prev, once held (until then the entry is in Ledger.orphans,
	// under the prev it names); the entries whose prev is this one
	// are a list from child through Ledger.siblings (more than one only
	// in a fork).
	parent *node
	child  *node
	rooted bool
	// broken: the entry breaks its chain (Ledger.chainErrs says how)
	broken bool
	typ    Type

	// derived by the effects pass; why an entry is void is in
	// derived.reasons (few entries are, and an error is 16 bytes)
	done   bool
	inSet  bool
	status Status
	order  int32
	indeg  int32
	spend  int64
}

func (n *node) author() Account { return *n.by }

func (n *node) counterparty() Account { return *n.en.Counterparty }

func (n *node) prio() prio { return prio{n.time, n.id} }

func (n *node) ok() bool { return n.done && n.status == StatusOK }

// state is n's effective status, combining structure and derivation, and
// the reason for it.
func (l *Ledger) state(n *node) (Status, error) {
	switch {
	case !n.rooted:
		return StatusPending, nil
	case n.broken:
		return StatusInvalid, l.chainErrs[n]
	case n.done:
		return n.status, l.d.reasons[n]
	}
	return StatusPending, nil
}

// reqKey is a payment request: its payee and its ID.
type reqKey struct {
	payee Account
	id    RequestID
}

type nonceKey struct {
	payee Account
	nonce Nonce
}

type proofKey struct {
	author Account
	seq    uint64
	link   bool // a broken-link proof at (seq, seq+1); otherwise same position
}

type grant struct {
	seq    uint64
	time   int64
	amount uint64
}

type envState struct {
	// settle is the envelope's first effective settlement in the
	// canonical order: the one paid from the escrow.
	settle *node
}

// derived is everything the effects pass computes.
type derived struct {
	balances map[Account]int64
	order    []*node
	maxPrio  prio
	anyDone  bool
	paid     map[reqKey]*node
	// paidNonce: per (payee, nonce), the first effective payment of a
	// request with that nonce (RequestPaid)
	paidNonce map[nonceKey]*node
	// candidates: per request, the payee's receipts of payments of it;
	// designated: the payments whose receipt is the first receipt of a
	// payment of the request on its branch of the payee's chain. Those
	// are the payments that count.
	candidates map[reqKey][]*node
	designated map[reqKey]map[event.ID]bool
	reqSeen    map[reqKey]bool // a payment of the request was evaluated
	// effective refunds, claims and settlements per entry they refer to
	refunds map[event.ID][]*node
	claims  map[event.ID][]*node
	settles map[event.ID][]*node
	// settled are the transfers of effective settlements (see effectsOf)
	settled map[*node][]transfer
	// reasons say why the entries that are not effective are not
	reasons   map[*node]error
	envelopes map[event.ID]*envState
	escrows   map[Account]event.ID
	limits    map[Account]map[Account][]grant // grantee -> guarantor -> grants
	// credited: accounts credited by an effective transfer from someone
	// else (see Standing)
	credited map[Account]bool
}

// Ledger is the deterministic state of one unit, derived from a set of
// verified wallet events. Its state depends only on the set of events
// added, never on their order or on duplicates. It is safe for concurrent
// use.
type Ledger struct {
	mu        sync.Mutex
	cfg       Config
	scope     event.Scope
	guarantor map[Account]bool
	maxLimit  uint64

	nodes  nodeSet
	chains map[Account]*chain
	// accounts holds one copy of each counterparty that entries name,
	// which their nodes share
	accounts map[Account]*Account
	// siblings and twins link the entries of forks, which are rare, so
	// beside the nodes: the next entry that names the same prev (or waits
	// for it, in orphans), and the next entry of the author at the same
	// position (the first one added, then the others newest first)
	siblings map[*node]*node
	twins    map[*node]*node
	// least holds, for each forked position, the entries its fraud proof
	// is made of (updateForks)
	least map[proofKey][2]*node
	// orphans are entries whose prev is not held, by prev, listed
	// through siblings
	orphans   map[event.ID]*node
	referrers referrers
	// kept are the whole events, without Config.Events
	kept      map[event.ID]*event.Event
	chainErrs map[*node]error // how each broken entry breaks its chain
	proofs    map[proofKey]*heldProof
	forks     map[Account]int  // proofs per author
	named     map[Account]bool // named by a held grant of a guarantor (Standing)

	dirty bool
	d     derived
}

// NewLedger returns an empty ledger for the unit of cfg.
func NewLedger(cfg Config) (*Ledger, error) {
	if err := ValidUnit(cfg.Unit); err != nil {
		return nil, err
	}
	l := &Ledger{
		cfg:       cfg,
		scope:     UnitScope(cfg.Unit),
		guarantor: make(map[Account]bool),
		maxLimit:  cfg.MaxLimit,
		nodes:     newNodeSet(byID),
		chains:    make(map[Account]*chain),
		accounts:  make(map[Account]*Account),
		siblings:  make(map[*node]*node),
		twins:     make(map[*node]*node),
		least:     make(map[proofKey][2]*node),
		orphans:   make(map[event.ID]*node),
		referrers: newReferrers(),
		kept:      make(map[event.ID]*event.Event),
		chainErrs: make(map[*node]error),
		proofs:    make(map[proofKey]*heldProof),
		forks:     make(map[Account]int),
		named:     make(map[Account]bool),
	}
	if l.maxLimit == 0 || l.maxLimit > MaxAmount {
		l.maxLimit = MaxAmount
	}
	l.cfg.Guarantors = slices.Clone(cfg.Guarantors)
	for _, g := range cfg.Guarantors {
		if g.IsZero() {
			return nil, errors.New("zero guarantor account")
		}
		l.guarantor[g] = true
	}
	l.resetDerived()
	return l, nil
}

// Config returns the ledger's configuration.
func (l *Ledger) Config() Config {
	c := l.cfg
	c.Guarantors = slices.Clone(c.Guarantors)
	return c
}

// Scope returns the unit's scope.
func (l *Ledger) Scope() event.Scope { return l.scope }

func (l *Ledger) resetDerived() {
	l.d = derived{
		balances:   make(map[Account]int64),
		paid:       make(map[reqKey]*node),
		paidNonce:  make(map[nonceKey]*node),
		candidates: make(map[reqKey][]*node),
		designated: make(map[reqKey]map[event.ID]bool),
		reqSeen:    make(map[reqKey]bool),
		refunds:    make(map[event.ID][]*node),
		claims:     make(map[event.ID][]*node),
		settles:    make(map[event.ID][]*node),
		settled:    make(map[*node][]transfer),
		reasons:    make(map[*node]error),
		envelopes:  make(map[event.ID]*envState),
		escrows:    make(map[Account]event.ID),
		limits:     make(map[Account]map[Account][]grant),
		credited:   make(map[Account]bool),
	}
}

// AddResult tells what Add did.
type AddResult struct {
	// New is false when the event was already held.
	New bool
	// Proofs are the fraud proofs that involve this event, when it
	// conflicts with entries already held. Spread them with priority.
	Proofs []*FraudProof
}

// Add adds a verified event (from event.Decode or event.Sign) to the set.
// It rejects events that are not wallet entries of this unit; every other
// event is kept, even when its chain is broken or its predecessors are
// missing (it then waits as pending). Adding an event twice does nothing.
// The ledger may keep e (it does without Config.Events): do not modify it
// afterwards.
func (l *Ledger) Add(e *event.Event) (AddResult, error) {
	en, err := l.check(e)
	if err != nil {
		return AddResult{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n, proofs := l.insert(e, en)
	if n == nil {
		return AddResult{}, nil
	}
	// Root the event and whatever was waiting for it.
	var rooted []*node
	if p := l.nodes.get(e.PrevID()); e.Seq == 1 || p != nil && p.rooted {
		rooted = l.root(n)
	}
	l.advance(rooted)
	return AddResult{New: true, Proofs: proofs}, nil
}

// AddAll adds many verified events at once, as a node loading its stored
// entries does: the state is the one Add would give for each (the set
// decides it, not the order), but events are rooted once they are all in
// and evaluated in one pass at the end, instead of the incremental pass
// per event that a large unit's history makes quadratic when its order is
// not the ledger's. It returns how many events were new, and the errors of
// those it rejected (as Add would), joined. evs is read on a goroutine of
// its own while the events read so far are checked on every core and
// added, with the ledger locked: it must not call the ledger.
func (l *Ledger) AddAll(evs iter.Seq[*event.Event]) (added int, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addAll(evs)
}

// Hold locks the ledger for a load to come and returns the load: AddAll
// of evs, after which the ledger is unlocked. Until it has run, every
// other call waits: a node that loads a large unit in the background
// answers nothing from a half-loaded ledger. The load must be called
// exactly once.
func (l *Ledger) Hold() (load func(evs iter.Seq[*event.Event]) (added int, err error)) {
	l.mu.Lock()
	return func(evs iter.Seq[*event.Event]) (int, error) {
		defer l.mu.Unlock()
		return l.addAll(evs)
	}
}

func (l *Ledger) addAll(evs iter.Seq[*event.Event]) (added int, err error) {
	var errs []error
	var fresh []*node
	for cs := range l.checkAll(evs) {
		for _, c := range cs {
			if c.err != nil {
				errs = append(errs, fmt.Errorf("entry %s: %w", c.e.ID, c.err))
				continue
			}
			if n, _ := l.insert(c.e, c.en); n != nil {
				fresh = append(fresh, n)
			}
		}
	}
	if len(fresh) > 0 {
		// A node loads in ID order, so many entries waited here for
		// their prev a while, and a map never shrinks: 22 bytes an entry
		// of a node's load stayed held (BenchmarkLedgerLoad).
		orphans := make(map[event.ID]*node, len(l.orphans))
		for prev, n := range l.orphans {
			orphans[prev] = n
		}
		l.orphans = orphans
	}
	for _, n := range fresh {
		if p := n.parent; !n.rooted && (n.seq == 1 || p != nil && p.rooted) {
			l.root(n)
		}
	}
	if len(fresh) > 0 {
		l.dirty = true
		l.ensure()
	}
	return len(fresh), errors.Join(errs...)
}

// checkedEvent is an event and the outcome of its edge check.
type checkedEvent struct {
	e   *event.Event
	en  *Entry
	err error
}

// checkAll reads evs on a goroutine of its own and checks its events on
// every core, in chunks, handed on in any order: decoding each entry is a
// good part of loading a large unit, and needs no lock. The caller must
// take every chunk, which ends the goroutines.
func (l *Ledger) checkAll(evs iter.Seq[*event.Event]) <-chan []checkedEvent {
	const chunk = 256
	workers := runtime.GOMAXPROCS(0)
	read := make(chan []*event.Event, workers)
	checked := make(chan []checkedEvent, workers)
	go func() {
		defer close(read)
		var c []*event.Event
		for e := range evs {
			if c = append(c, e); len(c) == chunk {
				read <- c
				c = nil
			}
		}
		if len(c) > 0 {
			read <- c
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for c := range read {
				out := make([]checkedEvent, len(c))
				for i, e := range c {
					out[i].e = e
					out[i].en, out[i].err = l.check(e)
				}
				checked <- out
			}
		})
	}
	go func() {
		wg.Wait()
		close(checked)
	}()
	return checked
}

// check is Add's edge check: a wallet entry of this unit.
func (l *Ledger) check(e *event.Event) (*Entry, error) {
	en, err := CheckEvent(e)
	if err != nil {
		return nil, err
	}
	if e.ScopeID() != l.scope {
		return nil, fmt.Errorf("%w: unit %q, ledger of %q", ErrWrongScope, en.Unit, l.cfg.Unit)
	}
	return en, nil
}

// shared returns the ledger's copy of a, which the nodes naming a share
// (noAccount for none).
func (l *Ledger) shared(a Account) *Account {
	if a.IsZero() {
		return noAccount
	}
	p := l.accounts[a]
	if p == nil {
		p = new(Account)
		*p = a
		l.accounts[a] = p
	}
	return p
}

// sibling is the next entry that names the same prev as n, or nil.
func (l *Ledger) sibling(n *node) *node { return l.siblings[n] }

// twin is the next entry of n's author at n's position, or nil.
func (l *Ledger) twin(n *node) *node { return l.twins[n] }

// precede puts n, new, before next in a list of siblings.
func (l *Ledger) precede(n, next *node) {
	if next != nil {
		l.siblings[n] = next
	}
}

// insert records a checked event in the set's structure, not rooted yet,
// and updates the fraud proofs around it; it returns nil if e was held
// already, and the proofs that involve e.
func (l *Ledger) insert(e *event.Event, en *Entry) (*node, []*FraudProof) {
	author, _ := AccountOf(e.Author)
	c := l.chains[author]
	if c == nil {
		c = &chain{account: author}
		l.chains[author] = c
	}
	n := newNode(e, en, &c.account, l.shared(en.Counterparty))
	if !l.nodes.add(n) {
		return nil, nil
	}
	if l.cfg.Events == nil {
		l.kept[e.ID] = e
	}
	if x := c.add(n); x != nil {
		if y := l.twins[x]; y != nil {
			l.twins[n] = y
		}
		l.twins[x] = n
	}
	if e.Seq > 1 {
		prev := e.PrevID()
		if p := l.nodes.get(prev); p != nil {
			n.parent = p
			l.precede(n, p.child)
			p.child = n
		} else {
			l.precede(n, l.orphans[prev])
			l.orphans[prev] = n
		}
	}
	if c := l.orphans[n.id]; c != nil {
		n.child = c
		for x := c; x != nil; x = l.sibling(x) {
			x.parent = n
		}
		delete(l.orphans, n.id)
	}
	l.referrers.add(n)
	if en.Type == TypeLimit && l.guarantor[author] {
		l.named[en.Counterparty] = true
	}
	wasForked := l.forks[author] > 0
	proofs := l.updateForks(author, e.Seq, n)
	if l.guarantor[author] && !wasForked && l.forks[author] > 0 {
		l.dirty = true // the guarantor's revocations stop counting (see limitAt)
	}
	return n, proofs
}

func dedupe(ids []event.ID) []event.ID {
	if len(ids) < 2 {
		return ids
	}
	out := ids[:0:0]
	seen := make(map[event.ID]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// root marks n rooted (its parent is rooted or it is first), checks its
// link, and does the same for the pending entries waiting for it. It
// returns the newly rooted nodes, parents before children.
func (l *Ledger) root(n *node) []*node {
	var out []*node
	queue := []*node{n}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		x.rooted = true
		if err := checkLink(x); err != nil {
			x.broken = true
			l.chainErrs[x] = err
		}
		out = append(out, x)
		for c := x.child; c != nil; c = l.sibling(c) {
			queue = append(queue, c)
		}
	}
	return out
}

// checkLink checks an entry against its parent: the parent is the
// author's entry at the previous position, time increases, and the balance
// is the parent's balance plus the entry's delta.
func checkLink(n *node) error {
	var prevBal int64
	if p := n.parent; p != nil {
		switch {
		case p.broken:
			return ErrAncestorInvalid
		case p.author() != n.author() || p.seq+1 != n.seq:
			return fmt.Errorf("%w: prev is not the author's previous entry", ErrChainBroken)
		case n.time <= p.time:
			return fmt.Errorf("%w: time %d not after the previous entry's %d", ErrChainBroken, n.time, p.time)
		}
		prevBal = p.en.Balance
	}
	want, ok := addInt64(prevBal, delta(n.typ, n.en.Amount))
	if !ok || want != n.en.Balance {
		return fmt.Errorf("%w: balance %d, want %d", ErrChainBroken, n.en.Balance, want)
	}
	return nil
}

func addInt64(a, b int64) (int64, bool) {
	c := a + b
	if (b > 0 && c < a) || (b < 0 && c > a) {
		return 0, false
	}
	return c, true
}

// advance runs the effects pass on newly rooted nodes if it can do so
// incrementally (the result equals a full recomputation); otherwise it
// marks the derived state dirty.
func (l *Ledger) advance(rooted []*node) {
	if len(rooted) == 0 || l.dirty {
		return
	}
	var set []*node
	for _, x := range rooted {
		// Entries already evaluated that refer to x were evaluated
		// without it.
		for r := range l.referrers.of(x.id) {
			if r.done {
				l.dirty = true
				return
			}
		}
		if x.broken {
			continue
		}
		if l.d.anyDone && !l.d.maxPrio.less(x.prio()) {
			l.dirty = true // it would have been evaluated earlier
			return
		}
		if x.typ == TypeLimit && l.guarantor[x.author()] && l.d.anyDone && x.time <= l.d.maxPrio.time {
			l.dirty = true // the grant applies to entries evaluated already
			return
		}
		if k, ok := l.designates(x); ok && l.d.reqSeen[k] {
			l.dirty = true // it may change which payment of the request counts
			return
		}
		set = append(set, x)
	}
	for _, x := range set {
		if x.typ == TypeLimit && l.guarantor[x.author()] {
			l.addGrant(x)
		}
		l.designate(x)
	}
	l.pass(set)
}

// ensure brings the derived state up to date.
func (l *Ledger) ensure() {
	if !l.dirty {
		return
	}
	l.resetDerived()
	l.computeLimits()
	for n := range l.nodes.all() {
		l.designate(n)
	}
	var set []*node
	for n := range l.nodes.all() {
		n.done, n.status, n.spend, n.order = false, StatusPending, 0, 0
		if n.rooted && !n.broken {
			set = append(set, n)
		}
	}
	l.pass(set)
	l.dirty = false
}

func (l *Ledger) computeLimits() {
	for n := range l.nodes.all() {
		if n.rooted && !n.broken && n.typ == TypeLimit && l.guarantor[n.author()] {
			l.addGrant(n)
		}
	}
}

// designates reports whether r is a receipt, by its payee, of a payment of
// a request (rooted, unbroken, matching), which makes it a candidate to
// designate the payment that counts for the request.
func (l *Ledger) designates(r *node) (reqKey, bool) {
	if r.typ != TypeReceipt || !r.rooted || r.broken {
		return reqKey{}, false
	}
	t := l.nodes.get(r.en.Ref)
	if t == nil || !t.rooted || t.broken || t.typ != TypePay || t.en.Request == (RequestID{}) ||
		t.counterparty() != r.author() || t.author() != r.counterparty() || t.en.Amount != r.en.Amount {
		return reqKey{}, false
	}
	return reqKey{r.author(), t.en.Request}, true
}

// designate records r if it is a receipt, by its payee, of a payment of a
// request, and recomputes which payments of the request the payee's
// receipts designate: on each branch of the payee's chain, the payment of
// its first such receipt. A branch of the payee's chain never undoes what
// another branch designated.
func (l *Ledger) designate(r *node) {
	k, ok := l.designates(r)
	if !ok || slices.Contains(l.d.candidates[k], r) {
		return
	}
	cs := append(l.d.candidates[k], r)
	l.d.candidates[k] = cs
	d := make(map[event.ID]bool, 1)
	for _, c := range cs {
		first := true
		for _, q := range cs {
			if q != c && l.ancestor(q, c) {
				first = false
				break
			}
		}
		if first {
			d[c.en.Ref] = true
		}
	}
	l.d.designated[k] = d
}

// ancestor reports whether q is an earlier entry on n's branch of its
// author's chain. Both are rooted and unbroken (n may be hypothetical,
// with its parent set).
func (l *Ledger) ancestor(q, n *node) bool {
	if q.author() != n.author() || q.seq >= n.seq {
		return false
	}
	if l.forks[n.author()] == 0 {
		// No fork proof: the author's chain is one line.
		return true
	}
	return isAncestor(q, n)
}

// addGrant records a guarantor's grant, keeping each guarantor's grants
// ordered by (seq, amount).
func (l *Ledger) addGrant(n *node) {
	m := l.d.limits[n.counterparty()]
	if m == nil {
		m = make(map[Account][]grant)
		l.d.limits[n.counterparty()] = m
	}
	g := grant{n.seq, n.time, n.en.Amount}
	gs := m[n.author()]
	i, _ := slices.BinarySearchFunc(gs, g, func(a, b grant) int {
		return cmp.Or(cmp.Compare(a.seq, b.seq), cmp.Compare(a.amount, b.amount))
	})
	m[n.author()] = slices.Insert(gs, i, g)
}

// limitAt is the credit limit of a at time t: for each guarantor, its
// latest grant to a with time <= t, summed and capped. A guarantor that
// forked its chain could date a revocation back on a branch of its own, so
// once it has forked its revocations stop counting: each of its grantees
// keeps the largest grant it had been given with time <= t. A fork of a
// guarantor can add credit but never take away credit that was spent.
func (l *Ledger) limitAt(a Account, t int64) uint64 {
	var sum uint64
	for g, gs := range l.d.limits[a] {
		var best *grant
		forked := l.forks[g] > 0
		for i := range gs {
			gr := &gs[i]
			if gr.time > t {
				continue
			}
			if best == nil || !forked && gr.seq > best.seq || forked && gr.amount > best.amount {
				best = gr
			}
		}
		if best != nil {
			sum += best.amount // each <= MaxAmount; capped below after each add
			if sum > l.maxLimit {
				sum = l.maxLimit
			}
		}
	}
	return min(sum, l.maxLimit)
}

type nodeHeap []*node

func (h nodeHeap) Len() int           { return len(h) }
func (h nodeHeap) Less(i, j int) bool { return h[i].prio().less(h[j].prio()) }
func (h nodeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *nodeHeap) Push(x any)        { *h = append(*h, x.(*node)) }
func (h *nodeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// pass evaluates the nodes of set (rooted, unbroken, not yet evaluated) in
// the canonical order: repeatedly the (time, ID)-smallest node whose
// parent and held, rooted references are evaluated. The order, and so every
// "first one wins" rule, is a function of the set of events alone.
func (l *Ledger) pass(set []*node) {
	for _, n := range set {
		n.inSet = true
	}
	h := make(nodeHeap, 0, len(set))
	for _, n := range set {
		n.indeg = 0
		if n.parent != nil && !n.parent.done {
			n.indeg++
		}
		n.eachRef(func(r event.ID) {
			if t := l.nodes.get(r); t != nil && t.inSet && !t.done {
				n.indeg++
			}
		})
		if n.indeg == 0 {
			h = append(h, n)
		}
	}
	heap.Init(&h)
	for h.Len() > 0 {
		n := heap.Pop(&h).(*node)
		l.evaluate(n)
		for s := n.child; s != nil; s = l.sibling(s) {
			if s.inSet && !s.done && s.parent == n {
				if s.indeg--; s.indeg == 0 {
					heap.Push(&h, s)
				}
			}
		}
		for s := range l.referrers.of(n.id) {
			if s.inSet && !s.done {
				if s.indeg--; s.indeg == 0 {
					heap.Push(&h, s)
				}
			}
		}
	}
	for _, n := range set {
		n.inSet = false
	}
}

// evaluate decides a node's status and applies its effects.
func (l *Ledger) evaluate(n *node) {
	o := l.eval(n)
	n.done = true
	n.status, n.spend = o.status, o.spend
	if o.reason != nil {
		l.d.reasons[n] = o.reason
	}
	n.order = int32(len(l.d.order))
	l.d.order = append(l.d.order, n)
	if !l.d.anyDone || l.d.maxPrio.less(n.prio()) {
		l.d.maxPrio = n.prio()
	}
	l.d.anyDone = true
	if n.typ == TypePay && n.en.Request != (RequestID{}) {
		l.d.reqSeen[reqKey{n.counterparty(), n.en.Request}] = true
	}
	if o.status != StatusOK {
		return
	}
	for _, t := range o.effects {
		l.d.balances[t.from] -= int64(t.amount)
		l.d.balances[t.to] += int64(t.amount)
		if t.from != t.to {
			l.d.credited[t.to] = true
		}
	}
	en := &n.en
	switch n.typ {
	case TypePay:
		if en.Request != (RequestID{}) {
			if k := (reqKey{n.counterparty(), en.Request}); l.d.paid[k] == nil {
				l.d.paid[k] = n
			}
			if k := (nonceKey{n.counterparty(), en.Nonce}); l.d.paidNonce[k] == nil {
				l.d.paidNonce[k] = n
			}
		}
	case TypeRefund:
		l.d.refunds[en.Ref] = append(l.d.refunds[en.Ref], n)
	case TypeClaim:
		l.d.claims[en.Ref] = append(l.d.claims[en.Ref], n)
	case TypeEnvelope:
		l.d.envelopes[n.id] = &envState{}
		l.d.escrows[Escrow(n.id)] = n.id
	case TypeSettle:
		l.d.settled[n] = o.effects
		l.d.settles[en.Ref] = append(l.d.settles[en.Ref], n)
		if st := l.d.envelopes[en.Ref]; st.settle == nil {
			st.settle = n
		}
	}
}

// refundedOnBranch sums the effective refunds of a payment that are on
// n's branch of its author's chain, before n.
func (l *Ledger) refundedOnBranch(payment event.ID, n *node) uint64 {
	var sum uint64
	for _, r := range l.d.refunds[payment] {
		if l.ancestor(r, n) {
			sum += r.en.Amount
		}
	}
	return sum
}

// evaluated returns the node of id if it is held, rooted and evaluated.
func (l *Ledger) evaluated(id event.ID) (*node, error) {
	t := l.nodes.get(id)
	switch {
	case t == nil || !t.rooted:
		return nil, ErrUnknownRef
	case t.broken:
		return nil, fmt.Errorf("%w: it is invalid", ErrBadRef)
	case !t.done:
		return nil, ErrUnknownRef
	}
	return t, nil
}

type outcome struct {
	status  Status
	reason  error
	spend   int64
	effects []transfer
}

func void(spend int64, err error) outcome {
	return outcome{status: StatusVoid, reason: err, spend: spend}
}

// credit is what transfer t credits to a.
func (l *Ledger) credit(t *node, a Account) uint64 {
	var c uint64
	var buf [1]transfer
	for _, x := range l.effectsOf(t, &buf) {
		if x.to == a && x.from != a {
			c += x.amount
		}
	}
	return c
}

func isAncestor(q, n *node) bool {
	for x := n.parent; x != nil && x.seq >= q.seq; x = x.parent {
		if x == q {
			return true
		}
	}
	return false
}

// eval decides the status of a rooted, unbroken node whose parent and
// references are evaluated, without changing the ledger. It is also run on
// hypothetical entries by CheckPayment and the builders.
func (l *Ledger) eval(n *node) outcome {
	var pspend int64
	if n.parent != nil {
		pspend = n.parent.spend
	}
	en := &n.en
	debit := func(effects ...transfer) outcome {
		spend, ok := addInt64(pspend, -int64(en.Amount))
		if !ok {
			return void(pspend, ErrOverflow)
		}
		if limit := l.limitAt(n.author(), n.time); spend < -int64(limit) {
			return void(pspend, fmt.Errorf("%w: spendable %d, amount %d, limit %d", ErrOverLimit, pspend, en.Amount, limit))
		}
		if err := l.checkBalances(effects); err != nil {
			return void(pspend, err)
		}
		return outcome{status: StatusOK, spend: spend, effects: effects}
	}
	switch n.typ {
	case TypePay:
		if en.Request != (RequestID{}) {
			if n.time > en.Expiry {
				return void(pspend, fmt.Errorf("%w: paid at %d, the request expired at %d", ErrExpired, n.time, en.Expiry))
			}
			k := reqKey{n.counterparty(), en.Request}
			if d := l.d.designated[k]; len(d) > 0 {
				if !d[n.id] {
					return void(pspend, fmt.Errorf("%w: the payee accepted another payment of it", ErrAlreadyPaid))
				}
			} else if w := l.d.paid[k]; w != nil && w != n {
				// Until the payee receipts one, an earlier payment of the
				// request counts instead; this one may still be the one
				// the payee accepts, so its amount stays reserved on the
				// payer's branch: the payer cannot spend it twice, and
				// nothing it spent later is undone when the payee decides.
				o := debit(transfer{n.author(), n.counterparty(), en.Amount})
				reserved := pspend
				if o.status == StatusOK {
					reserved = o.spend
				}
				return void(reserved, fmt.Errorf("%w: by %s (until the payee accepts one)", ErrAlreadyPaid, w.id))
			}
		} else if !en.Nonce.IsZero() {
			return void(pspend, ErrRequestUnnamed)
		}
		return debit(transfer{n.author(), n.counterparty(), en.Amount})

	case TypeRefund:
		p, err := l.evaluated(en.Ref)
		if err != nil {
			return void(pspend, err)
		}
		if p.typ != TypePay || p.status != StatusOK || p.counterparty() != n.author() || p.author() != n.counterparty() {
			return void(pspend, fmt.Errorf("%w: not a payment from the counterparty to the author", ErrBadRef))
		}
		if done := l.refundedOnBranch(en.Ref, n); en.Amount > p.en.Amount-done {
			return void(pspend, fmt.Errorf("%w: %d of %d refunded already", ErrRefundExceeds, done, p.en.Amount))
		}
		return debit(transfer{n.author(), n.counterparty(), en.Amount})

	case TypeEnvelope:
		return debit(transfer{n.author(), Escrow(n.id), en.Amount})

	case TypeReceipt:
		t, err := l.evaluated(en.Ref)
		if err != nil {
			return void(pspend, err)
		}
		if t.status != StatusOK || t.author() != n.counterparty() {
			return void(pspend, fmt.Errorf("%w: not an effective transfer by the counterparty", ErrBadRef))
		}
		if c := l.credit(t, n.author()); c != en.Amount {
			return void(pspend, fmt.Errorf("%w: it credits %d, the receipt says %d", ErrBadRef, c, en.Amount))
		}
		for q := range l.referrers.of(en.Ref) {
			if q.typ == TypeReceipt && q.ok() && l.ancestor(q, n) {
				return void(pspend, ErrDuplicateReceipt)
			}
		}
		spend, ok := addInt64(pspend, int64(en.Amount))
		if !ok {
			return void(pspend, ErrOverflow)
		}
		return outcome{status: StatusOK, spend: spend}

	case TypeLimit:
		if !l.guarantor[n.author()] {
			return void(pspend, ErrNotGuarantor)
		}
		return outcome{status: StatusOK, spend: pspend}

	case TypeClaim:
		env, err := l.evaluated(en.Ref)
		if err != nil {
			return void(pspend, err)
		}
		if env.typ != TypeEnvelope || env.status != StatusOK || env.author() != n.counterparty() {
			return void(pspend, fmt.Errorf("%w: not an effective envelope of the counterparty", ErrBadRef))
		}
		if n.time > env.en.Expiry {
			return void(pspend, ErrClaimLate)
		}
		if n.time < env.time {
			return void(pspend, fmt.Errorf("%w: claim at %d, envelope at %d", ErrClaimEarly, n.time, env.time))
		}
		for _, q := range l.d.claims[en.Ref] {
			if l.ancestor(q, n) {
				return void(pspend, fmt.Errorf("%w: by entry %d", ErrDuplicateClaim, q.seq))
			}
		}
		return outcome{status: StatusOK, spend: pspend}

	case TypeSettle:
		return l.evalSettle(n, pspend)
	}
	return void(pspend, ErrBadEntry) // unreachable: CheckEvent knows every type
}

func (l *Ledger) evalSettle(n *node, pspend int64) outcome {
	en := &n.en
	env, err := l.evaluated(en.Ref)
	if err != nil {
		return void(pspend, err)
	}
	if env.typ != TypeEnvelope || env.status != StatusOK || !l.ancestor(env, n) {
		return void(pspend, fmt.Errorf("%w: not an effective envelope earlier on the author's chain", ErrBadRef))
	}
	for _, s := range l.d.settles[en.Ref] {
		if l.ancestor(s, n) {
			return void(pspend, fmt.Errorf("%w: by %s", ErrSettled, s.id))
		}
	}
	if Commitment(en.Seed) != env.en.Commit {
		return void(pspend, ErrBadSeed)
	}
	count := int(env.en.Count)
	if len(en.Claims) > count {
		return void(pspend, fmt.Errorf("%w: %d claims for %d shares", ErrBadSettle, len(en.Claims), count))
	}
	claimants := make([]Account, len(en.Claims))
	seen := make(map[Account]bool, len(en.Claims))
	for i, id := range en.Claims {
		c, err := l.evaluated(id)
		if err != nil {
			return void(pspend, fmt.Errorf("claim %s: %w", id, err))
		}
		if c.typ != TypeClaim || c.status != StatusOK || c.en.Ref != en.Ref {
			return void(pspend, fmt.Errorf("%w: %s is not an effective claim of this envelope", ErrBadSettle, id))
		}
		if seen[c.author()] {
			return void(pspend, fmt.Errorf("%w: two claims by %s", ErrBadSettle, c.author()))
		}
		seen[c.author()] = true
		claimants[i] = c.author()
	}
	if len(en.Claims) < count && n.time < env.en.Expiry {
		return void(pspend, ErrSettleEarly)
	}
	shares, rem, err := Assign(en.Seed, env.en.Amount, count, en.Claims)
	if err != nil {
		return void(pspend, fmt.Errorf("%w: %v", ErrBadSettle, err))
	}
	if rem != en.Amount {
		return void(pspend, fmt.Errorf("%w: returns %d, the unclaimed shares are %d", ErrBadSettle, en.Amount, rem))
	}
	// The first settlement in the canonical order pays from the escrow.
	// One on another branch of the sender's chain (a fork: the sender
	// settled twice) counts as well, so that neither branch voids shares
	// already paid and spent; its shares come from the sender itself, who
	// carries the shortfall.
	funder := Escrow(en.Ref)
	if st := l.d.envelopes[en.Ref]; st != nil && st.settle != nil && st.settle != n {
		funder = n.author()
	}
	effects := make([]transfer, 0, len(shares)+1)
	for i, s := range shares {
		effects = append(effects, transfer{funder, claimants[i], s})
	}
	if rem > 0 && funder != n.author() {
		effects = append(effects, transfer{funder, n.author(), rem})
	}
	if err := l.checkBalances(effects); err != nil {
		return void(pspend, err)
	}
	spend, ok := addInt64(pspend, int64(rem))
	if !ok {
		return void(pspend, ErrOverflow)
	}
	return outcome{status: StatusOK, spend: spend, effects: effects}
}

// checkBalances reports whether applying effects keeps every balance in
// the int64 range.
func (l *Ledger) checkBalances(effects []transfer) error {
	delta := make(map[Account]int64, 2*len(effects))
	for _, t := range effects {
		delta[t.from] -= int64(t.amount) // amounts are <= MaxAmount, shares sum to one
		delta[t.to] += int64(t.amount)
	}
	for a, d := range delta {
		if _, ok := addInt64(l.d.balances[a], d); !ok {
			return ErrOverflow
		}
	}
	return nil
}

// heldProof is a fraud proof the set makes, with the IDs of its entries.
type heldProof struct {
	a, b event.ID
	*FraudProof
}

// raw returns a copy of n's envelope: kept, or read back through
// Config.Events; nil if it cannot be read.
func (l *Ledger) raw(n *node) []byte {
	if e := l.kept[n.id]; e != nil {
		return bytes.Clone(e.Raw)
	}
	e, err := l.cfg.Events.Event(n.id)
	if err != nil || e.ID != n.id {
		return nil
	}
	return e.Raw
}

// updateForks recomputes the fraud proofs around position seq of author
// after n was added, and returns the proofs that involve n.
func (l *Ledger) updateForks(author Account, seq uint64, n *node) []*FraudProof {
	var out []*FraudProof
	set := func(k proofKey, a, b *node) {
		if a == nil {
			if _, ok := l.proofs[k]; ok {
				delete(l.proofs, k)
				if l.forks[k.author]--; l.forks[k.author] == 0 {
					delete(l.forks, k.author)
				}
			}
			return
		}
		old := l.proofs[k]
		if old != nil && old.a == a.id && old.b == b.id {
			return
		}
		ra, rb := l.raw(a), l.raw(b)
		if ra == nil || rb == nil {
			return // the store lost one (damage): proven once it is back
		}
		if old == nil {
			l.forks[k.author]++
		}
		p := &FraudProof{A: ra, B: rb}
		l.proofs[k] = &heldProof{a.id, b.id, p}
		if a == n || b == n {
			out = append(out, p)
		}
	}
	// An author may write any number of entries at one position: what
	// the proofs of a forked position are made of is kept in least, and n
	// compared with it, so that each entry costs the same however many
	// came before it.
	//
	// Same position: the two smallest IDs.
	if at := l.at(author, seq); l.twin(at) != nil {
		k := proofKey{author, seq, false}
		s, ok := l.least[k]
		if ok {
			s = smallest(s[0], s[1], n)
		} else {
			var all []*node
			for x := at; x != nil; x = l.twin(x) {
				all = append(all, x)
			}
			slices.SortFunc(all, func(x, y *node) int { return bytes.Compare(x.id[:], y.id[:]) })
			s = [2]*node{all[0], all[1]}
		}
		l.least[k] = s
		set(k, s[0], s[1])
	}
	// Broken links at (seq-1, seq) and (seq, seq+1), when the lower
	// position holds exactly one entry: the entry of smallest ID above it
	// that does not name it. An entry's parent is set when it or its prev
	// is added, so only n can change what was found at seq.
	for _, lo := range []uint64{seq - 1, seq} {
		if lo == 0 {
			continue
		}
		k := proofKey{author, lo, true}
		a := l.at(author, lo)
		if a == nil || l.twin(a) != nil {
			delete(l.least, k)
			set(k, nil, nil)
			continue
		}
		above := l.at(author, lo+1)
		var b *node
		if s, ok := l.least[k]; ok && lo+1 == seq {
			if b = s[0]; n.parent != a && (b == nil || bytes.Compare(n.id[:], b.id[:]) < 0) {
				b = n
			}
		} else {
			for c := above; c != nil; c = l.twin(c) {
				if c.parent != a && (b == nil || bytes.Compare(c.id[:], b.id[:]) < 0) {
					b = c
				}
			}
		}
		if above != nil && l.twin(above) != nil {
			l.least[k] = [2]*node{b}
		}
		if b == nil {
			set(k, nil, nil)
		} else {
			set(k, a, b)
		}
	}
	return out
}

// smallest returns the two of a, b and c with the smallest IDs, in order;
// a and b are in order.
func smallest(a, b, c *node) [2]*node {
	switch {
	case bytes.Compare(c.id[:], a.id[:]) < 0:
		return [2]*node{c, a}
	case bytes.Compare(c.id[:], b.id[:]) < 0:
		return [2]*node{a, c}
	}
	return [2]*node{a, b}
}

// --- queries ---

// Balance returns a's balance: the sum of every effective transfer to and
// from a. Balances of a unit always sum to zero.
func (l *Ledger) Balance(a Account) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ensure()
	return l.d.balances[a]
}

// Balances returns every non-zero balance, escrow accounts included.
func (l *Ledger) Balances() map[Account]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ensure()
	out := make(map[Account]int64, len(l.d.balances))
	for a, b := range l.d.balances {
		if b != 0 {
			out[a] = b
		}
	}
	return out
}

// Limit returns a's credit limit now (after every grant held).
func (l *Ledger) Limit(a Account) uint64 { return l.LimitAt(a, 1<<63-1) }

// LimitAt returns a's credit limit at time t (Unix ms): the grants with a
// time at or before t count.
func (l *Ledger) LimitAt(a Account, t int64) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ensure()
	return l.limitAt(a, t)
}

// Frozen reports whether a has forked its chain.
func (l *Ledger) Frozen(a Account) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.frozen(a)
}

func (l *Ledger) frozen(a Account) bool { return l.forks[a] > 0 }

// FrozenAccounts returns the accounts that forked, in ascending order.
func (l *Ledger) FrozenAccounts() []Account {
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := make(map[Account]bool)
	var out []Account
	for k := range l.proofs {
		if !seen[k.author] {
			seen[k.author] = true
			out = append(out, k.author)
		}
	}
	slices.SortFunc(out, func(a, b Account) int { return bytes.Compare(a[:], b[:]) })
	return out
}

func sortedProofKeys(m map[proofKey]*heldProof) []proofKey {
	keys := make([]proofKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b proofKey) int {
		if c := bytes.Compare(a.author[:], b.author[:]); c != 0 {
			return c
		}
		if c := cmp.Compare(a.seq, b.seq); c != 0 {
			return c
		}
		switch {
		case a.link == b.link:
			return 0
		case !a.link:
			return -1
		}
		return 1
	})
	return keys
}

// FraudProofs returns the canonical fraud proofs of the set, ordered by
// author and position: for every position holding two or more entries of
// an author, the two with the smallest IDs; for every position holding one
// entry followed by entries not linked to it, the one with the smallest ID.
func (l *Ledger) FraudProofs() []*FraudProof {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*FraudProof
	for _, k := range sortedProofKeys(l.proofs) {
		out = append(out, l.proofs[k].FraudProof)
	}
	return out
}

// EntryInfo is what the ledger knows about one entry.
type EntryInfo struct {
	ID     event.ID
	Author Account
	Seq    uint64
	Time   int64
	Entry  Entry
	Status Status
	// Reason says why the entry is invalid or void.
	Reason error
	// Spendable is the author's spendable balance after the entry on its
	// branch (evaluated entries only).
	Spendable int64
}

func (l *Ledger) info(n *node) EntryInfo {
	st, reason := l.state(n)
	return EntryInfo{ID: n.id, Author: n.author(), Seq: n.seq, Time: n.time, Entry: n.full(l.cfg.Unit), Status: st, Reason: reason, Spendable: n.spend}
}

// Entry returns what the ledger knows about the entry id.
func (l *Ledger) Entry(id event.ID) (EntryInfo, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ensure()
	n := l.nodes.get(id)
	if n == nil {
		return EntryInfo{}, false
	}
	return l.info(n), true
}

// Event returns the event id, if held (and, with Config.Events, if it can
// be read back).
func (l *Ledger) Event(id event.ID) (*event.Event, bool) {
	l.mu.Lock()
	n := l.nodes.get(id)
	ev := l.kept[id]
	l.mu.Unlock()
	switch {
	case n == nil:
		return nil, false
	case ev != nil:
		return ev, true
	}
	e, err := l.cfg.Events.Event(id)
	if err != nil || e.ID != id {
		return nil, false
	}
	return e, true
}

// Chain returns the entries of a, by position (entries at the same
// position, in a fork, by ID).
func (l *Ledger) Chain(a Account) []EntryInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ensure()
	ns := slices.Clone(l.entriesOf(a))
	slices.SortFunc(ns, func(x, y *node) int {
		return cmp.Or(cmp.Compare(x.seq, y.seq), bytes.Compare(x.id[:], y.id[:]))
	})
	out := make([]EntryInfo, len(ns))
	for i, n := range ns {
		out[i] = l.info(n)
	}
	return out
}

// Len returns the number of entries held.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nodes.len()
}

// Gap is an entry the ledger needs to evaluate entries it holds: the
// entry of Author at position Seq with the given ID.
type Gap struct {
	Author Account
	Seq    uint64
	ID     event.ID
}

// Gaps returns the missing predecessors of pending entries, ordered by
// author and position. Fetch them (sync does) to make the entries count.
func (l *Ledger) Gaps() []Gap {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Gap, 0, len(l.orphans))
	for prev, n := range l.orphans {
		out = append(out, Gap{n.author(), n.seq - 1, prev})
	}
	slices.SortFunc(out, func(a, b Gap) int {
		return cmp.Or(bytes.Compare(a.Author[:], b.Author[:]), cmp.Compare(a.Seq, b.Seq), bytes.Compare(a.ID[:], b.ID[:]))
	})
	return out
}

// StateHash is a digest of the ledger's state: every entry held with its
// status, every non-zero balance and limit, every fraud proof. Two ledgers
// of a unit holding the same set of events have the same state hash.
func (l *Ledger) StateHash() [32]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ensure()
	h := sha256.New()
	h.Write([]byte("banyan/wallet-state/v1\x00"))
	h.Write([]byte(l.cfg.Unit))
	h.Write([]byte{0})
	ids := make([]event.ID, 0, l.nodes.len())
	for n := range l.nodes.all() {
		ids = append(ids, n.id)
	}
	slices.SortFunc(ids, func(a, b event.ID) int { return bytes.Compare(a[:], b[:]) })
	var buf [8]byte
	for _, id := range ids {
		st, _ := l.state(l.nodes.get(id))
		h.Write(id[:])
		h.Write([]byte{byte(st)})
	}
	accounts := make([]Account, 0, len(l.d.balances)+len(l.d.limits))
	for a, b := range l.d.balances {
		if b != 0 {
			accounts = append(accounts, a)
		}
	}
	for a := range l.d.limits {
		if l.d.balances[a] == 0 {
			accounts = append(accounts, a)
		}
	}
	slices.SortFunc(accounts, func(a, b Account) int { return bytes.Compare(a[:], b[:]) })
	for _, a := range accounts {
		h.Write(a[:])
		binary.BigEndian.PutUint64(buf[:], uint64(l.d.balances[a]))
		h.Write(buf[:])
		binary.BigEndian.PutUint64(buf[:], l.limitAt(a, 1<<63-1))
		h.Write(buf[:])
	}
	for _, k := range sortedProofKeys(l.proofs) {
		p := l.proofs[k].Encode()
		binary.BigEndian.PutUint64(buf[:], uint64(len(p)))
		h.Write(buf[:])
		h.Write(p)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// MarshalText encodes the status as its name (for JSON).
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
