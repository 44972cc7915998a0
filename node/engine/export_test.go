package engine

// WrapStoreSync replaces the store fsync that the engine's writers share
// with wrap of it. Call it before the engine writes.
func WrapStoreSync(e *Engine, wrap func(sync func() error) func() error) {
	e.commit.mu.Lock()
	defer e.commit.mu.Unlock()
	e.commit.sync = wrap(e.commit.sync)
}
