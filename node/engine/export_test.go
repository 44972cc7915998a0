package engine

// WrapStoreSync replaces the store fsync that the engine's writers share
// with wrap of it. Call it before the engine writes.
func WrapStoreSync(e *Engine, wrap func(sync func() error) func() error) {
	e.commit.mu.Lock()
	defer e.commit.mu.Unlock()
	e.commit.sync = wrap(e.commit.sync)
}

// MarkSeqs returns the sequence numbers of the events a mark file's data
// holds.
func MarkSeqs(raw []byte) ([]uint64, error) {
	evs, err := decodeMark(raw)
	if err != nil {
		return nil, err
	}
	seqs := make([]uint64, len(evs))
	for i, ev := range evs {
		seqs[i] = ev.Seq
	}
	return seqs, nil
}
