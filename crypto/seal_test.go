package crypto_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/banyan-mesh/banyan/crypto"
)

// mustSHA256Multihash returns the sha2-256 multihash of b (code 0x12,
// length 0x20), the form of a peer ID that does not embed its key.
func mustSHA256Multihash(t testing.TB, b []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(b)
	return append([]byte{0x12, 0x20}, sum[:]...)
}

func testKey(b byte) [crypto.KeySize]byte {
	var k [crypto.KeySize]byte
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

func TestNewKey(t *testing.T) {
	a, err := crypto.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := crypto.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two random keys are equal")
	}
	if a == ([crypto.KeySize]byte{}) {
		t.Fatal("random key is all zeros")
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	key := testKey(1)
	tests := []struct {
		name string
		pt   []byte
		ad   []byte
	}{
		{"empty plaintext nil ad", nil, nil},
		{"empty plaintext", []byte{}, []byte("ad")},
		{"one byte", []byte{0x42}, []byte("ad")},
		{"text", []byte("hello, village"), []byte("scope|author|seq")},
		{"256 bytes", bytes.Repeat([]byte{0xaa}, 256), nil},
		{"64 KiB", bytes.Repeat([]byte{0x55}, 64<<10), []byte("x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := crypto.Seal(key, tt.pt, tt.ad)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if got, want := len(sealed), len(tt.pt)+crypto.SealOverhead; got != want {
				t.Fatalf("sealed is %d bytes, want %d", got, want)
			}
			if len(tt.pt) >= 8 && bytes.Contains(sealed, tt.pt) {
				t.Fatal("sealed output contains the plaintext")
			}
			pt, err := crypto.Open(key, sealed, tt.ad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(pt, tt.pt) {
				t.Fatalf("Open = %x, want %x", pt, tt.pt)
			}
		})
	}
}

func TestSealIsRandomized(t *testing.T) {
	key := testKey(2)
	pt := []byte("same message")
	a, err := crypto.Seal(key, pt, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := crypto.Seal(key, pt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Fatal("two seals of one message are identical (nonce reuse?)")
	}
	if bytes.Equal(a[:24], b[:24]) {
		t.Fatal("two seals share a nonce")
	}
}

func TestSealDoesNotAliasPlaintext(t *testing.T) {
	key := testKey(3)
	pt := make([]byte, 32, 128) // spare capacity that Seal must not write into
	copy(pt, "do not touch")
	orig := bytes.Clone(pt)
	if _, err := crypto.Seal(key, pt, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pt, orig) {
		t.Fatal("Seal modified its plaintext argument")
	}
}

func TestOpenRejects(t *testing.T) {
	key := testKey(4)
	pt := []byte("meet at the well at noon")
	ad := []byte("group-ad")
	sealed, err := crypto.Seal(key, pt, ad)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		key    [crypto.KeySize]byte
		sealed []byte
		ad     []byte
	}{
		{"wrong key", testKey(5), sealed, ad},
		{"zero key", [crypto.KeySize]byte{}, sealed, ad},
		{"different ad", key, sealed, []byte("group-ae")},
		{"missing ad", key, sealed, nil},
		{"extended ad", key, sealed, append(bytes.Clone(ad), 0)},
		{"truncated", key, sealed[:len(sealed)-1], ad},
		{"extended", key, append(bytes.Clone(sealed), 0), ad},
		{"nonce only", key, sealed[:24], ad},
		{"nil", key, nil, ad},
		{"empty", key, []byte{}, ad},
		{"one short of overhead", key, make([]byte, crypto.SealOverhead-1), ad},
		{"exactly overhead of zeros", key, make([]byte, crypto.SealOverhead), ad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := crypto.Open(tt.key, tt.sealed, tt.ad)
			if !errors.Is(err, crypto.ErrDecrypt) {
				t.Fatalf("Open = %v, want ErrDecrypt", err)
			}
			if got != nil {
				t.Fatal("Open returned plaintext with an error")
			}
		})
	}
	if _, err := crypto.Open(key, sealed, ad); err != nil {
		t.Fatalf("control: %v", err)
	}
}

func TestOpenRejectsShortInputs(t *testing.T) {
	key := testKey(6)
	for n := 0; n <= crypto.SealOverhead; n++ {
		if _, err := crypto.Open(key, make([]byte, n), nil); !errors.Is(err, crypto.ErrDecrypt) {
			t.Fatalf("Open(%d bytes) = %v, want ErrDecrypt", n, err)
		}
	}
}

