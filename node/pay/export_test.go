package pay

import "context"

// ReceiptNow runs the receipting pass at once, so that a test can see
// what it writes, or that it writes nothing.
func (w *Service) ReceiptNow(ctx context.Context) { w.receiptAll(ctx) }

// Held counts the entries held for want of standing.
func (w *Service) Held() int { return w.pool.len() }

// MaxHeld bounds the entries held for want of standing.
const MaxHeld = maxHeld
