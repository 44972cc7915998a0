package crypto_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto"
)

// seedIdentity returns a reproducible identity whose seed is 32 copies of b.
func seedIdentity(t testing.TB, b byte) *crypto.Identity {
	t.Helper()
	id, err := crypto.IdentityFromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatalf("IdentityFromSeed: %v", err)
	}
	return id
}

func TestNewIdentity(t *testing.T) {
	a, err := crypto.NewIdentity()
	if err != nil {
		t.Fatalf("NewIdentity: %v", err)
	}
	b, err := crypto.NewIdentity()
	if err != nil {
		t.Fatalf("NewIdentity: %v", err)
	}
	if got := len(a.PublicKey()); got != crypto.PublicKeySize {
		t.Fatalf("public key is %d bytes, want %d", got, crypto.PublicKeySize)
	}
	if bytes.Equal(a.PublicKey(), b.PublicKey()) {
		t.Fatal("two fresh identities have the same public key")
	}
	if a.PeerID() == b.PeerID() {
		t.Fatal("two fresh identities have the same peer ID")
	}
}

func TestIdentityFromSeed(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, 32)
	a, err := crypto.IdentityFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	b, err := crypto.IdentityFromSeed(bytes.Clone(seed))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.PublicKey(), b.PublicKey()) {
		t.Fatal("same seed gave different public keys")
	}
	if a.PeerID() != b.PeerID() {
		t.Fatal("same seed gave different peer IDs")
	}
	// Ed25519 signatures are deterministic: same key and message, same bytes.
	if !bytes.Equal(a.Sign(crypto.DomainEvent, []byte("m")), b.Sign(crypto.DomainEvent, []byte("m"))) {
		t.Fatal("same seed gave different signatures")
	}
	if c := seedIdentity(t, 8); bytes.Equal(a.PublicKey(), c.PublicKey()) {
		t.Fatal("different seeds gave the same public key")
	}

	// PublicKey returns a copy: changing it must not change the identity.
	pub := a.PublicKey()
	pub[0] ^= 0xff
	if bytes.Equal(pub, a.PublicKey()) {
		t.Fatal("PublicKey returned the identity's internal slice")
	}

	for _, n := range []int{0, 1, 31, 33, 64} {
		if _, err := crypto.IdentityFromSeed(make([]byte, n)); err == nil {
			t.Errorf("IdentityFromSeed(%d bytes) succeeded, want error", n)
		}
	}
}

func TestSignVerify(t *testing.T) {
	id := seedIdentity(t, 1)
	for _, msg := range [][]byte{nil, {}, []byte("hello"), bytes.Repeat([]byte{0xab}, 4096)} {
		sig := id.Sign(crypto.DomainEvent, msg)
		if len(sig) != crypto.SignatureSize {
			t.Fatalf("signature is %d bytes, want %d", len(sig), crypto.SignatureSize)
		}
		if err := crypto.Verify(id.PublicKey(), crypto.DomainEvent, msg, sig); err != nil {
			t.Fatalf("Verify(%d-byte message): %v", len(msg), err)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	id := seedIdentity(t, 1)
	other := seedIdentity(t, 2)
	msg := []byte("pay 10 to bob")
	sig := id.Sign(crypto.DomainEvent, msg)
	pub := id.PublicKey()

	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name string
		pub  []byte
		d    crypto.Domain
		msg  []byte
		sig  []byte
	}{
		{"wrong domain", pub, crypto.Domain("banyan/other/v1"), msg, sig},
		{"empty domain", pub, crypto.Domain(""), msg, sig},
		{"wrong key", other.PublicKey(), crypto.DomainEvent, msg, sig},
		{"tampered message", pub, crypto.DomainEvent, flip(msg, 0), sig},
		{"truncated message", pub, crypto.DomainEvent, msg[:len(msg)-1], sig},
		{"extended message", pub, crypto.DomainEvent, append(bytes.Clone(msg), 0), sig},
		{"tampered signature R", pub, crypto.DomainEvent, msg, flip(sig, 0)},
		{"tampered signature S", pub, crypto.DomainEvent, msg, flip(sig, 40)},
		{"signature of other key", pub, crypto.DomainEvent, msg, other.Sign(crypto.DomainEvent, msg)},
		{"nil signature", pub, crypto.DomainEvent, msg, nil},
		{"short signature", pub, crypto.DomainEvent, msg, sig[:crypto.SignatureSize-1]},
		{"long signature", pub, crypto.DomainEvent, msg, append(bytes.Clone(sig), 0)},
		{"zero signature", pub, crypto.DomainEvent, msg, make([]byte, crypto.SignatureSize)},
		{"nil key", nil, crypto.DomainEvent, msg, sig},
		{"short key", pub[:crypto.PublicKeySize-1], crypto.DomainEvent, msg, sig},
		{"long key", append(bytes.Clone(pub), 0), crypto.DomainEvent, msg, sig},
		{"zero key", make([]byte, crypto.PublicKeySize), crypto.DomainEvent, msg, sig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := crypto.Verify(tt.pub, tt.d, tt.msg, tt.sig)
			if !errors.Is(err, crypto.ErrBadSignature) {
				t.Fatalf("Verify = %v, want ErrBadSignature", err)
			}
		})
	}
	// The untampered inputs still verify, so the cases above fail for the
	// reason they name.
	if err := crypto.Verify(pub, crypto.DomainEvent, msg, sig); err != nil {
		t.Fatalf("control: %v", err)
	}
}

