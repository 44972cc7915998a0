package store

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"sort"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// Sums of the history index, for sync. Sync compares fingerprints of
// ranges of a scope's (time, id) keys; a fingerprint hashes the sum of the
// range's IDs and its count (ItemSum). Reading every key of a large scope
// for each sync costs seconds, so the store keeps, in memory, each synced
// scope's keys cut in blocks of about sumBlock keys: the first key of each
// block and the sum of its keys. The sum of the keys below any position is
// the sum of the whole blocks below it plus a read of part of one block.
//
// A scope's blocks are built by one scan when sync first asks for them,
// and dropped when no sync asked for sumIdle. Every write of history keys
// changes them under putMu: additions before the transaction commits (so
// that a sync, which notes the arrival log's head before it reads, never
// finds a stored event missing from the sums), removals after. Blocks that
// grew beyond twice sumBlock are cut after the commit, reading their keys.
// A sync that reads the sums and then part of a block may see the store
// between two writes: a fingerprint wrong for a moment costs the sync a
// round, and the sums themselves stay exact. Anything unexpected (a key
// removed that the sums do not hold, a block whose keys do not add up)
// drops the scope's sums; the next sync builds them again.

// sumBlock is a block's size when built or cut (a variable for tests);
// blocks are cut beyond twice that.
var sumBlock uint64 = 256

const sumIdle = 10 * time.Minute

// ItemSum is the sum of a set of history keys' IDs, as 256-bit
// little-endian integers modulo 2^256, and their count.
type ItemSum struct {
	Acc   [4]uint64
	Count uint64
}

func (s *ItemSum) add(id []byte) {
	var c uint64
	for w := range 4 {
		s.Acc[w], c = bits.Add64(s.Acc[w], binary.LittleEndian.Uint64(id[w*8:]), c)
	}
	s.Count++
}

func (s *ItemSum) sub(id []byte) {
	var b uint64
	for w := range 4 {
		s.Acc[w], b = bits.Sub64(s.Acc[w], binary.LittleEndian.Uint64(id[w*8:]), b)
	}
	s.Count--
}

func (s *ItemSum) plus(o ItemSum) {
	var c uint64
	for w := range 4 {
		s.Acc[w], c = bits.Add64(s.Acc[w], o.Acc[w], c)
	}
	s.Count += o.Count
}

// SortKey is a history key: an event's sort time (SortTime) and its ID.
type SortKey struct {
	Time uint64
	ID   event.ID
}

// sumKey is a history key after its scope: time (8) and ID.
type sumKey [8 + event.IDSize]byte

func (k sumKey) sortKey() SortKey {
	var id event.ID
	copy(id[:], k[8:])
	return SortKey{Time: binary.BigEndian.Uint64(k[:8]), ID: id}
}

// sumsBlock holds the keys from first (which need not be a key) up to the
// next block's first.
type sumsBlock struct {
	first sumKey
	sum   ItemSum
}

type scopeSums struct {
	blocks []sumsBlock
	// While building, changes wait in pending, to apply after the scan.
	building bool
	pending  []sumChange
	used     time.Time
}

type sumChange struct {
	scope event.Scope
	k     sumKey
	add   bool
}

// historySums are the sums of the scopes sync asked for.
type historySums struct {
	mu     sync.Mutex
	scopes map[event.Scope]*scopeSums
	swept  time.Time
	// clock is nil for time.Now (tests set it).
	clock func() time.Time
}

func (h *historySums) now() time.Time {
	if h.clock != nil {
		return h.clock()
	}
	return time.Now()
}

// historyChange returns the change of a history key k ('t', scope, time,
// id).
func historyChange(k []byte, add bool) sumChange {
	var c sumChange
	copy(c.scope[:], k[1:1+event.ScopeSize])
	copy(c.k[:], k[1+event.ScopeSize:])
	c.add = add
	return c
}

