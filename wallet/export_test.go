package wallet

// Recompute discards the derived state and recomputes it from the set, so
// that tests can compare the incremental path with a full pass.
func (l *Ledger) Recompute() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dirty = true
	l.ensure()
}

// Dirty reports whether the next query recomputes the derived state.
func (l *Ledger) Dirty() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dirty
}