// TestSignIsDomainSeparated checks that the domain really is part of the
// signed bytes: a signature made in one domain verifies in that domain only.
func TestSignIsDomainSeparated(t *testing.T) {
	id := seedIdentity(t, 3)
	d := crypto.Domain("banyan/test/v1")
	msg := []byte("x")
	sig := id.Sign(d, msg)
	if err := crypto.Verify(id.PublicKey(), d, msg, sig); err != nil {
		t.Fatalf("verify in own domain: %v", err)
	}
	if err := crypto.Verify(id.PublicKey(), crypto.DomainEvent, msg, sig); !errors.Is(err, crypto.ErrBadSignature) {
		t.Fatalf("verify in other domain = %v, want ErrBadSignature", err)
	}
	if bytes.Equal(sig, id.Sign(crypto.DomainEvent, msg)) {
		t.Fatal("signatures in two domains are equal")
	}
}

func TestKeyFileRoundTrip(t *testing.T) {
	tests := []struct {
		name       string
		passphrase []byte
		encrypted  bool
	}{
		{"plain nil passphrase", nil, false},
		{"plain empty passphrase", []byte{}, false},
		{"encrypted", []byte("correct horse battery staple"), true},
		{"encrypted one byte", []byte{0}, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := seedIdentity(t, byte(10+i))
			path := filepath.Join(t.TempDir(), "identity.key")
			if err := id.WriteKeyFile(path, tt.passphrase); err != nil {
				t.Fatalf("WriteKeyFile: %v", err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if mode := fi.Mode(); mode != 0o600 {
				t.Fatalf("key file mode = %v, want -rw-------", mode)
			}
			enc, err := crypto.KeyFileEncrypted(path)
			if err != nil {
				t.Fatalf("KeyFileEncrypted: %v", err)
			}
			if enc != tt.encrypted {
				t.Fatalf("KeyFileEncrypted = %v, want %v", enc, tt.encrypted)
			}
			got, err := crypto.ReadKeyFile(path, tt.passphrase)
			if err != nil {
				t.Fatalf("ReadKeyFile: %v", err)
			}
			if !bytes.Equal(got.PublicKey(), id.PublicKey()) {
				t.Fatal("read identity has another public key")
			}
			msg := []byte("round trip")
			if err := crypto.Verify(id.PublicKey(), crypto.DomainEvent, msg, got.Sign(crypto.DomainEvent, msg)); err != nil {
				t.Fatalf("read identity signs badly: %v", err)
			}

			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			blk, _ := pem.Decode(raw)
			if blk == nil {
				t.Fatal("key file holds no PEM block")
			}
			// The plain key file holds the seed; the encrypted one must not
			// contain it (or the public key) in the clear.
			seed := bytes.Repeat([]byte{byte(10 + i)}, 32)
			if tt.encrypted {
				if bytes.Contains(blk.Bytes, seed) || bytes.Contains(raw, seed) {
					t.Fatal("encrypted key file contains the seed in the clear")
				}
				if bytes.Contains(blk.Bytes, id.PublicKey()) {
					t.Fatal("encrypted key file contains the public key")
				}
			} else if !bytes.Equal(blk.Bytes, seed) {
				t.Fatalf("plain key file holds %x, want the seed", blk.Bytes)
			}
		})
	}
}

// TestPlainKeyFileIgnoresPassphrase pins that a passphrase given for a plain
// key file is not an error: the file simply is not encrypted.
func TestPlainKeyFileIgnoresPassphrase(t *testing.T) {
	id := seedIdentity(t, 20)
	path := filepath.Join(t.TempDir(), "k")
	if err := id.WriteKeyFile(path, nil); err != nil {
		t.Fatal(err)
	}
	got, err := crypto.ReadKeyFile(path, []byte("unused"))
	if err != nil {
		t.Fatalf("ReadKeyFile: %v", err)
	}
	if !bytes.Equal(got.PublicKey(), id.PublicKey()) {
		t.Fatal("wrong identity")
	}
}

func TestEncryptedKeyFilesDiffer(t *testing.T) {
	// Salt and nonce are random: the same key under the same passphrase
	// gives two different files.
	id := seedIdentity(t, 21)
	dir := t.TempDir()
	pass := []byte("pw")
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := id.WriteKeyFile(a, pass); err != nil {
		t.Fatal(err)
	}
	if err := id.WriteKeyFile(b, pass); err != nil {
		t.Fatal(err)
	}
	ra, _ := os.ReadFile(a)
	rb, _ := os.ReadFile(b)
	if bytes.Equal(ra, rb) {
		t.Fatal("two encryptions of one key file are identical")
	}
}

func TestWriteKeyFileRefusesOverwrite(t *testing.T) {
	for _, pass := range [][]byte{nil, []byte("pw")} {
		path := filepath.Join(t.TempDir(), "identity.key")
		first := seedIdentity(t, 30)
		if err := first.WriteKeyFile(path, nil); err != nil {
			t.Fatal(err)
		}
		before, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		second := seedIdentity(t, 31)
		err = second.WriteKeyFile(path, pass)
		if err == nil {
			t.Fatal("WriteKeyFile overwrote an existing key file")
		}
		if !strings.Contains(err.Error(), "exists") {
			t.Errorf("error %q does not say the file exists", err)
		}
		after, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(before, after) {
			t.Fatal("the refused write changed the existing key file")
		}
		got, err := crypto.ReadKeyFile(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.PublicKey(), first.PublicKey()) {
			t.Fatal("the key file no longer holds the first identity")
		}
	}
}

func TestWriteKeyFileMissingDir(t *testing.T) {
	id := seedIdentity(t, 32)
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "k")
	if err := id.WriteKeyFile(path, nil); err == nil {
		t.Fatal("WriteKeyFile into a missing directory succeeded")
	}
}

