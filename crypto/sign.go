package crypto

import (
	"crypto/ed25519"
	"errors"
)

// Domain separates signatures made for different purposes, so that a
// signature over one kind of message can never be replayed as another.
type Domain string

// Signing domains. Each is prefixed, with a zero byte, to the signed bytes.
const (
	DomainEvent      Domain = "banyan/event/v1"
	DomainPayRequest Domain = "banyan/pay-request/v1"
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
// only verifier in Banyan; it uses the standard library's strict rules
// (canonical S, no batch verification) so that every node accepts exactly the
// same set of signatures.
func Verify(pub []byte, d Domain, msg, sig []byte) error {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return ErrBadSignature
	}
	if !ed25519.Verify(ed25519.PublicKey(pub), signedBytes(d, msg), sig) {
		return ErrBadSignature
	}
	return nil
}
