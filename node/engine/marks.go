package engine

import (
	"bytes"
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
// (safefile: checksummed, fsynced with its directory), written before the
// newest is published and stored: the newest event, and before it those
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
	raw, err := safefile.Read(path)
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
		r.markErr = fmt.Errorf("%w (%s: %v); writes to this chain are refused until it is restored from a backup or removed", ErrChainMark, path, err)
		e.log.Error("chain mark unreadable: this chain will not be written", "scope", r.spec.Scope.String(), "err", err)
		return
	}
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
		return safefile.SyncDir(e.marks)
	}
	data, err := encodeMark(evs)
	if err != nil {
		return fmt.Errorf("chain mark: %w", err)
	}
	if err := os.MkdirAll(e.marks, 0o700); err != nil {
		return fmt.Errorf("chain mark: %w", err)
	}
	if err := safefile.Write(path, data, 0o600); err != nil {
		return fmt.Errorf("chain mark: %w", err)
	}
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