func TestReadKeyFilePassphraseErrors(t *testing.T) {
	id := seedIdentity(t, 40)
	path := filepath.Join(t.TempDir(), "identity.key")
	if err := id.WriteKeyFile(path, []byte("secret")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pass []byte
		want error
	}{
		{"nil passphrase", nil, crypto.ErrPassphraseRequired},
		{"empty passphrase", []byte{}, crypto.ErrPassphraseRequired},
		{"wrong passphrase", []byte("Secret"), crypto.ErrWrongPassphrase},
		{"prefix of passphrase", []byte("secre"), crypto.ErrWrongPassphrase},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := crypto.ReadKeyFile(path, tt.pass)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ReadKeyFile = %v, want %v", err, tt.want)
			}
			if got != nil {
				t.Fatal("ReadKeyFile returned an identity with an error")
			}
		})
	}
}

func TestReadKeyFileDamaged(t *testing.T) {
	id := seedIdentity(t, 41)
	dir := t.TempDir()
	encPath := filepath.Join(dir, "enc")
	if err := id.WriteKeyFile(encPath, []byte("pw")); err != nil {
		t.Fatal(err)
	}
	encRaw, err := os.ReadFile(encPath)
	if err != nil {
		t.Fatal(err)
	}
	encBlk, _ := pem.Decode(encRaw)
	if encBlk == nil {
		t.Fatal("no PEM block")
	}
	pemFile := func(typ string, b []byte) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b})
	}
	tampered := bytes.Clone(encBlk.Bytes)
	tampered[len(tampered)-1] ^= 1

	tests := []struct {
		name    string
		content []byte
		pass    []byte
		want    error // nil: any error
	}{
		{"empty file", nil, nil, nil},
		{"not PEM", []byte("this is not a key file\n"), nil, nil},
		{"unknown block type", pemFile("PRIVATE KEY", make([]byte, 32)), nil, nil},
		{"plain seed too short", pemFile("BANYAN IDENTITY", make([]byte, 31)), nil, nil},
		{"plain seed too long", pemFile("BANYAN IDENTITY", make([]byte, 64)), nil, nil},
		{"encrypted truncated header", pemFile("BANYAN ENCRYPTED IDENTITY", encBlk.Bytes[:20]), []byte("pw"), nil},
		{"encrypted truncated ciphertext", pemFile("BANYAN ENCRYPTED IDENTITY", encBlk.Bytes[:len(encBlk.Bytes)-1]), []byte("pw"), crypto.ErrWrongPassphrase},
		{"encrypted tampered", pemFile("BANYAN ENCRYPTED IDENTITY", tampered), []byte("pw"), crypto.ErrWrongPassphrase},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "case"+string(rune('a'+i)))
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := crypto.ReadKeyFile(path, tt.pass)
			if err == nil {
				t.Fatal("ReadKeyFile accepted a damaged key file")
			}
			if got != nil {
				t.Fatal("ReadKeyFile returned an identity with an error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("ReadKeyFile = %v, want %v", err, tt.want)
			}
		})
	}

	if _, err := crypto.ReadKeyFile(filepath.Join(dir, "missing"), nil); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadKeyFile(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestKeyFileEncryptedErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := crypto.KeyFileEncrypted(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("KeyFileEncrypted(missing) = %v, want fs.ErrNotExist", err)
	}
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := crypto.KeyFileEncrypted(junk); err == nil {
		t.Fatal("KeyFileEncrypted accepted a file without a PEM block")
	}
}

