package pay

import (
	"crypto/hmac"
	"errors"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/wallet"
)

// What the wallet keeps and forwards.
//
// A node keeps and forwards the entries of accounts with standing (see
// wallet.Ledger.Standing: guarantors, accounts a guarantor's grant names,
// accounts credited by someone else), its own, and entries something held
// refers to or follows. Without standing, an account's entries are only
// kept when they are claims of a red envelope held here, within bounds:
// a node in the envelope's group keeps exactly the claims whose member tag
// verifies; any other node keeps at most maxStrangerClaims(count) claims
// per envelope, from chains of at most maxStrangerSeq entries. Everything
// else from made-up keys is ignored: not stored, not forwarded, not
// counted against the peer. Entries can arrive before what gives their
// author standing (a payment before its payer's grant): they wait in a
// small pool, per author and in all, and are taken as soon as standing
// arrives; what the pool drops, sync offers again later.
const (
	maxHeldPerAuthor = 8
	maxHeld          = 512
	maxStrangerSeq   = 8
	// proofSyncEvery bounds the syncs that fraud proofs start: one per
	// peer per period.
	proofSyncEvery = time.Minute
)

func maxStrangerClaims(count uint64) int { return 2*int(count) + 8 }

var errNoStanding = errors.New("wallet entry of an account without standing")

// admissible reports whether the node keeps and forwards e. fresh asks the
// ledger to evaluate what it holds first (the pool does; an entry as it
// arrives does not: that would evaluate the whole ledger per entry while
// a sync brings thousands, and what it misses waits in the pool).
func (w *Service) admissible(e *event.Event, en *wallet.Entry, fresh bool) bool {
	author, err := wallet.AccountOf(e.Author)
	if err != nil {
		return false
	}
	l := w.ledger
	standing := l.StandingCached
	if fresh {
		standing = l.Standing
	}
	if author == w.me || standing(author) || l.Referred(e.ID) {
		return true
	}
	if en.Type != wallet.TypeClaim {
		return false
	}
	env, ok := l.Entry(en.Ref)
	if !ok || env.Status != wallet.StatusOK || env.Entry.Type != wallet.TypeEnvelope || e.Time > env.Entry.Expiry {
		return false
	}
	if g := env.Entry.Group; g != (event.Scope{}) && w.groups != nil {
		if tag, member := w.groups.GroupMAC(g, wallet.ClaimTagLabel, wallet.ClaimTagData(en.Ref, author)); member {
			return hmac.Equal(tag[:], en.Tag[:])
		}
	}
	if e.Seq > maxStrangerSeq {
		return false
	}
	_, strangers := l.HeldClaims(en.Ref)
	return strangers < maxStrangerClaims(env.Entry.Count)
}

// memberClaim reports whether a claim's tag proves its author a member of
// the envelope's group (checked only by members of that group).
func (w *Service) memberClaim(group event.Scope, envelope event.ID, claim wallet.EntryInfo) bool {
	if group == (event.Scope{}) || w.groups == nil {
		return false
	}
	tag, member := w.groups.GroupMAC(group, wallet.ClaimTagLabel, wallet.ClaimTagData(envelope, claim.Author))
	return member && hmac.Equal(tag[:], claim.Entry.Tag[:])
}

// pool holds, in memory, entries refused for want of standing, to be taken
// when standing arrives. It is bounded per author and in all; the oldest go
// first.
type pool struct {
	mu       sync.Mutex
	order    []event.ID
	held     map[event.ID]pooled
	byAuthor map[wallet.Account]int
}

type pooled struct {
	raw    []byte
	author wallet.Account
}

func newPool() *pool {
	return &pool{held: map[event.ID]pooled{}, byAuthor: map[wallet.Account]int{}}
}

func (p *pool) add(e *event.Event) {
	author, err := wallet.AccountOf(e.Author)
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.held[e.ID]; ok {
		return
	}
	if p.byAuthor[author] >= maxHeldPerAuthor {
		p.evict(func(x pooled) bool { return x.author == author })
	}
	if len(p.held) >= maxHeld {
		p.evict(func(pooled) bool { return true })
	}
	p.held[e.ID] = pooled{raw: e.Raw, author: author}
	p.byAuthor[author]++
	p.order = append(p.order, e.ID)
}

// evict drops the oldest held entry that match says.
func (p *pool) evict(match func(pooled) bool) {
	for i, id := range p.order {
		if x, ok := p.held[id]; ok && match(x) {
			p.drop(id)
			p.order = append(p.order[:i:i], p.order[i+1:]...)
			return
		}
	}
}

func (p *pool) drop(id event.ID) {
	x, ok := p.held[id]
	if !ok {
		return
	}
	delete(p.held, id)
	if p.byAuthor[x.author]--; p.byAuthor[x.author] <= 0 {
		delete(p.byAuthor, x.author)
	}
}

func (p *pool) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.held)
}

// take removes and returns the held entries ok accepts.
func (p *pool) take(ok func(raw []byte) bool) [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out [][]byte
	kept := p.order[:0]
	for _, id := range p.order {
		x, held := p.held[id]
		switch {
		case !held:
		case ok(x.raw):
			out = append(out, x.raw)
			p.drop(id)
		default:
			kept = append(kept, id)
		}
	}
	p.order = kept
	return out
}

// admitHeld stores the pooled entries that are now admissible.
func (w *Service) admitHeld() {
	if w.pool.len() == 0 {
		return
	}
	raws := w.pool.take(func(raw []byte) bool {
		e, err := event.Decode(raw)
		if err != nil {
			return false
		}
		en, err := wallet.CheckEvent(e)
		return err == nil && w.admissible(e, en, true)
	})
	if len(raws) == 0 {
		return
	}
	if _, _, err := w.replica.Accept(raws); err != nil {
		w.log.Warn("store held wallet entries", "err", err)
	}
}

// limiter lets through one event per key per period; its map holds only
// keys seen within the last period.
type limiter struct {
	mu              sync.Mutex
	every           time.Duration
	last            map[peer.ID]time.Time
	allowed, denied uint64
}

func (l *limiter) allow(p peer.ID, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, t := range l.last {
		if now.Sub(t) >= l.every {
			delete(l.last, k)
		}
	}
	if _, ok := l.last[p]; ok {
		l.denied++
		return false
	}
	l.last[p] = now
	l.allowed++
	return true
}

// ProofSyncs counts the syncs fraud proofs started and those the rate
// limit held back.
func (w *Service) ProofSyncs() (started, held uint64) {
	w.proofSync.mu.Lock()
	defer w.proofSync.mu.Unlock()
	return w.proofSync.allowed, w.proofSync.denied
}

// checkEntry is Check: the wallet's rules on an entry from the network.
func (w *Service) checkEntry(e *event.Event) error {
	en, err := wallet.CheckEvent(e)
	if err != nil {
		return engine.Reject(engine.ReasonBody, err)
	}
	if !w.load.isDone() {
		w.pool.add(e)
		w.ignored.Add(1)
		return engine.Ignore(errLoading)
	}
	if !w.admissible(e, en, false) {
		w.pool.add(e)
		w.ignored.Add(1)
		return engine.Ignore(errNoStanding)
	}
	return nil
}
