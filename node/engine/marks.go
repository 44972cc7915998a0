package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/fxamacker/cbor/v2"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/store"
	"github.com/banyan-mesh/banyan/store/safefile"
)

// The high-water mark of this node's own chains.
//
// Badger keeps the newest writes in a memtable log that a power cut or a
// damaged disk can lose; a node that then wrote again at the sequence
// numbers it had already published would fork its own chain, which in the
// wallet freezes an honest account. So, for every scope it writes, the
// node keeps the newest events of its own chain in a small file of its own
// (a slotted safefile: two checksummed copies, the older overwritten in
// place with one data sync, so that a write cut short leaves the one
// before), written before the newest is published and stored: the newest event, and before it those
// whose store write no completed store sync covers yet, so that every
// event this node published is always on disk in the mark or in the
// store, while the store's fsyncs run in the background, shared among
// writers (write.go). A chain's head is the later of the store's and the
// mark's; when the store has fallen behind the mark, the marked events are
// put back into the store (peers may hold them already: they may have been
// published) and the chain continues after them. Events between the
// store's head and the mark's oldest, if the disk lost more than an
// unsynced tail, come back from peers by sync like any other missing
// event.
//
// The file holds one envelope when the mark is one event (it starts with
// the envelope's version byte), else a CBOR array of envelopes, oldest
// first.

// ErrChainMark refuses writes to a chain whose mark cannot be read: the
// node cannot know which sequence numbers it has used.
var ErrChainMark = errors.New("the record of this chain's newest event is damaged, so writing could reuse a sequence number already published")

// Bounds of a mark: beyond them a write waits for the store's sync
// instead of adding to the mark.
const (
	maxMarked     = 32
	maxMarkedSize = 256 << 10
)

// markFilling reports whether the chain's mark holds a quarter of what it
// may in events that no store sync asked for so far will cover: then the
// store's sync starts at once, so that it has ended before the mark is
// full and a write would wait for it. Until then, a sync within
// followUpTick is soon enough. r.chain is held.
func (r *Replica) markFilling() bool {
	// A ticket below the next one is covered by a sync asked for already.
	next := r.e.commit.ticket()
	n, size := 0, 0
	for _, m := range r.marked {
		if m.ticket >= next {
			n++
			size += len(m.ev.Raw)
		}
	}
	return n >= maxMarked/4 || size >= maxMarkedSize/4
}

// markFile is where the mark of a scope's chain is kept.
func (e *Engine) markFile(scope event.Scope) string {
	return filepath.Join(e.marks, scope.String())
}

