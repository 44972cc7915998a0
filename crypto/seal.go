package crypto

import (
	"crypto/rand"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// KeySize is the size of a symmetric group key.
const KeySize = chacha20poly1305.KeySize

// SealOverhead is the number of bytes Seal adds to a plaintext: a 24-byte
// random nonce in front and a 16-byte tag behind.
const SealOverhead = chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead

// ErrDecrypt reports a ciphertext that does not open with the given key and
// associated data: a wrong key, tampering, or a message moved to another
// context.
var ErrDecrypt = errors.New("decryption failed")

// NewKey returns a random 32-byte symmetric key.
func NewKey() ([KeySize]byte, error) {
	var k [KeySize]byte
	if _, err := rand.Read(k[:]); err != nil {
		return k, fmt.Errorf("random key: %w", err)
	}
	return k, nil
}

// Seal encrypts plaintext with XChaCha20-Poly1305 under key, binding it to ad.
// The result is nonce || ciphertext || tag.
func Seal(key [KeySize]byte, plaintext, ad []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		return nil, fmt.Errorf("cipher: %w", err)
	}
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return aead.Seal(out, out, plaintext, ad), nil
}

// Open reverses Seal.
func Open(key [KeySize]byte, sealed, ad []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		return nil, fmt.Errorf("cipher: %w", err)
	}
	if len(sealed) < SealOverhead {
		return nil, ErrDecrypt
	}
	pt, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], ad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}