// TestOpenRejectsEveryBitFlip flips each bit of a sealed message in turn:
// nonce, ciphertext and tag are all authenticated.
func TestOpenRejectsEveryBitFlip(t *testing.T) {
	key := testKey(7)
	ad := []byte("ad")
	sealed, err := crypto.Seal(key, []byte("short"), ad)
	if err != nil {
		t.Fatal(err)
	}
	for i := range sealed {
		for bit := range 8 {
			c := bytes.Clone(sealed)
			c[i] ^= 1 << bit
			if _, err := crypto.Open(key, c, ad); !errors.Is(err, crypto.ErrDecrypt) {
				t.Fatalf("flip of byte %d bit %d: Open = %v, want ErrDecrypt", i, bit, err)
			}
		}
	}
}

func TestGroupScope(t *testing.T) {
	var id1, id2 [crypto.GroupIDSize]byte
	id1[0], id2[0] = 1, 2
	k1, k2 := testKey(10), testKey(11)

	s := crypto.GroupScope(id1, k1)
	if s != crypto.GroupScope(id1, k1) {
		t.Fatal("GroupScope is not deterministic")
	}
	if s == crypto.GroupScope(id2, k1) {
		t.Fatal("GroupScope ignores the group ID")
	}
	if s == crypto.GroupScope(id1, k2) {
		t.Fatal("GroupScope ignores the key")
	}
	if s == ([32]byte{}) {
		t.Fatal("GroupScope is zero")
	}

	// Known answer: the derivation is part of the wire protocol, so pin it.
	h := sha256.New()
	h.Write([]byte("banyan/group-scope/v1\x00"))
	h.Write(id1[:])
	h.Write(k1[:])
	var want [32]byte
	h.Sum(want[:0])
	if s != want {
		t.Fatalf("GroupScope = %x, want %x", s, want)
	}
}

func TestGroupAD(t *testing.T) {
	scope := bytes.Repeat([]byte{1}, 32)
	scope2 := bytes.Repeat([]byte{2}, 32)
	author := bytes.Repeat([]byte{3}, 32)
	author2 := bytes.Repeat([]byte{4}, 32)

	base := crypto.GroupAD(scope, author, 7)
	if !bytes.Equal(base, crypto.GroupAD(scope, author, 7)) {
		t.Fatal("GroupAD is not deterministic")
	}
	others := map[string][]byte{
		"other scope":  crypto.GroupAD(scope2, author, 7),
		"other author": crypto.GroupAD(scope, author2, 7),
		"next seq":     crypto.GroupAD(scope, author, 8),
		"seq 0":        crypto.GroupAD(scope, author, 0),
		"high seq bit": crypto.GroupAD(scope, author, 7|1<<63),
	}
	for name, ad := range others {
		if bytes.Equal(ad, base) {
			t.Errorf("%s: GroupAD unchanged", name)
		}
	}

	// Known answer, as the AD is part of the wire protocol.
	want := append([]byte("banyan/group-msg/v1\x00"), scope...)
	want = append(want, author...)
	want = binary.BigEndian.AppendUint64(want, 7)
	if !bytes.Equal(base, want) {
		t.Fatalf("GroupAD = %x, want %x", base, want)
	}

	// A ciphertext bound to one position does not open at another.
	key := testKey(12)
	sealed, err := crypto.Seal(key, []byte("hi"), base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crypto.Open(key, sealed, base); err != nil {
		t.Fatalf("Open with the same AD: %v", err)
	}
	for name, ad := range others {
		if _, err := crypto.Open(key, sealed, ad); !errors.Is(err, crypto.ErrDecrypt) {
			t.Errorf("%s: Open = %v, want ErrDecrypt", name, err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	id := seedIdentity(b, 1)
	msg := bytes.Repeat([]byte{0x5a}, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		id.Sign(crypto.DomainEvent, msg)
	}
}

func BenchmarkVerify(b *testing.B) {
	id := seedIdentity(b, 1)
	msg := bytes.Repeat([]byte{0x5a}, 256)
	sig := id.Sign(crypto.DomainEvent, msg)
	pub := id.PublicKey()
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if err := crypto.Verify(pub, crypto.DomainEvent, msg, sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSeal(b *testing.B) {
	key := testKey(1)
	pt := bytes.Repeat([]byte{0x5a}, 256)
	ad := crypto.GroupAD(make([]byte, 32), make([]byte, 32), 1)
	b.ReportAllocs()
	b.SetBytes(int64(len(pt)))
	for b.Loop() {
		if _, err := crypto.Seal(key, pt, ad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	key := testKey(1)
	pt := bytes.Repeat([]byte{0x5a}, 256)
	ad := crypto.GroupAD(make([]byte, 32), make([]byte, 32), 1)
	sealed, err := crypto.Seal(key, pt, ad)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(pt)))
	for b.Loop() {
		if _, err := crypto.Open(key, sealed, ad); err != nil {
			b.Fatal(err)
		}
	}
}
