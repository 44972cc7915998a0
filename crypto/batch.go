package crypto

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"

	"filippo.io/edwards25519"
)

// Batch checks many signatures at once, faster per signature than Verify
// one by one, and accepts exactly what Verify accepts: the same key checks,
// and the ZIP-215 rules, under which a batch verifies if and only if every
// signature in it does. When a batch fails, each signature is checked
// alone to say which.
//
// It checks the equation of ed25519consensus's batch verifier, which
// Verify's single check uses,
//
//	[8]( -[Σ zᵢsᵢ]B + Σ [zᵢ]Rᵢ + Σ [zᵢkᵢ]Aᵢ ) = 0
//
// with random 128-bit zᵢ, except that the terms of signatures by the same
// key are added into one, [Σ zᵢkᵢ]A, and the key's point is decoded once
// (ValidPublicKey keeps it): a sync batch holds a handful of authors, so
// the multi-scalar multiplication has about one point per signature
// instead of two. The sum is the same, so the same batches pass.
type Batch struct {
	items []batchItem
	// bad counts the items refused before the batch (bad keys, lengths).
	bad int
}

type batchItem struct {
	pub, msg, sig []byte
	d             Domain
	// a is pub's point; nil for an item refused at Add.
	a *edwards25519.Point
}

// NewBatch returns an empty batch with room for n signatures.
func NewBatch(n int) *Batch {
	return &Batch{items: make([]batchItem, 0, n)}
}

// Add adds the signature sig over msg in domain d by pub. The batch keeps
// references to the arguments until Verify returns.
func (b *Batch) Add(pub []byte, d Domain, msg, sig []byte) {
	it := batchItem{pub: pub, msg: msg, sig: sig, d: d}
	if len(sig) == ed25519.SignatureSize {
		it.a, _ = publicPoint(pub)
	}
	if it.a == nil {
		b.bad++
	}
	b.items = append(b.items, it)
}

// Verify returns, for each signature in the order added, nil or
// ErrBadSignature.
func (b *Batch) Verify() []error {
	errs := make([]error, len(b.items))
	if b.bad == 0 && len(b.items) > 0 && b.verifyAll() {
		return errs
	}
	for i, it := range b.items {
		if it.a == nil {
			errs[i] = ErrBadSignature
		} else {
			errs[i] = Verify(it.pub, it.d, it.msg, it.sig)
		}
	}
	return errs
}

// verifyAll reports whether every signature of the batch verifies (with
// overwhelming probability); every item has its key's point.
func (b *Batch) verifyAll() bool {
	n := len(b.items)
	// Scalars and points: B, then each R, then each distinct A.
	scalars := make([]*edwards25519.Scalar, 1, 1+2*n)
	points := make([]*edwards25519.Point, 1, 1+2*n)
	svals := make([]edwards25519.Scalar, 1+2*n)
	rvals := make([]edwards25519.Point, n)
	scalars[0] = &svals[0]
	points[0] = edwards25519.NewGeneratorPoint()
	keys := make(map[[PublicKeySize]byte]*edwards25519.Scalar, n)
	var aScalars []*edwards25519.Scalar
	var aPoints []*edwards25519.Point
	var zb [32]byte
	var digest [64]byte
	var s, k, zk edwards25519.Scalar
	for i, it := range b.items {
		if _, err := rvals[i].SetBytes(it.sig[:32]); err != nil {
			return false
		}
		if _, err := s.SetCanonicalBytes(it.sig[32:]); err != nil {
			return false
		}
		if _, err := rand.Read(zb[:16]); err != nil {
			return false
		}
		z := &svals[1+i]
		if _, err := z.SetCanonicalBytes(zb[:]); err != nil {
			return false
		}
		h := sha512.New()
		h.Write(it.sig[:32])
		h.Write(it.pub)
		h.Write(signedBytes(it.d, it.msg))
		h.Sum(digest[:0])
		if _, err := k.SetUniformBytes(digest[:]); err != nil {
			return false
		}
		scalars[0].MultiplyAdd(z, &s, scalars[0])
		scalars = append(scalars, z)
		points = append(points, &rvals[i])

		key := [PublicKeySize]byte(it.pub)
		acc := keys[key]
		if acc == nil {
			acc = &svals[1+n+len(aScalars)]
			keys[key] = acc
			aScalars = append(aScalars, acc)
			aPoints = append(aPoints, it.a)
		}
		acc.Add(acc, zk.Multiply(z, &k))
	}
	scalars[0].Negate(scalars[0])
	scalars = append(scalars, aScalars...)
	points = append(points, aPoints...)
	check := new(edwards25519.Point).VarTimeMultiScalarMult(scalars, points)
	check.MultByCofactor(check)
	return check.Equal(edwards25519.NewIdentityPoint()) == 1
}