func TestPeerIDRoundTrip(t *testing.T) {
	for i := range 4 {
		id := seedIdentity(t, byte(50+i))
		pub := id.PublicKey()

		pid, err := crypto.PeerIDFromPublicKey(pub)
		if err != nil {
			t.Fatalf("PeerIDFromPublicKey: %v", err)
		}
		if pid != id.PeerID() {
			t.Fatalf("PeerIDFromPublicKey = %s, identity's PeerID = %s", pid, id.PeerID())
		}
		if err := pid.Validate(); err != nil {
			t.Fatalf("peer ID invalid: %v", err)
		}
		back, err := crypto.PublicKeyFromPeerID(pid)
		if err != nil {
			t.Fatalf("PublicKeyFromPeerID: %v", err)
		}
		if !bytes.Equal(back, pub) {
			t.Fatalf("PublicKeyFromPeerID = %x, want %x", back, pub)
		}
		// Through the string form too, as peer IDs travel as text.
		parsed, err := peer.Decode(pid.String())
		if err != nil {
			t.Fatal(err)
		}
		if back, err := crypto.PublicKeyFromPeerID(parsed); err != nil || !bytes.Equal(back, pub) {
			t.Fatalf("PublicKeyFromPeerID(decoded string) = %x, %v", back, err)
		}

		// The libp2p key is the same key.
		lk := id.Libp2pKey()
		if lk.Type() != lcrypto.Ed25519 {
			t.Fatalf("libp2p key type %v", lk.Type())
		}
		raw, err := lk.GetPublic().Raw()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(raw, pub) {
			t.Fatal("libp2p public key differs from PublicKey")
		}
		// A signature made by the libp2p key verifies with the libp2p
		// public key derived from the peer ID.
		lsig, err := lk.Sign([]byte("m"))
		if err != nil {
			t.Fatal(err)
		}
		ext, err := pid.ExtractPublicKey()
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := ext.Verify([]byte("m"), lsig); err != nil || !ok {
			t.Fatalf("libp2p signature does not verify: %v %v", ok, err)
		}
	}
}