// loadMark reads the mark of the replica's chain into r.marked, or notes
// in r.markErr why it cannot. What it holds counts as not yet synced in
// the store: only a sync from now on makes it so.
func (r *Replica) loadMark() {
	e := r.e
	if e.marks == "" {
		return
	}
	path := e.markFile(r.spec.Scope)
	raw, at, err := safefile.ReadSlotted(path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var evs []*event.Event
	if err == nil {
		evs, err = decodeMark(raw)
	}
	for i := 0; err == nil && i < len(evs); i++ {
		switch ev := evs[i]; {
		case ev.ScopeID() != r.spec.Scope || !bytes.Equal(ev.Author, e.id.PublicKey()):
			err = fmt.Errorf("%s holds an event of another chain", path)
		case i > 0 && ev.Seq <= evs[i-1].Seq:
			err = fmt.Errorf("%s holds events out of order", path)
		}
	}
	if err != nil {
		r.markErr = fmt.Errorf("%w (%s: %v); writes to this chain are refused until it is set again (banyan check --repair-marks) or restored from a backup", ErrChainMark, path, err)
		e.log.Error("chain mark unreadable: this chain will not be written", "scope", r.spec.Scope.String(), "err", err)
		return
	}
	r.markAt = at
	t := e.commit.ticket()
	for _, ev := range evs {
		r.marked = append(r.marked, markedEvent{ev: ev, ticket: t})
	}
}

// decodeMark decodes a mark file's data.
func decodeMark(raw []byte) ([]*event.Event, error) {
	if len(raw) > 0 && raw[0] == event.Version {
		ev, err := event.Decode(raw)
		if err != nil {
			return nil, err
		}
		return []*event.Event{ev}, nil
	}
	var raws [][]byte
	if err := cbor.Unmarshal(raw, &raws); err != nil {
		return nil, err
	}
	if len(raws) == 0 {
		return nil, errors.New("an empty mark")
	}
	evs := make([]*event.Event, len(raws))
	for i, b := range raws {
		ev, err := event.Decode(b)
		if err != nil {
			return nil, err
		}
		evs[i] = ev
	}
	return evs, nil
}

// encodeMark encodes a mark of one or more events, oldest first.
func encodeMark(evs []*event.Event) ([]byte, error) {
	if len(evs) == 1 {
		return evs[0].Raw, nil
	}
	raws := make([][]byte, len(evs))
	for i, ev := range evs {
		raws[i] = ev.Raw
	}
	return crypto.CanonicalCBOR.Marshal(raws)
}

// saveMark makes evs (oldest first) the mark of the replica's chain,
// durably; none removes the mark.
func (r *Replica) saveMark(evs []*event.Event) error {
	e := r.e
	if e.marks == "" {
		return nil
	}
	path := e.markFile(r.spec.Scope)
	if len(evs) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("chain mark: %w", err)
		}
		r.markAt = safefile.Slot{}
		return safefile.SyncDir(e.marks)
	}
	data, err := encodeMark(evs)
	if err != nil {
		return fmt.Errorf("chain mark: %w", err)
	}
	if err := os.MkdirAll(e.marks, 0o700); err != nil {
		return fmt.Errorf("chain mark: %w", err)
	}
	at, err := safefile.WriteSlotted(path, r.markAt, data, 0o600)
	if err != nil {
		return fmt.Errorf("chain mark: %w", err)
	}
	r.markAt = at
	return nil
}

// head returns the newest marked event, or nil.
func (r *Replica) head() *event.Event {
	if len(r.marked) == 0 {
		return nil
	}
	return r.marked[len(r.marked)-1].ev
}

// restoreMarked puts the marked events back into the store when the
// store's head of the chain is behind the mark, unless history before the
// scope's floor was pruned away on purpose. The caller holds r.chain or
// has not yet handed out r. It returns the stored head.
func (r *Replica) restoreMarked(tell bool) (seq uint64, prev event.ID, err error) {
	e := r.e
	seq, prev, err = e.store.Head(r.spec.Scope, e.id.PublicKey())
	if err != nil {
		return 0, prev, err
	}
	m := r.head()
	if m == nil || m.Seq <= seq {
		return seq, prev, nil
	}
	f := r.floor()
	if !f.IsZero() && store.CursorOf(m).Compare(f) < 0 {
		return seq, prev, nil
	}
	var back []*event.Event
	for _, me := range r.marked {
		if me.ev.Seq > seq && (f.IsZero() || store.CursorOf(me.ev).Compare(f) >= 0) {
			back = append(back, me.ev)
		}
	}
	arrivals, err := e.store.PutEvents(back, store.PutOptions{Local: true})
	if err != nil {
		return 0, prev, fmt.Errorf("restore marked events: %w", err)
	}
	if err := e.store.Sync(); err != nil {
		return 0, prev, fmt.Errorf("restore marked events: %w", err)
	}
	// Every marked event is in the store, on disk.
	for i := range r.marked {
		r.marked[i].ticket = 0
	}
	var added []*event.Event
	for i, a := range arrivals {
		if a != 0 {
			added = append(added, back[i])
		}
	}
	if len(added) > 0 {
		e.log.Warn("the store had lost this node's newest events; they are restored from the chain mark and any others will come back from peers",
			"scope", r.spec.Scope.String(), "store_head", seq, "mark", m.Seq, "restored", len(added))
		if tell && r.spec.Feature != nil {
			r.spec.Feature.Stored(added, Local)
		}
	}
	return m.Seq, m.ID, nil
}