// apply records changes made, or about to be made, to the history index.
// The caller holds putMu.
func (h *historySums) apply(cs []sumChange) {
	if len(cs) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range cs {
		ss := h.scopes[c.scope]
		switch {
		case ss == nil:
		case ss.building:
			ss.pending = append(ss.pending, c)
		case !ss.change(c):
			delete(h.scopes, c.scope)
		}
	}
}

// keeps reports whether scope keeps sums, or is building them. Only
// buildSums, under putMu, starts them: a writer holding putMu that finds
// none can leave them out.
func (h *historySums) keeps(scope event.Scope) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.scopes[scope] != nil
}

// undo takes back changes applied before a commit that failed.
func (h *historySums) undo(cs []sumChange) {
	back := make([]sumChange, len(cs))
	for i, c := range cs {
		c.add = !c.add
		back[len(cs)-1-i] = c
	}
	h.apply(back)
}

// drop forgets the sums of scopes whose keys changed in ways not recorded.
func (h *historySums) drop(scopes ...event.Scope) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, sc := range scopes {
		delete(h.scopes, sc)
	}
}

// find returns the index of the block that holds k: the last whose first
// is not above k, or 0.
func (ss *scopeSums) find(k sumKey) int {
	i := sort.Search(len(ss.blocks), func(i int) bool { return string(ss.blocks[i].first[:]) > string(k[:]) })
	return max(i-1, 0)
}

// change applies one change; false means the sums cannot hold it.
func (ss *scopeSums) change(c sumChange) bool {
	if c.add {
		if len(ss.blocks) == 0 {
			ss.blocks = append(ss.blocks, sumsBlock{first: c.k})
		}
		i := ss.find(c.k)
		b := &ss.blocks[i]
		if string(c.k[:]) < string(b.first[:]) {
			b.first = c.k
		}
		b.sum.add(c.k[8:])
		return true
	}
	if len(ss.blocks) == 0 || string(c.k[:]) < string(ss.blocks[0].first[:]) {
		return false
	}
	i := ss.find(c.k)
	if ss.blocks[i].sum.Count == 0 {
		return false
	}
	ss.blocks[i].sum.sub(c.k[8:])
	// Merge small neighbours, so that deletions leave few blocks.
	if i+1 < len(ss.blocks) && ss.blocks[i].sum.Count+ss.blocks[i+1].sum.Count <= sumBlock {
		ss.blocks[i].sum.plus(ss.blocks[i+1].sum)
		ss.blocks = append(ss.blocks[:i+1], ss.blocks[i+2:]...)
	}
	if i > 0 && ss.blocks[i-1].sum.Count+ss.blocks[i].sum.Count <= sumBlock {
		ss.blocks[i-1].sum.plus(ss.blocks[i].sum)
		ss.blocks = append(ss.blocks[:i], ss.blocks[i+1:]...)
	} else if ss.blocks[i].sum.Count == 0 {
		ss.blocks = append(ss.blocks[:i], ss.blocks[i+1:]...)
	}
	return true
}

// tidySums cuts the blocks of the scopes that grew beyond twice sumBlock.
// The caller holds putMu, after the writes that changed them committed:
// the store then holds what the sums say.
func (s *Store) tidySums(cs []sumChange) {
	if len(cs) == 0 {
		return
	}
	h := &s.sums
	h.mu.Lock()
	defer h.mu.Unlock()
	done := map[event.Scope]bool{}
	for _, c := range cs {
		ss := h.scopes[c.scope]
		if done[c.scope] || ss == nil || ss.building {
			continue
		}
		done[c.scope] = true
		if err := s.cutBlocks(c.scope, ss); err != nil {
			s.log.Debug("history sums dropped", "scope", c.scope, "err", err)
			delete(h.scopes, c.scope)
		}
	}
}

