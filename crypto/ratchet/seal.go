package ratchet

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/banyan-mesh/banyan/crypto"
)

// Sealed box layout:
//
//	sealed = 0x01 || E (32) || XChaCha20-Poly1305(k, nonce, plaintext, ad)
//	plaintext = bundle (138) || sig (64) || u32be(len(inner)) || inner || zeros
//
// The plaintext is padded with zero bytes to a multiple of SealPadding.
const (
	sealVersion   = 1
	sealHeader    = 1 + KeySize
	sealFixed     = BundleSize + crypto.SignatureSize + 4
	sealTag       = chacha20poly1305.Overhead
	sealMinSize   = sealHeader + SealPadding + sealTag
	sealMaxPadded = (MaxSealedSize - sealHeader - sealTag) / SealPadding * SealPadding
)

// Size limits of sealed boxes.
const (
	// SealPadding is the bucket size: the sealed plaintext is padded to a
	// multiple of it, so a carrier learns a message's length only to
	// within SealPadding bytes.
	SealPadding = 256
	// MaxSealedSize bounds a sealed box. It equals the payload limit of a
	// signed event (event.MaxPayloadSize), so a box fits in one event.
	MaxSealedSize = 60 << 10
	// MaxInnerSize is the largest inner message Seal accepts.
	MaxInnerSize = sealMaxPadded - sealFixed
)

// SealedSize returns the size of the sealed box of an inner message of n
// bytes: 49 bytes (version, ephemeral key, tag) plus the plaintext (206
// bytes of sender bundle, signature and length, then the inner message)
// rounded up to a multiple of SealPadding.
func SealedSize(n int) int {
	return sealHeader + (sealFixed+n+SealPadding-1)/SealPadding*SealPadding + sealTag
}

// sealKey derives the box key and nonce. The ephemeral key is fresh for
// every box, so each key is used once and a derived nonce is safe.
func sealKey(shared []byte, eph, recipient [KeySize]byte) (key, nonce []byte) {
	salt := make([]byte, 0, 2*KeySize)
	salt = append(append(salt, eph[:]...), recipient[:]...)
	okm := kdf(shared, salt, infoSeal, chacha20poly1305.KeySize+chacha20poly1305.NonceSizeX)
	return okm[:chacha20poly1305.KeySize], okm[chacha20poly1305.KeySize:]
}

func sealAD(header []byte, recipient [KeySize]byte) []byte {
	ad := make([]byte, 0, sealHeader+KeySize)
	return append(append(ad, header...), recipient[:]...)
}

func sealSigned(recipient [KeySize]byte, inner []byte) []byte {
	m := make([]byte, 0, KeySize+len(inner))
	return append(append(m, recipient[:]...), inner...)
}

// Seal puts inner in an anonymous box for the holder of recipientDH (a
// bundle's DHKey). Inside the box are the sender's bundle and the sender's
// signature over (DomainSeal, recipientDH, inner), so the recipient learns and
// authenticates the sender; outside there is only a fresh ephemeral key and
// ciphertext, whose length is rounded up to a multiple of SealPadding.
func Seal(recipientDH [KeySize]byte, sender *Keys, inner []byte) ([]byte, error) {
	if len(inner) > MaxInnerSize {
		return nil, ErrTooLarge
	}
	eph, err := newKeyPair()
	if err != nil {
		return nil, err
	}
	shared, err := dh(eph.priv, recipientDH)
	if err != nil {
		return nil, fmt.Errorf("recipient key: %w", err)
	}
	sig := sender.id.Sign(DomainSeal, sealSigned(recipientDH, inner))

	size := SealedSize(len(inner))
	pt := make([]byte, size-sealHeader-sealTag)
	copy(pt, sender.bundle.Encode())
	copy(pt[BundleSize:], sig)
	binary.BigEndian.PutUint32(pt[BundleSize+crypto.SignatureSize:], uint32(len(inner)))
	copy(pt[sealFixed:], inner)

	out := make([]byte, sealHeader, size)
	out[0] = sealVersion
	copy(out[1:], eph.pub[:])
	key, nonce := sealKey(shared, eph.pub, recipientDH)
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("cipher: %w", err)
	}
	return aead.Seal(out, nonce, pt, sealAD(out, recipientDH)), nil
}

// Open opens a box sealed to recipient and returns the sender's verified
// bundle and the inner message. It fails with crypto.ErrDecrypt if the box
// was not sealed to recipient or was modified, and with
// crypto.ErrBadSignature if the sender's signatures do not verify.
func Open(recipient *Keys, sealed []byte) (Bundle, []byte, error) {
	b, inner, err := open(recipient, sealed)
	if err != nil {
		return Bundle{}, nil, err
	}
	if err := b.Verify(); err != nil {
		return Bundle{}, nil, fmt.Errorf("sender bundle: %w", err)
	}
	return b, inner, nil
}

// open is Open without the check of the bundle's own signature (it does
// check the sender's signature over the inner message). Receive skips the
// bundle check when the bundle is the one already stored in the session.
func open(recipient *Keys, sealed []byte) (Bundle, []byte, error) {
	switch {
	case len(sealed) > MaxSealedSize:
		return Bundle{}, nil, ErrTooLarge
	case len(sealed) < sealMinSize || (len(sealed)-sealHeader-sealTag)%SealPadding != 0:
		return Bundle{}, nil, fmt.Errorf("%w: sealed box is %d bytes", ErrMalformed, len(sealed))
	case sealed[0] != sealVersion:
		return Bundle{}, nil, fmt.Errorf("%w: sealed box version %d", ErrMalformed, sealed[0])
	}
	eph := [KeySize]byte(sealed[1:sealHeader])
	me := recipient.bundle.DHKey
	shared, err := dh(recipient.priv, eph)
	if err != nil {
		return Bundle{}, nil, crypto.ErrDecrypt
	}
	key, nonce := sealKey(shared, eph, me)
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return Bundle{}, nil, fmt.Errorf("cipher: %w", err)
	}
	pt, err := aead.Open(nil, nonce, sealed[sealHeader:], sealAD(sealed[:sealHeader], me))
	if err != nil {
		return Bundle{}, nil, crypto.ErrDecrypt
	}
	// The plaintext is authentic (whoever sealed it made it), but the
	// sender may be anyone: parse it strictly.
	b, err := parseBundle(pt[:BundleSize])
	if err != nil {
		return Bundle{}, nil, fmt.Errorf("sender bundle: %w", err)
	}
	sig := pt[BundleSize : BundleSize+crypto.SignatureSize]
	n := binary.BigEndian.Uint32(pt[BundleSize+crypto.SignatureSize:])
	if uint64(n) > uint64(len(pt)-sealFixed) || SealedSize(int(n)) != len(sealed) {
		return Bundle{}, nil, fmt.Errorf("%w: inner length %d in a %d-byte box", ErrMalformed, n, len(sealed))
	}
	inner, pad := pt[sealFixed:sealFixed+int(n)], pt[sealFixed+int(n):]
	for _, c := range pad {
		if c != 0 {
			return Bundle{}, nil, fmt.Errorf("%w: non-zero padding", ErrMalformed)
		}
	}
	if err := crypto.Verify(b.IdentityKey[:], DomainSeal, sealSigned(me, inner), sig); err != nil {
		return Bundle{}, nil, fmt.Errorf("sender signature: %w", err)
	}
	return b, inner, nil
}
