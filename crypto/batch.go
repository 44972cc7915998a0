package crypto

import (
	"crypto/ed25519"

	"github.com/hdevalence/ed25519consensus"
)

// Batch checks many signatures at once, about twice as fast per signature
// as Verify one by one, and accepts exactly what Verify accepts: the same
// key checks, and the ZIP-215 rules, under which a batch verifies if and
// only if every signature in it does. When a batch fails, each signature
// is checked alone to say which.
type Batch struct {
	v     ed25519consensus.BatchVerifier
	items []batchItem
	// bad counts the items refused before the batch (bad keys, lengths).
	bad int
}

type batchItem struct {
	pub, msg, sig []byte
	d             Domain
	ok            bool
}

// NewBatch returns an empty batch with room for n signatures.
func NewBatch(n int) *Batch {
	return &Batch{v: ed25519consensus.NewPreallocatedBatchVerifier(n), items: make([]batchItem, 0, n)}
}

// Add adds the signature sig over msg in domain d by pub. The batch keeps
// references to the arguments until Verify returns.
func (b *Batch) Add(pub []byte, d Domain, msg, sig []byte) {
	it := batchItem{pub: pub, msg: msg, sig: sig, d: d}
	if len(sig) == ed25519.SignatureSize && ValidPublicKey(pub) {
		it.ok = true
		b.v.Add(ed25519.PublicKey(pub), signedBytes(d, msg), sig)
	} else {
		b.bad++
	}
	b.items = append(b.items, it)
}

// Verify returns, for each signature in the order added, nil or
// ErrBadSignature.
func (b *Batch) Verify() []error {
	errs := make([]error, len(b.items))
	if b.bad == 0 && len(b.items) > 0 && b.v.Verify() {
		return errs
	}
	for i, it := range b.items {
		if !it.ok {
			errs[i] = ErrBadSignature
		} else {
			errs[i] = Verify(it.pub, it.d, it.msg, it.sig)
		}
	}
	return errs
}
