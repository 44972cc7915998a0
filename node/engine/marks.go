package engine

import (
	"bytes"
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
		r.markErr = fmt.Errorf("%w (%s: %v); writes to this chain are refused until it is restored from a backup or removed", ErrChainMark, path, err)
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