func (s *Store) cutBlocks(scope event.Scope, ss *scopeSums) error {
	for i := 0; i < len(ss.blocks); i++ {
		b := ss.blocks[i]
		if b.sum.Count <= 2*sumBlock {
			continue
		}
		var to []byte
		if i+1 < len(ss.blocks) {
			to = ss.blocks[i+1].first[:]
		}
		var cut []sumsBlock
		err := s.historyKeys(scope, b.first[:], to, func(k sumKey) bool {
			if len(cut) == 0 || cut[len(cut)-1].sum.Count == sumBlock {
				cut = append(cut, sumsBlock{first: k})
			}
			cut[len(cut)-1].sum.add(k[8:])
			return true
		})
		if err != nil {
			return err
		}
		var total ItemSum
		for _, c := range cut {
			total.plus(c.sum)
		}
		if total != b.sum {
			return fmt.Errorf("block of %d keys holds %d", b.sum.Count, total.Count)
		}
		cut[0].first = b.first
		ss.blocks = append(ss.blocks[:i], append(cut, ss.blocks[i+1:]...)...)
		i += len(cut) - 1
	}
	return nil
}

// historyKeys calls fn for the history keys of scope in [from, to), in
// order, until it returns false; nil to means the end of the scope.
func (s *Store) historyKeys(scope event.Scope, from, to []byte, fn func(k sumKey) bool) error {
	return s.db.View(func(txn *badger.Txn) error { return historyKeysIn(txn, scope, from, to, fn) })
}

func historyKeysIn(txn *badger.Txn, scope event.Scope, from, to []byte, fn func(k sumKey) bool) error {
	prefix := key('t', scope[:])
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	for it.Seek(append(prefix[:len(prefix):len(prefix)], from...)); it.Valid(); it.Next() {
		k := it.Item().Key()[len(prefix):]
		if to != nil && string(k) >= string(to) {
			break
		}
		var sk sumKey
		if copy(sk[:], k) != len(sk) {
			continue
		}
		if !fn(sk) {
			break
		}
	}
	return nil
}

// scopeSums returns the sums of scope, building them if there are none;
// nil when another sync is building them.
func (s *Store) scopeSums(scope event.Scope) (*scopeSums, error) {
	h := &s.sums
	h.mu.Lock()
	now := h.now()
	if now.Sub(h.swept) > time.Minute {
		h.swept = now
		for sc, ss := range h.scopes {
			if !ss.building && now.Sub(ss.used) > sumIdle {
				delete(h.scopes, sc)
			}
		}
	}
	if ss := h.scopes[scope]; ss != nil {
		building := ss.building
		h.mu.Unlock()
		if building {
			return nil, nil
		}
		return ss, nil
	}
	h.mu.Unlock()
	return s.buildSums(scope)
}

