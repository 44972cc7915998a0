package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

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
// node keeps the newest event of its own chain in a small file of its own
// (safefile: checksummed, fsynced with its directory), written before the
// event is stored and published. A chain's head is the later of the
// store's and the mark's; when the store has fallen behind the mark, the
// marked event is put back into the store (peers may hold it already: it
// may have been published) and the chain continues after it. Events
// between the store's head and the mark, if more than the newest was
// lost, come back from peers by sync like any other missing event.

// ErrChainMark refuses writes to a chain whose mark cannot be read: the
// node cannot know which sequence numbers it has used.
var ErrChainMark = errors.New("the record of this chain's newest event is damaged, so writing could reuse a sequence number already published")

// markFile is where the mark of a scope's chain is kept.
func (e *Engine) markFile(scope event.Scope) string {
	return filepath.Join(e.marks, scope.String())
}

// loadMark reads the mark of the replica's chain into r.mark, or notes in
// r.markErr why it cannot.
func (r *Replica) loadMark() {
	e := r.e
	if e.marks == "" {
		return
	}
	path := e.markFile(r.spec.Scope)
	raw, err := safefile.Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var ev *event.Event
	if err == nil {
		ev, err = event.Decode(raw)
	}
	if err == nil && (ev.ScopeID() != r.spec.Scope || !bytes.Equal(ev.Author, e.id.PublicKey())) {
		err = fmt.Errorf("%s holds an event of another chain", path)
	}
	if err != nil {
		r.markErr = fmt.Errorf("%w (%s: %v); writes to this chain are refused until it is set again (banyan check --repair-marks) or restored from a backup", ErrChainMark, path, err)
		e.log.Error("chain mark unreadable: this chain will not be written", "scope", r.spec.Scope.String(), "err", err)
		return
	}
	r.mark = ev
}

// saveMark makes ev the mark of the replica's chain, durably; nil removes
// the mark.
func (r *Replica) saveMark(ev *event.Event) error {
	e := r.e
	if e.marks == "" {
		return nil
	}
	path := e.markFile(r.spec.Scope)
	if ev == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("chain mark: %w", err)
		}
		return safefile.SyncDir(e.marks)
	}
	if err := os.MkdirAll(e.marks, 0o700); err != nil {
		return fmt.Errorf("chain mark: %w", err)
	}
	if err := safefile.Write(path, ev.Raw, 0o600); err != nil {
		return fmt.Errorf("chain mark: %w", err)
	}
	return nil
}

// restoreMarked puts the marked event back into the store when the
// store's head of the chain is behind it, unless history before the
// scope's floor was pruned away on purpose. The caller holds r.chain or
// has not yet handed out r. It returns the stored head.
func (r *Replica) restoreMarked(tell bool) (seq uint64, prev event.ID, err error) {
	e := r.e
	seq, prev, err = e.store.Head(r.spec.Scope, e.id.PublicKey())
	if err != nil {
		return 0, prev, err
	}
	m := r.mark
	if m == nil || m.Seq <= seq {
		return seq, prev, nil
	}
	if f := r.floor(); !f.IsZero() && store.CursorOf(m).Compare(f) < 0 {
		return seq, prev, nil
	}
	added, _, err := e.store.PutEvent(m, store.PutOptions{Local: true})
	if err != nil {
		return 0, prev, fmt.Errorf("restore marked event: %w", err)
	}
	if err := e.store.Sync(); err != nil {
		return 0, prev, fmt.Errorf("restore marked event: %w", err)
	}
	if added {
		e.log.Warn("the store had lost this node's newest events; the newest is restored from the chain mark and the rest will come back from peers",
			"scope", r.spec.Scope.String(), "store_head", seq, "mark", m.Seq)
		if tell && r.spec.Feature != nil {
			r.spec.Feature.Stored([]*event.Event{m}, Local)
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
	if err == nil {
		err = r.saveMark(ev)
	}
	if err != nil {
		rep.Err = fmt.Errorf("chain mark repair: %w", err)
		return rep
	}
	r.mark, r.markErr, rep.Seq = ev, nil, seq
	e.log.Warn("a damaged chain mark was set again from the store and peers", "scope", r.spec.Scope.String(), "seq", seq, "peers", rep.Peers)
	return rep
}

func (r *Replica) markSeq() uint64 {
	if r.mark == nil {
		return 0
	}
	return r.mark.Seq
}
