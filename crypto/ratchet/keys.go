package ratchet

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/curve25519"

	"github.com/banyan-mesh/banyan/crypto"
)

// KeySize is the size of an X25519 key and of every symmetric key here.
const KeySize = curve25519.ScalarSize

// BundleSize is the size of an encoded Bundle. The encoding is canonical
// CBOR with fixed-size fields, so it is always exactly this long.
const BundleSize = 138

// Signing domains used by this package (see crypto.Domain).
const (
	// DomainStatic is the domain of the signature from which the static
	// X25519 key is derived. That signature is never published.
	DomainStatic crypto.Domain = "banyan/dm-static/v1"
	// DomainBundle is the domain of a bundle's signature over its DH key.
	DomainBundle crypto.Domain = "banyan/dm-bundle/v1"
	// DomainSeal is the domain of the sender's signature inside a sealed
	// box.
	DomainSeal crypto.Domain = "banyan/dm-seal/v1"
)

// HKDF info labels. Each derivation has its own.
const (
	infoStatic = "banyan/dm-static-x25519/v1"
	infoX3DH   = "banyan/dm-x3dh/v1"
	infoRoot   = "banyan/dm-root/v1"
	infoMsg    = "banyan/dm-msg/v1"
	infoSeal   = "banyan/dm-seal-box/v1"
)

// Errors. Input that is rejected fails with one of these, crypto.ErrDecrypt
// (wrong key, tampering) or crypto.ErrBadSignature, possibly wrapped; only a
// failing random source or an unusable peer DH key gives other errors.
var (
	// ErrMalformed reports input that does not parse: wrong version, wrong
	// length, non-canonical encoding.
	ErrMalformed = errors.New("malformed private message data")
	// ErrTooLarge reports input or plaintext over the size limits.
	ErrTooLarge = errors.New("private message data too large")
	// ErrReplay reports a message whose key was already used: a duplicate
	// or a replay. It is harmless; the message was delivered before.
	ErrReplay = errors.New("private message already received")
	// ErrTooManySkipped reports a message that would need more than MaxSkip
	// message keys of one chain to be skipped. The session is unchanged.
	ErrTooManySkipped = errors.New("private message too far ahead of its chain")
	// ErrNoSession reports an ordinary (not session-starting) message from
	// a sender with whom there is no session.
	ErrNoSession = errors.New("no session with the sender")
	// ErrSessionMismatch reports a session used with the wrong local
	// identity or the wrong peer.
	ErrSessionMismatch = errors.New("session belongs to another conversation")
	// ErrSelf reports a conversation of an identity with itself.
	ErrSelf = errors.New("conversation with oneself")
)

// randReader is the source of every X25519 private key this package makes.
// Tests replace it with a deterministic stream.
var randReader io.Reader = rand.Reader

type keyPair struct {
	priv, pub [KeySize]byte
}

func newKeyPair() (keyPair, error) {
	var kp keyPair
	if _, err := io.ReadFull(randReader, kp.priv[:]); err != nil {
		return kp, fmt.Errorf("random key: %w", err)
	}
	kp.pub = publicKey(kp.priv)
	return kp, nil
}

func publicKey(priv [KeySize]byte) [KeySize]byte {
	pub, err := curve25519.X25519(priv[:], curve25519.Basepoint)
	if err != nil {
		// Only a low-order point can give an all-zero result; the base
		// point has prime order.
		panic(fmt.Sprintf("ratchet: x25519 base point: %v", err))
	}
	return [KeySize]byte(pub)
}

// dh is X25519. It fails on a low-order public key (an all-zero result).
func dh(priv, pub [KeySize]byte) ([]byte, error) {
	return curve25519.X25519(priv[:], pub[:])
}

func kdf(secret, salt []byte, info string, n int) []byte {
	out, err := hkdf.Key(sha256.New, secret, salt, info, n)
	if err != nil {
		// Only an output longer than 255 hashes fails.
		panic(fmt.Sprintf("ratchet: hkdf: %v", err))
	}
	return out
}

// Keys is the local side of private messaging: an identity, the static
// X25519 key derived from it, and the bundle that publishes that key. Make
// it once per identity with NewKeys and share it; it is read-only and safe
// for concurrent use.
type Keys struct {
	id     *crypto.Identity
	priv   [KeySize]byte
	bundle Bundle
}

