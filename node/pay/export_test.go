package pay

// Passes counts the passes of the worker that receipts and settles.
func (w *Service) Passes() uint64 { return w.passes.Load() }
