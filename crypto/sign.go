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
	_, ok := publicPoint(pub)
	return ok
}

// publicPoint returns the point of a valid public key. A village's events
// come from a few hundred authors, so the points of valid keys are kept:
// decoding one cost as much as a fifth of a signature check, at every
// envelope. A key that fails is checked again each time.
func publicPoint(pub []byte) (*edwards25519.Point, bool) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, false
	}
	k := [ed25519.PublicKeySize]byte(pub)
	if p, ok := validKeys.Get(k); ok {
		return p, true
	}
	p, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil || !bytes.Equal(p.Bytes(), pub) {
		return nil, false
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return nil, false
	}
	validKeys.Add(k, p)
	return p, true
}

// validKeys holds the points of keys publicPoint accepted; they are never
// modified.
var validKeys = func() *lru.Cache[[ed25519.PublicKeySize]byte, *edwards25519.Point] {
	c, err := lru.New[[ed25519.PublicKeySize]byte, *edwards25519.Point](4096)
	if err != nil {
		panic(err)
	}
	return c
}()