// NewKeys derives the static X25519 key of id and signs its bundle.
//
// The static private key is HKDF-SHA256 of the identity's Ed25519 signature
// over the empty message in DomainStatic. Ed25519 signatures are
// deterministic, so the same identity always gives the same key: there is no
// second key file to back up, lose or keep in step with the identity, and a
// restored identity can read messages sent to it. The signature is a secret:
// nothing else in Banyan signs in DomainStatic, and the domain prefix
// guarantees that no signature in another domain has the same signed bytes.
// The X25519 public key cannot be computed from the Ed25519 public key; it is
// published in the bundle.
func NewKeys(id *crypto.Identity) *Keys {
	sig := id.Sign(DomainStatic, nil)
	k := &Keys{id: id, priv: [KeySize]byte(kdf(sig, nil, infoStatic, KeySize))}
	pub := publicKey(k.priv)
	k.bundle = Bundle{
		IdentityKey: [crypto.PublicKeySize]byte(id.PublicKey()),
		DHKey:       pub,
		Sig:         [crypto.SignatureSize]byte(id.Sign(DomainBundle, pub[:])),
	}
	return k
}

// Bundle returns the bundle to publish (in invite codes, contact cards).
func (k *Keys) Bundle() Bundle { return k.bundle }

// Bundle is what a contact needs to send private messages to someone: their
// Ed25519 identity key, their static X25519 key, and the identity's
// signature binding the two. For an honest client it is a deterministic
// function of the identity.
type Bundle struct {
	IdentityKey [crypto.PublicKeySize]byte
	DHKey       [KeySize]byte
	Sig         [crypto.SignatureSize]byte // over DHKey in DomainBundle
}

// bundleWire is the CBOR form of a Bundle.
type bundleWire struct {
	IdentityKey []byte `cbor:"1,keyasint"`
	DHKey       []byte `cbor:"2,keyasint"`
	Sig         []byte `cbor:"3,keyasint"`
}

var (
	encMode = crypto.CanonicalCBOR
	decMode = crypto.StrictCBOR(4, 16)
)

// Verify checks the bundle's signature.
func (b Bundle) Verify() error {
	return crypto.Verify(b.IdentityKey[:], DomainBundle, b.DHKey[:], b.Sig[:])
}

// Encode returns the canonical CBOR encoding of the bundle, BundleSize
// bytes: {1: identity key, 2: DH key, 3: signature}.
func (b Bundle) Encode() []byte {
	raw, err := encMode.Marshal(bundleWire{IdentityKey: b.IdentityKey[:], DHKey: b.DHKey[:], Sig: b.Sig[:]})
	if err != nil || len(raw) != BundleSize {
		panic(fmt.Sprintf("ratchet: encode bundle: %d bytes, %v", len(raw), err))
	}
	return raw
}

// DecodeBundle parses an encoded bundle and verifies its signature. Only the
// canonical encoding is accepted.
func DecodeBundle(raw []byte) (Bundle, error) {
	b, err := parseBundle(raw)
	if err != nil {
		return Bundle{}, err
	}
	if err := b.Verify(); err != nil {
		return Bundle{}, fmt.Errorf("bundle: %w", err)
	}
	return b, nil
}

// parseBundle is DecodeBundle without the signature check.
func parseBundle(raw []byte) (Bundle, error) {
	if len(raw) != BundleSize {
		return Bundle{}, fmt.Errorf("%w: bundle is %d bytes", ErrMalformed, len(raw))
	}
	var w bundleWire
	if err := decMode.Unmarshal(raw, &w); err != nil {
		return Bundle{}, fmt.Errorf("%w: bundle: %v", ErrMalformed, err)
	}
	if len(w.IdentityKey) != crypto.PublicKeySize || len(w.DHKey) != KeySize || len(w.Sig) != crypto.SignatureSize {
		return Bundle{}, fmt.Errorf("%w: bundle field sizes", ErrMalformed)
	}
	b := Bundle{
		IdentityKey: [crypto.PublicKeySize]byte(w.IdentityKey),
		DHKey:       [KeySize]byte(w.DHKey),
		Sig:         [crypto.SignatureSize]byte(w.Sig),
	}
	if !bytes.Equal(b.Encode(), raw) {
		return Bundle{}, fmt.Errorf("%w: bundle is not canonical CBOR", ErrMalformed)
	}
	return b, nil
}

// HPKEKey returns the static X25519 key as an HPKE (RFC 9180) DHKEM
// private key, for keys sealed to many people at once (an audience's key
// of moments). Every use of it with HPKE names its own info string, so
// that nothing sealed for one purpose opens for another.
func (k *Keys) HPKEKey() (hpke.PrivateKey, error) {
	priv, err := ecdh.X25519().NewPrivateKey(k.priv[:])
	if err != nil {
		return nil, fmt.Errorf("hpke key: %w", err)
	}
	return hpke.NewDHKEMPrivateKey(priv)
}