// MarkRepair says how a damaged chain mark was set again.
type MarkRepair struct {
	Scope event.Scope
	// Seq is the chain's head the mark now holds (0: the chain is empty
	// everywhere it was looked for, and the mark was removed); Peers how
	// many of the scope's peers were synced first.
	Seq   uint64
	Peers int
	// Err says why the mark was left as it was.
	Err error
}

// ErrNoPeersToRepair refuses to set a damaged mark again while no peer of
// its scope could be synced: the store alone may be behind what the node
// published.
var ErrNoPeersToRepair = errors.New("no peer of this chain's scope could be synced")

// RepairMarks sets again every chain mark that cannot be read. The
// damaged mark said how far the node's chain went; without it the newest
// event the node may have published is the newest of its chain that its
// store or any peer holds. So, for each such chain, it first syncs with
// every connected peer of the scope (refusing, with ErrNoPeersToRepair,
// when none answers), then marks the newest of its chain the store then
// holds. The damaged file is kept beside, with ".damaged" added.
func (e *Engine) RepairMarks(ctx context.Context) []MarkRepair {
	var out []MarkRepair
	for _, r := range e.damagedMarks() {
		out = append(out, r.repairMark(ctx))
	}
	return out
}

// DamagedMarks says, for each chain whose mark cannot be read, why.
func (e *Engine) DamagedMarks() []string {
	var out []string
	for _, r := range e.damagedMarks() {
		r.chain.Lock()
		if r.markErr != nil {
			out = append(out, r.markErr.Error())
		}
		r.chain.Unlock()
	}
	return out
}

// damagedMarks returns the replicas whose marks cannot be read. A chain's
// lock is taken without the engine's: a write holds the chain's while it
// may take the engine's.
func (e *Engine) damagedMarks() []*Replica {
	e.mu.Lock()
	all := make([]*Replica, 0, len(e.replicas))
	for _, r := range e.replicas {
		all = append(all, r)
	}
	e.mu.Unlock()
	var out []*Replica
	for _, r := range all {
		r.chain.Lock()
		if r.markErr != nil {
			out = append(out, r)
		}
		r.chain.Unlock()
	}
	return out
}

func (r *Replica) repairMark(ctx context.Context) MarkRepair {
	e := r.e
	rep := MarkRepair{Scope: r.spec.Scope}
	if r.topic != nil {
		for _, p := range r.topic.Peers() {
			if _, err := e.syncer.SyncPeer(ctx, p); err == nil {
				rep.Peers++
			} else {
				e.log.Warn("chain mark repair: sync", "scope", r.spec.Scope.String(), "peer", p, "err", err)
			}
		}
	}
	if rep.Peers == 0 {
		rep.Err = ErrNoPeersToRepair
		return rep
	}
	r.chain.Lock()
	defer r.chain.Unlock()
	if r.markErr == nil {
		rep.Seq = r.markSeq()
		return rep
	}
	seq, head, err := e.store.Head(r.spec.Scope, e.id.PublicKey())
	var ev *event.Event
	if err == nil && seq > 0 {
		ev, err = e.store.Event(head)
	}
	path := e.markFile(r.spec.Scope)
	if err == nil {
		err = os.Rename(path, path+".damaged")
	}
	var marked []markedEvent
	if err == nil && ev != nil {
		// Read from the store, it is durable there already.
		marked = []markedEvent{{ev: ev}}
		err = r.saveMark([]*event.Event{ev})
	} else if err == nil {
		err = r.saveMark(nil)
	}
	if err != nil {
		rep.Err = fmt.Errorf("chain mark repair: %w", err)
		return rep
	}
	r.marked, r.markErr, r.inStore, rep.Seq = marked, nil, false, seq
	e.log.Warn("a damaged chain mark was set again from the store and peers", "scope", r.spec.Scope.String(), "seq", seq, "peers", rep.Peers)
	return rep
}

func (r *Replica) markSeq() uint64 {
	if m := r.head(); m != nil {
		return m.Seq
	}
	return 0
}
