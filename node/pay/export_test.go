package pay

import (
	"context"
	"sync"
	"testing"
)

// ReceiptNow runs the receipting pass at once, so that a test can see
// what it writes, or that it writes nothing.
func (w *Service) ReceiptNow(ctx context.Context) { w.receiptAll(ctx) }

// Held counts the entries held for want of standing.
func (w *Service) Held() int { return w.pool.len() }

// MaxHeld bounds the entries held for want of standing.
const MaxHeld = maxHeld

// HoldLoads makes every wallet load that starts from now on wait until
// release is called (or its node stops), so that a test can see a node
// whose wallet is loading.
func HoldLoads(t testing.TB) (release func()) {
	gate := make(chan struct{})
	var once sync.Once
	release = func() {
		once.Do(func() {
			testHookLoad.Store(nil)
			close(gate)
		})
	}
	hold := func(ctx context.Context) {
		select {
		case <-gate:
		case <-ctx.Done():
		}
	}
	testHookLoad.Store(&hold)
	t.Cleanup(release)
	return release
}
