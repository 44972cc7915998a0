package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// Identity is a person's (or a relay's) long-term Ed25519 key. The libp2p
// peer ID derives from it, so a node's network identity and its signing
// identity are one and the same.
type Identity struct {
	priv ed25519.PrivateKey
}

// NewIdentity generates a fresh identity.
func NewIdentity() (*Identity, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return &Identity{priv: priv}, nil
}

// IdentityFromSeed returns the identity whose private key is derived from a
// 32-byte seed. Tests use it for reproducible keys.
func IdentityFromSeed(seed []byte) (*Identity, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("seed must be %d bytes, got %d", ed25519.SeedSize, len(seed))
	}
	return &Identity{priv: ed25519.NewKeyFromSeed(seed)}, nil
}

// PublicKey returns the 32-byte Ed25519 public key.
func (id *Identity) PublicKey() []byte {
	return bytes.Clone(id.priv.Public().(ed25519.PublicKey))
}

// Sign signs msg in domain d.
func (id *Identity) Sign(d Domain, msg []byte) []byte {
	return ed25519.Sign(id.priv, signedBytes(d, msg))
}

// Seed returns the identity's Ed25519 seed, from which IdentityFromSeed
// makes it again (a backup keeps it).
func (id *Identity) Seed() []byte { return id.priv.Seed() }

// Libp2pKey returns the identity as a libp2p private key.
func (id *Identity) Libp2pKey() crypto.PrivKey {
	k, err := crypto.UnmarshalEd25519PrivateKey(id.priv)
	if err != nil {
		// An ed25519.PrivateKey is always 64 bytes; this cannot fail.
		panic(fmt.Sprintf("crypto: libp2p key: %v", err))
	}
	return k
}

// PeerID returns the libp2p peer ID of the identity.
func (id *Identity) PeerID() peer.ID {
	p, err := peer.IDFromPrivateKey(id.Libp2pKey())
	if err != nil {
		panic(fmt.Sprintf("crypto: peer id: %v", err))
	}
	return p
}

// PeerIDFromPublicKey returns the libp2p peer ID for a 32-byte Ed25519 key.
func PeerIDFromPublicKey(pub []byte) (peer.ID, error) {
	k, err := crypto.UnmarshalEd25519PublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("public key: %w", err)
	}
	return peer.IDFromPublicKey(k)
}

// PublicKeyFromPeerID extracts the Ed25519 public key embedded in a peer ID.
func PublicKeyFromPeerID(p peer.ID) ([]byte, error) {
	k, err := p.ExtractPublicKey()
	if err != nil {
		return nil, fmt.Errorf("peer id %s: %w", p, err)
	}
	if k.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("peer id %s: not an ed25519 key", p)
	}
	return k.Raw()
}

// Key file format: a PEM block. Unencrypted files hold the 32-byte seed in a
// "BANYAN IDENTITY" block; encrypted files hold salt || nonce || sealed seed
// in a "BANYAN ENCRYPTED IDENTITY" block, with the key derived by argon2id.
const (
	pemPlain     = "BANYAN IDENTITY"
	pemEncrypted = "BANYAN ENCRYPTED IDENTITY"

	argonTime    = 3
	argonMemory  = 64 * 1024 // KiB
	argonThreads = 2
	saltSize     = 16
)

// ErrPassphraseRequired reports an encrypted key file opened without a
// passphrase.
var ErrPassphraseRequired = errors.New("key file is encrypted: a passphrase is required")

// ErrWrongPassphrase reports a passphrase that does not open the key file.
var ErrWrongPassphrase = errors.New("wrong passphrase for key file")

// WriteKeyFile writes the identity to path with mode 0600. It never
// overwrites an existing file, and leaves no file behind if it fails. A
// non-empty passphrase encrypts the key with argon2id and
// XChaCha20-Poly1305.
func (id *Identity) WriteKeyFile(path string, passphrase []byte) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("key file %s already exists; refusing to overwrite it", path)
		}
		return fmt.Errorf("create key file: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close key file: %w", cerr)
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	blk, err := id.keyBlock(passphrase)
	if err != nil {
		return err
	}
	if err := pem.Encode(f, blk); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync key file: %w", err)
	}
	return nil
}