func TestPeerIDErrors(t *testing.T) {
	for _, n := range []int{0, 31, 33, 64} {
		if _, err := crypto.PeerIDFromPublicKey(make([]byte, n)); err == nil {
			t.Errorf("PeerIDFromPublicKey(%d bytes) succeeded", n)
		}
	}

	// A peer ID of a non-Ed25519 key that is embedded in the ID.
	_, secPub, err := lcrypto.GenerateSecp256k1Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secID, err := peer.IDFromPublicKey(secPub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := secID.ExtractPublicKey(); err != nil {
		t.Fatalf("control: secp256k1 key should be embedded in the peer ID: %v", err)
	}
	if _, err := crypto.PublicKeyFromPeerID(secID); err == nil {
		t.Error("PublicKeyFromPeerID accepted a secp256k1 peer ID")
	}

	// A peer ID that is a hash of the key, not the key.
	hashed := peer.ID(mustSHA256Multihash(t, []byte("some rsa key")))
	if _, err := crypto.PublicKeyFromPeerID(hashed); err == nil {
		t.Error("PublicKeyFromPeerID accepted a hashed peer ID")
	}
	for _, p := range []peer.ID{"", "garbage"} {
		if _, err := crypto.PublicKeyFromPeerID(p); err == nil {
			t.Errorf("PublicKeyFromPeerID(%q) succeeded", string(p))
		}
	}
}

// Keys of small order, and keys in a non-canonical encoding, are refused
// even with a signature that the standard library accepts.
func TestVerifyRejectsWeakKeys(t *testing.T) {
	identity := append([]byte{1}, make([]byte, 31)...)
	// y = p + 1: the identity again, encoded with y out of range.
	nonCanonical := append([]byte{0xee}, bytes.Repeat([]byte{0xff}, 30)...)
	nonCanonical = append(nonCanonical, 0x7f)
	// The other points of order 2, 4 and 8 (from libsodium's list).
	var smallOrder [][]byte
	for _, h := range []string{
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0000000000000000000000000000000000000000000000000000000000000080",
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
	} {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		smallOrder = append(smallOrder, b)
	}
	msg := []byte("anything at all")
	// R = the identity, S = 0: valid for the identity key and any message.
	forged := append(bytes.Clone(identity), make([]byte, 32)...)
	if !ed25519.Verify(identity, signedBytes(crypto.DomainEvent, msg), forged) {
		t.Fatal("the standard library refuses the forgery: the test proves nothing")
	}
	// Twice each: the second answer may come from the cache of checked keys.
	good := seedIdentity(t, 3).PublicKey()
	for round := range 2 {
		for i, pub := range append([][]byte{identity, nonCanonical}, smallOrder...) {
			if crypto.ValidPublicKey(pub) {
				t.Errorf("round %d: key %d (%x) is valid", round, i, pub)
			}
			if err := crypto.Verify(pub, crypto.DomainEvent, msg, forged); !errors.Is(err, crypto.ErrBadSignature) {
				t.Errorf("round %d: key %d (%x): Verify = %v", round, i, pub, err)
			}
		}
		if !crypto.ValidPublicKey(good) {
			t.Fatalf("round %d: a generated key is not valid", round)
		}
		if crypto.ValidPublicKey(good[:31]) {
			t.Fatalf("round %d: a key cut short is valid", round)
		}
	}
}

func signedBytes(d crypto.Domain, msg []byte) []byte {
	return append(append([]byte(d), 0), msg...)
}
