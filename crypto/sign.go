package crypto

import (
	"bytes"
	"crypto/ed25519"
	"errors"

	"filippo.io/edwards25519"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/hdevalence/ed25519consensus"
)

// Domain separates signatures made for different purposes, so that a
// signature over one kind of message can never be replayed as another.
type Domain string

// Signing domains. Each is prefixed, with a zero byte, to the signed bytes.
const (
	DomainEvent      Domain = "banyan/event/v1"
	DomainPayRequest Domain = "banyan/pay-request/v1"
	DomainUnit       Domain = "banyan/wallet-unit/v1"
)

// PublicKeySize is the size of an Ed25519 public key.
const PublicKeySize = ed25519.PublicKeySize

// SignatureSize is the size of an Ed25519 signature.
const SignatureSize = ed25519.SignatureSize

// ErrBadSignature reports a signature that does not verify.
var ErrBadSignature = errors.New("bad signature")

func signedBytes(d Domain, msg []byte) []byte {
	b := make([]byte, 0, len(d)+1+len(msg))
	b = append(b, d...)
	b = append(b, 0)
	return append(b, msg...)
}

// Verify checks sig over msg in domain d by the Ed25519 key pub. It is the
// only verifier in Banyan, so that every node accepts exactly the same
// signatures: the key must be a valid public key (ValidPublicKey), and the
// signature is checked by the ZIP-215 rules (S canonical, R any encoding of
// a point, the cofactored equation), under which checking one signature
// and checking a batch accept the same set.
func Verify(pub []byte, d Domain, msg, sig []byte) error {
	if len(sig) != ed25519.SignatureSize || !ValidPublicKey(pub) {
		return ErrBadSignature
	}
	if !ed25519consensus.Verify(ed25519.PublicKey(pub), signedBytes(d, msg), sig) {
		return ErrBadSignature
	}
	return nil
}

// ValidPublicKey reports whether pub is a usable Ed25519 public key: 32
// bytes, the canonical encoding of a curve point, and not a point of small
// order (for which anyone can make signatures that verify).
func ValidPublicKey(pub []byte) bool {
	if len(pub) != ed25519.PublicKeySize {
		return false
	}
	k := [ed25519.PublicKeySize]byte(pub)
	if validKeys.Contains(k) {
		return true
	}
	p, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil || !bytes.Equal(p.Bytes(), pub) {
		return false
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return false
	}
	validKeys.Add(k, struct{}{})
	return true
}

// validKeys remembers keys ValidPublicKey accepted. A village's events come
// from a few hundred authors, each checked once instead of at every
// envelope (the point decoding cost as much as a fifth of a signature
// check); a key that fails is checked again each time.
var validKeys = func() *lru.Cache[[ed25519.PublicKeySize]byte, struct{}] {
	c, err := lru.New[[ed25519.PublicKeySize]byte, struct{}](4096)
	if err != nil {
		panic(err)
	}
	return c
}()