func (id *Identity) keyBlock(passphrase []byte) (*pem.Block, error) {
	if len(passphrase) == 0 {
		return &pem.Block{Type: pemPlain, Bytes: id.priv.Seed()}, nil
	}
	sealed, err := SealWithPassphrase(passphrase, id.priv.Seed(), []byte(pemEncrypted))
	if err != nil {
		return nil, err
	}
	return &pem.Block{Type: pemEncrypted, Bytes: sealed}, nil
}

// SealWithPassphrase encrypts plaintext under a key derived from a
// passphrase: salt (16) || nonce (24) || XChaCha20-Poly1305(key, nonce,
// plaintext, ad), key = argon2id(passphrase, salt, time 3, memory 64 MiB,
// threads 2, 32 bytes). ad names what is sealed, so that one kind of file
// cannot be passed off as another.
func SealWithPassphrase(passphrase, plaintext, ad []byte) ([]byte, error) {
	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("salt: %w", err)
	}
	aead, err := chacha20poly1305.NewX(passphraseKey(passphrase, salt))
	if err != nil {
		return nil, fmt.Errorf("passphrase cipher: %w", err)
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return append(append(salt, nonce...), aead.Seal(nil, nonce, plaintext, ad)...), nil
}

// ErrTruncated reports sealed bytes too short to hold a salt and a nonce.
var ErrTruncated = errors.New("truncated")

// OpenWithPassphrase opens what SealWithPassphrase sealed with the same ad;
// a wrong passphrase, or bytes changed, is ErrWrongPassphrase.
func OpenWithPassphrase(passphrase, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < saltSize+chacha20poly1305.NonceSizeX {
		return nil, ErrTruncated
	}
	salt := sealed[:saltSize]
	nonce := sealed[saltSize : saltSize+chacha20poly1305.NonceSizeX]
	aead, err := chacha20poly1305.NewX(passphraseKey(passphrase, salt))
	if err != nil {
		return nil, fmt.Errorf("passphrase cipher: %w", err)
	}
	plain, err := aead.Open(nil, nonce, sealed[saltSize+len(nonce):], ad)
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	return plain, nil
}

// KeyFileEncrypted reports whether the key file at path needs a passphrase.
func KeyFileEncrypted(path string) (bool, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("read key file: %w", err)
	}
	blk, _ := pem.Decode(raw)
	if blk == nil {
		return false, fmt.Errorf("key file %s: no PEM block", path)
	}
	return blk.Type == pemEncrypted, nil
}

// ReadKeyFile loads an identity written by WriteKeyFile.
func ReadKeyFile(path string, passphrase []byte) (*Identity, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	blk, _ := pem.Decode(raw)
	if blk == nil {
		return nil, fmt.Errorf("key file %s: no PEM block", path)
	}
	switch blk.Type {
	case pemPlain:
		return IdentityFromSeed(blk.Bytes)
	case pemEncrypted:
		if len(passphrase) == 0 {
			return nil, ErrPassphraseRequired
		}
		seed, err := OpenWithPassphrase(passphrase, blk.Bytes, []byte(pemEncrypted))
		if errors.Is(err, ErrTruncated) {
			return nil, fmt.Errorf("key file %s: truncated", path)
		}
		if err != nil {
			return nil, err
		}
		return IdentityFromSeed(seed)
	default:
		return nil, fmt.Errorf("key file %s: unknown block type %q", path, blk.Type)
	}
}

func passphraseKey(passphrase, salt []byte) []byte {
	return argon2.IDKey(passphrase, salt, argonTime, argonMemory, argonThreads, chacha20poly1305.KeySize)
}

// LocalKey derives a key from the identity's private key, under a label of
// its own, for data that never leaves this node (the diary):
// HKDF-SHA256(seed, no salt, "banyan/local-key/v1" || 0x00 || label, 32
// bytes). Whoever restores the identity can read that data again.
func (id *Identity) LocalKey(label string) ([KeySize]byte, error) {
	var k [KeySize]byte
	b, err := hkdf.Key(sha256.New, id.priv.Seed(), nil, "banyan/local-key/v1\x00"+label, KeySize)
	if err != nil {
		return k, fmt.Errorf("local key: %w", err)
	}
	copy(k[:], b)
	return k, nil
}
