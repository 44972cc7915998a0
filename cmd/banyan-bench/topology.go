package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// meshLow is gossipsub's default D_lo: a node with at least this many topic
// peers grafts at least this many into its mesh.
const meshLow = 5

// hostLike is the part of a libp2p host that connecting needs.
type hostLike interface {
	ID() peer.ID
	Addrs() []ma.Multiaddr
	Connect(context.Context, peer.AddrInfo) error
}

// connectEdges dials every edge directly, a to b, a few at a time: a
// handshake waits on both ends, and fifty nodes connected to one another
// are 1225 of them.
func connectEdges(ctx context.Context, edges [][2]int, host func(int) hostLike) error {
	var failed failure
	work := make(chan [2]int)
	var wg sync.WaitGroup
	for range connectWorkers {
		wg.Go(func() {
			for e := range work {
				a, b := host(e[0]), host(e[1])
				if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
					failed.set(fmt.Errorf("connect node %d to node %d: %w", e[0], e[1], err))
				}
			}
		})
	}
	for _, e := range edges {
		if failed.get() != nil {
			break
		}
		work <- e
	}
	close(work)
	wg.Wait()
	return failed.get()
}

// connectWorkers is how many dials connectEdges runs at once.
const connectWorkers = 4

// degrees returns each node's number of edges.
func degrees(n int, edges [][2]int) []int {
	d := make([]int, n)
	for _, e := range edges {
		d[e[0]]++
		d[e[1]]++
	}
	return d
}

// waitFor polls cond until it holds, or fails when ctx is done.
func waitFor(ctx context.Context, what string, cond func() (bool, string)) error {
	for {
		ok, detail := cond()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (%s)", what, ctx.Err(), detail)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// failure keeps the first error reported by a background goroutine.
type failure struct {
	mu  sync.Mutex
	err error
}

func (f *failure) set(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func (f *failure) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
