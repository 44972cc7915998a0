package ratchet

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/banyan-mesh/banyan/crypto"
)

// Ratchet message layout:
//
//	message = 0x01 || type || [base key (32), prekey messages only] || header || nonce (24) || ciphertext || tag (16)
//	header  = ratchet public key (32) || u32be(PN) || u32be(N)
const (
	msgVersion = 1

	typeNormal = 1 // an ordinary message
	typePrekey = 2 // starts (or may start) a session: carries the base key

	headerSize   = KeySize + 4 + 4
	normalPrefix = 2 + headerSize
	prekeyPrefix = 2 + KeySize + headerSize
	// msgOverhead is the random nonce and the tag. Each message key is
	// used once, so a derived nonce would do; a random one keeps a
	// session restored from an old copy (a backup, a lost write) from
	// encrypting two plaintexts under one key and nonce.
	msgOverhead = chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead

	// MessageOverhead is the most a ratchet message adds to its plaintext:
	// 114 bytes for a session-starting message, 82 for the others.
	MessageOverhead = prekeyPrefix + msgOverhead
	// MaxPlaintextSize is the largest plaintext that can be encrypted, so
	// that its message still fits a sealed box.
	MaxPlaintextSize = MaxInnerSize - MessageOverhead
)

// message is a parsed ratchet message. prefix and ct alias the input.
type message struct {
	prekey bool
	base   [KeySize]byte // the initiator's ephemeral X3DH key; prekey only
	dh     [KeySize]byte // the sender's current ratchet public key
	pn     uint32        // length of the sender's previous sending chain
	n      uint32        // number of this message in its chain
	prefix []byte        // everything before the ciphertext: bound as AD
	ct     []byte        // nonce || ciphertext || tag
}

func parseMessage(raw []byte) (message, error) {
	var m message
	if len(raw) > MaxInnerSize {
		return m, ErrTooLarge
	}
	if len(raw) < normalPrefix+msgOverhead {
		return m, fmt.Errorf("%w: message is %d bytes", ErrMalformed, len(raw))
	}
	if raw[0] != msgVersion {
		return m, fmt.Errorf("%w: message version %d", ErrMalformed, raw[0])
	}
	h := raw[2:]
	switch raw[1] {
	case typeNormal:
	case typePrekey:
		if len(raw) < prekeyPrefix+msgOverhead {
			return m, fmt.Errorf("%w: message is %d bytes", ErrMalformed, len(raw))
		}
		m.prekey = true
		m.base = [KeySize]byte(h)
		h = h[KeySize:]
	default:
		return m, fmt.Errorf("%w: message type %d", ErrMalformed, raw[1])
	}
	m.dh = [KeySize]byte(h)
	m.pn = binary.BigEndian.Uint32(h[KeySize:])
	m.n = binary.BigEndian.Uint32(h[KeySize+4:])
	p := len(raw) - len(h) + headerSize
	m.prefix, m.ct = raw[:p], raw[p:]
	return m, nil
}

// appendPrefix appends the message prefix (everything before the
// ciphertext) to b.
func (m *message) appendPrefix(b []byte) []byte {
	b = append(b, msgVersion)
	if m.prekey {
		b = append(b, typePrekey)
		b = append(b, m.base[:]...)
	} else {
		b = append(b, typeNormal)
	}
	b = append(b, m.dh[:]...)
	b = binary.BigEndian.AppendUint32(b, m.pn)
	return binary.BigEndian.AppendUint32(b, m.n)
}

// messageAD is the AEAD associated data of a message: the direction (sender
// and recipient identity keys), the caller's associated data, and the whole
// message prefix.
func messageAD(sender, recipient [crypto.PublicKeySize]byte, ad, prefix []byte) []byte {
	b := make([]byte, 0, len(infoMsg)+1+2*crypto.PublicKeySize+4+len(ad)+len(prefix))
	b = append(b, infoMsg...)
	b = append(b, 0)
	b = append(b, sender[:]...)
	b = append(b, recipient[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(ad)))
	b = append(b, ad...)
	return append(b, prefix...)
}

// kdfRK is the root KDF: HKDF-SHA256 with the root key as salt and the DH
// output as input key material.
func kdfRK(root [KeySize]byte, dhOut []byte) (newRoot, chain [KeySize]byte) {
	okm := kdf(dhOut, root[:], infoRoot, 2*KeySize)
	return [KeySize]byte(okm), [KeySize]byte(okm[KeySize:])
}

// kdfCK is the chain KDF: HMAC-SHA256 of the chain key with the constant
// 0x01 gives the message key, with 0x02 the next chain key.
func kdfCK(ck [KeySize]byte) (next, mk [KeySize]byte) {
	h := hmac.New(sha256.New, ck[:])
	h.Write([]byte{1})
	h.Sum(mk[:0])
	h.Reset()
	h.Write([]byte{2})
	h.Sum(next[:0])
	return next, mk
}

// messageCipher expands a message key into an XChaCha20-Poly1305 key.
func messageCipher(mk [KeySize]byte) cipher.AEAD {
	a, err := chacha20poly1305.NewX(kdf(mk[:], nil, infoMsg, chacha20poly1305.KeySize))
	if err != nil {
		panic(fmt.Sprintf("ratchet: cipher: %v", err))
	}
	return a
}

// sealMessage appends nonce || ciphertext || tag to dst.
func sealMessage(dst []byte, mk [KeySize]byte, pt, ad []byte) ([]byte, error) {
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := io.ReadFull(randReader, nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return messageCipher(mk).Seal(append(dst, nonce...), nonce, pt, ad), nil
}

// openMessage opens ct = nonce || ciphertext || tag.
func openMessage(mk [KeySize]byte, ct, ad []byte) ([]byte, error) {
	if len(ct) < msgOverhead {
		return nil, crypto.ErrDecrypt
	}
	n := chacha20poly1305.NonceSizeX
	pt, err := messageCipher(mk).Open(nil, ct[:n], ct[n:], ad)
	if err != nil {
		return nil, crypto.ErrDecrypt
	}
	return pt, nil
}