// buildSums scans a scope's history keys into blocks. Writes that commit
// after the scan's snapshot wait in pending.
func (s *Store) buildSums(scope event.Scope) (*scopeSums, error) {
	h := &s.sums
	s.putMu.Lock()
	h.mu.Lock()
	if ss := h.scopes[scope]; ss != nil {
		building := ss.building
		h.mu.Unlock()
		s.putMu.Unlock()
		if building {
			return nil, nil
		}
		return ss, nil
	}
	if h.scopes == nil {
		h.scopes = map[event.Scope]*scopeSums{}
	}
	ss := &scopeSums{building: true, used: h.now()}
	h.scopes[scope] = ss
	h.mu.Unlock()
	txn := s.db.NewTransaction(false)
	s.putMu.Unlock()
	defer txn.Discard()
	var blocks []sumsBlock
	err := historyKeysIn(txn, scope, nil, nil, func(k sumKey) bool {
		if len(blocks) == 0 || blocks[len(blocks)-1].sum.Count == sumBlock {
			blocks = append(blocks, sumsBlock{first: k})
		}
		blocks[len(blocks)-1].sum.add(k[8:])
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.scopes[scope] != ss {
		return nil, err
	}
	if err != nil {
		delete(h.scopes, scope)
		return nil, fmt.Errorf("history sums: %w", err)
	}
	ss.blocks, ss.building = blocks, false
	for _, c := range ss.pending {
		if !ss.change(c) {
			delete(h.scopes, scope)
			return nil, nil
		}
	}
	ss.pending = nil
	return ss, nil
}

// SumBelow returns the sum of the history keys of scope below bound b (a
// sort key, or a prefix of one, as ScopeItems takes); nil b means the end
// of the scope. ok is false when no sums are at hand (another sync is
// building them); the caller then reads the keys.
func (s *Store) SumBelow(scope event.Scope, b []byte) (sum ItemSum, ok bool, err error) {
	ss, err := s.scopeSums(scope)
	if ss == nil {
		return ItemSum{}, false, err
	}
	h := &s.sums
	h.mu.Lock()
	ss.used = h.now()
	n := len(ss.blocks)
	if b != nil {
		n = sort.Search(len(ss.blocks), func(i int) bool { return string(ss.blocks[i].first[:]) >= string(b) })
	}
	// The blocks below n-1 are below b; block n-1 is read up to b.
	whole := n
	if b != nil && n > 0 {
		whole = n - 1
	}
	for _, blk := range ss.blocks[:whole] {
		sum.plus(blk.sum)
	}
	var from sumKey
	partial := whole < n
	if partial {
		from = ss.blocks[whole].first
	}
	h.mu.Unlock()
	if partial {
		err := s.historyKeys(scope, from[:], b, func(k sumKey) bool {
			sum.add(k[8:])
			return true
		})
		if err != nil {
			return ItemSum{}, false, fmt.Errorf("history sums: %w", err)
		}
	}
	return sum, true, nil
}

// SumAt returns the history keys of scope at positions r-1 and r (from 0
// at the lowest) and the sum of the keys below r. ok is false when no
// sums are at hand, or r is not within the scope, or the store changed
// between reading the sums and the keys.
func (s *Store) SumAt(scope event.Scope, r uint64) (prev, at SortKey, below ItemSum, ok bool, err error) {
	ss, err := s.scopeSums(scope)
	if ss == nil || r == 0 {
		return SortKey{}, SortKey{}, ItemSum{}, false, err
	}
	h := &s.sums
	h.mu.Lock()
	ss.used = h.now()
	i := 0
	for ; i < len(ss.blocks) && below.Count+ss.blocks[i].sum.Count <= r; i++ {
		below.plus(ss.blocks[i].sum)
	}
	if i == len(ss.blocks) {
		h.mu.Unlock()
		return SortKey{}, SortKey{}, ItemSum{}, false, nil
	}
	off := r - below.Count
	// The key before a block's first key is the last of the block before.
	from := ss.blocks[i].first
	if off == 0 {
		from = ss.blocks[i-1].first // i > 0, since r > 0
		below = below.minus(ss.blocks[i-1].sum)
		off = ss.blocks[i-1].sum.Count
	}
	h.mu.Unlock()
	var keys []sumKey
	err = s.historyKeys(scope, from[:], nil, func(k sumKey) bool {
		keys = append(keys, k)
		return uint64(len(keys)) <= off
	})
	if err != nil {
		return SortKey{}, SortKey{}, ItemSum{}, false, fmt.Errorf("history sums: %w", err)
	}
	if off == 0 || uint64(len(keys)) != off+1 {
		return SortKey{}, SortKey{}, ItemSum{}, false, nil
	}
	for _, k := range keys[:off] {
		below.add(k[8:])
	}
	return keys[off-1].sortKey(), keys[off].sortKey(), below, true, nil
}

func (s ItemSum) minus(o ItemSum) ItemSum {
	var b uint64
	for w := range 4 {
		s.Acc[w], b = bits.Sub64(s.Acc[w], o.Acc[w], b)
	}
	s.Count -= o.Count
	return s
}
