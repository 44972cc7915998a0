package engine

import "sync"

// groupSync shares one store fsync among every caller that asks for one
// while another is running (group commit): a caller waits for the first
// sync that starts after it asked, which covers every write it made
// before asking.
type groupSync struct {
	// spawn runs a sync loop; the engine counts it in its gate.
	spawn func(func())

	mu      sync.Mutex
	sync    func() error
	changed sync.Cond
	asked   uint64 // requests so far
	synced  uint64 // requests covered by the last sync that ended
	running bool
	later   bool   // a sync was asked for by Later and none started since
	err     error  // of the last sync that ended
	durable uint64 // requests covered by the last sync that succeeded
}

func newGroupSync(sync func() error, spawn func(func())) *groupSync {
	g := &groupSync{sync: sync, spawn: spawn}
	g.changed.L = &g.mu
	return g
}

// Sync returns once everything written before it was called is on disk.
func (g *groupSync) Sync() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	me := g.ask()
	for g.synced < me {
		g.changed.Wait()
	}
	// A later sync that succeeded covers this caller's writes too.
	return g.err
}

// Soon asks for a sync without waiting for it.
func (g *groupSync) Soon() {
	g.mu.Lock()
	g.ask()
	g.mu.Unlock()
}

// Later asks for a sync that may wait until Due is called: for writes
// that are on disk elsewhere meanwhile (in their chain's mark), so that a
// burst of them shares one store sync instead of starting one each.
func (g *groupSync) Later() {
	g.mu.Lock()
	g.later = true
	g.mu.Unlock()
}

// Due starts the sync Later asked for, unless one has started since.
func (g *groupSync) Due() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.later {
		g.ask()
	}
}

// ticket returns the number of the next request: what is written now is
// on disk once Durable reaches it.
func (g *groupSync) ticket() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.asked + 1
}

// Durable returns how many requests a successful sync has covered.
func (g *groupSync) Durable() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.durable
}

// ask records a request and makes sure a sync loop runs; g.mu is held.
func (g *groupSync) ask() uint64 {
	// The sync this request gets starts after it, so it covers whatever
	// Later asked for before.
	g.asked++
	g.later = false
	if !g.running {
		g.running = true
		g.spawn(g.loop)
	}
	return g.asked
}

// loop syncs until every request so far is covered.
func (g *groupSync) loop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.synced < g.asked {
		upto, sync := g.asked, g.sync
		g.mu.Unlock()
		err := sync()
		g.mu.Lock()
		g.synced, g.err = upto, err
		if err == nil {
			g.durable = upto
		}
		g.changed.Broadcast()
	}
	g.running = false
}
