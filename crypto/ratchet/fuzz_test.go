package ratchet

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/banyan-mesh/banyan/crypto"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpus in testdata/fuzz")

// fixture is what the fuzz targets work against, made with fixed identities
// and deterministic randomness so that the committed seeds stay valid.
type fixture struct {
	alice, bob *Keys
	// Bob's sessions with Alice: before her first message, and in the
	// middle of a conversation (with one skipped key).
	empty, mid *Session
	// Seeds for each fuzz target, by name. Names starting with "valid-"
	// are accepted by the target's decoder.
	seeds map[string]map[string][]byte
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	old := randReader
	randReader = mrand.NewChaCha8([32]byte{'f', 'u', 'z', 'z'})
	defer func() { randReader = old }()

	alice, bob, carol := seedKeys(tb, 0xa1), seedKeys(tb, 0xb0), seedKeys(tb, 0xc0)
	a, b := newParty(tb, alice, bob), newParty(tb, bob, alice)
	fx := &fixture{alice: alice, bob: bob, empty: b.sess.Clone()}

	m0, m1 := a.send(tb, "hello bob"), a.send(tb, "second, arrives late")
	b.recv(tb, m0, "hello bob")
	a.recv(tb, b.send(tb, "hello alice"), "hello alice")
	m2, m3, m4 := a.send(tb, "new chain"), a.send(tb, "next"), a.send(tb, "after next")
	b.recv(tb, m2, "new chain") // m1 becomes a skipped key
	fx.mid = b.sess.Clone()

	far := bytes.Clone(m3)
	far[normalPrefix-4] = 0x10 // N = 0x10000001: far beyond MaxSkip
	badType := bytes.Clone(m3)
	badType[1] = 9
	badVersion := bytes.Clone(m3)
	badVersion[0] = 2
	badTag := bytes.Clone(m3)
	badTag[len(badTag)-1] ^= 1
	messages := map[string][]byte{
		"valid-prekey-first": m0,
		"valid-prekey-late":  m1,
		"valid-normal":       m3,
		"valid-normal-ahead": m4,
		"replayed":           m2,
		"far-ahead":          far,
		"bad-type":           badType,
		"bad-version":        badVersion,
		"bad-tag":            badTag,
		"truncated":          m3[:len(m3)-1],
		"header-only":        m0[:prekeyPrefix],
	}

	seal := func(to [KeySize]byte, from *Keys, inner []byte) []byte {
		s, err := Seal(to, from, inner)
		if err != nil {
			tb.Fatal(err)
		}
		return s
	}
	sealed := seal(bob.Bundle().DHKey, alice, m0)
	flipped := bytes.Clone(sealed)
	flipped[100] ^= 1
	badVersion = bytes.Clone(sealed)
	badVersion[0] = 2
	boxes := map[string][]byte{
		"valid-first":       sealed,
		"valid-empty-inner": seal(bob.Bundle().DHKey, alice, nil),
		"valid-from-self":   seal(bob.Bundle().DHKey, bob, []byte("note to self")),
		"valid-two-buckets": seal(bob.Bundle().DHKey, alice, bytes.Repeat([]byte{'x'}, 300)),
		"to-carol":          seal(carol.Bundle().DHKey, alice, m0),
		"flipped":           flipped,
		"bad-version":       badVersion,
		"truncated":         sealed[:len(sealed)-1],
		"short":             sealed[:sealMinSize-SealPadding],
	}

	// A full session: MaxStates states (alice restarted), retired base
	// keys and skipped keys.
	full := newParty(tb, bob, alice)
	for i := range MaxStates + 2 {
		ai := newParty(tb, alice, bob)
		ai.send(tb, fmt.Sprint("x", i)) // never arrives: a skipped key
		full.recv(tb, ai.send(tb, fmt.Sprint("y", i)), fmt.Sprint("y", i))
	}
	if len(full.sess.states) != MaxStates || len(full.sess.retired) != 2 || len(full.sess.skipped) != MaxStates+2 {
		tb.Fatalf("full session: %d states, %d retired, %d skipped", len(full.sess.states), len(full.sess.retired), len(full.sess.skipped))
	}
	midRaw := mustMarshal(tb, fx.mid)
	badFlags := bytes.Clone(midRaw)
	badFlags[sessionFixed+1] = 0x04
	states := map[string][]byte{
		"valid-empty": mustMarshal(tb, fx.empty),
		"valid-mid":   midRaw,
		"valid-alice": mustMarshal(tb, a.sess),
		"valid-full":  mustMarshal(tb, full.sess),
		"truncated":   midRaw[:len(midRaw)-1],
		"trailing":    append(bytes.Clone(midRaw), 0),
		"bad-version": append([]byte{9}, midRaw[1:]...),
		"bad-flags":   badFlags,
	}

	bundle := alice.Bundle().Encode()
	badSig := bytes.Clone(bundle)
	badSig[BundleSize-1] ^= 1
	reordered := append([]byte{0xa3}, bundle[36:71]...)
	reordered = append(append(reordered, bundle[1:36]...), bundle[71:]...)
	unknownKey := append([]byte{0xa4}, bundle[1:]...)
	unknownKey = append(unknownKey, 0x04, 0x40)
	bundles := map[string][]byte{
		"valid-alice":   bundle,
		"valid-bob":     bob.Bundle().Encode(),
		"bad-signature": badSig,
		"reordered":     reordered,
		"unknown-key":   unknownKey,
		"truncated":     bundle[:BundleSize-1],
		"indefinite":    append(append([]byte{0xbf}, bundle[1:]...), 0xff),
	}

	fx.seeds = map[string]map[string][]byte{
		"FuzzDecodeBundle":     bundles,
		"FuzzDecrypt":          messages,
		"FuzzOpen":             boxes,
		"FuzzUnmarshalSession": states,
	}
	return fx
}

func corpusFile(b []byte) []byte {
	return []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(b))))
}

// accepts reports whether the decoder behind a fuzz target accepts in.
func (fx *fixture) accepts(fuzzer string, in []byte) error {
	switch fuzzer {
	case "FuzzDecodeBundle":
		_, err := DecodeBundle(in)
		return err
	case "FuzzDecrypt":
		_, err := fx.empty.Clone().Decrypt(fx.bob, in, nil)
		if err != nil {
			_, err = fx.mid.Clone().Decrypt(fx.bob, in, nil)
		}
		return err
	case "FuzzOpen":
		_, _, err := Open(fx.bob, in)
		return err
	case "FuzzUnmarshalSession":
		var s Session
		return s.UnmarshalBinary(in)
	}
	panic(fuzzer)
}

// TestFuzzSeedCorpus checks that the committed seed corpus is what
// newFixture makes, and that each seed means what its name says. Run with
// -update-corpus to rewrite it.
func TestFuzzSeedCorpus(t *testing.T) {
	fx := newFixture(t)
	for fuzzer, seeds := range fx.seeds {
		dir := filepath.Join("testdata", "fuzz", fuzzer)
		if *updateCorpus {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for name, raw := range seeds {
			err := fx.accepts(fuzzer, raw)
			if valid := strings.HasPrefix(name, "valid-"); valid != (err == nil) {
				t.Errorf("%s seed %s: error %v", fuzzer, name, err)
			}
			path := filepath.Join(dir, name)
			want := corpusFile(raw)
			if *updateCorpus {
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("seed corpus: %v (run go test -run TestFuzzSeedCorpus -update-corpus)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("seed %s is stale (run go test -run TestFuzzSeedCorpus -update-corpus)", path)
			}
		}
	}
}

// FuzzDecodeBundle checks that DecodeBundle never panics and accepts only
// verified bundles in canonical form.
func FuzzDecodeBundle(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		in := bytes.Clone(raw)
		b, err := DecodeBundle(raw)
		if !bytes.Equal(raw, in) {
			t.Fatal("DecodeBundle modified its input")
		}
		if err != nil {
			if b != (Bundle{}) {
				t.Fatal("DecodeBundle returned a bundle with an error")
			}
			return
		}
		if err := b.Verify(); err != nil {
			t.Fatalf("accepted bundle does not verify: %v", err)
		}
		if !bytes.Equal(b.Encode(), raw) {
			t.Fatal("accepted bundle is not in canonical form")
		}
	})
}

// FuzzDecrypt feeds ratchet messages to Bob's sessions with Alice. It checks
// that decryption never panics, that a failure leaves the session as it
// was, and that what is accepted parses consistently and cannot be accepted
// twice.
func FuzzDecrypt(f *testing.F) {
	fx := newFixture(f)
	f.Add([]byte{})
	f.Add([]byte{msgVersion, typeNormal})
	f.Fuzz(func(t *testing.T, raw []byte) {
		in := bytes.Clone(raw)
		if m, err := parseMessage(raw); err == nil {
			if !bytes.Equal(m.appendPrefix(nil), m.prefix) || len(m.prefix)+len(m.ct) != len(raw) || len(m.ct) < msgOverhead {
				t.Fatalf("parseMessage is inconsistent: %+v", m)
			}
		}
		for _, orig := range []*Session{fx.empty, fx.mid} {
			s := orig.Clone()
			before := mustMarshal(t, s)
			pt, err := s.Decrypt(fx.bob, raw, nil)
			if !bytes.Equal(raw, in) {
				t.Fatal("Decrypt modified its input")
			}
			if err != nil {
				if pt != nil {
					t.Fatal("Decrypt returned a plaintext with an error")
				}
				if !bytes.Equal(mustMarshal(t, s), before) {
					t.Fatalf("a failed Decrypt (%v) changed the session", err)
				}
				continue
			}
			m, perr := parseMessage(raw)
			if perr != nil {
				t.Fatalf("Decrypt accepted what parseMessage rejects: %v", perr)
			}
			if len(pt) != len(m.ct)-msgOverhead {
				t.Fatalf("plaintext is %d bytes from a %d-byte ciphertext", len(pt), len(m.ct))
			}
			if _, err := s.Decrypt(fx.bob, raw, nil); err == nil {
				t.Fatal("a message was accepted twice")
			}
			after := mustMarshal(t, s)
			if len(after) > MaxSessionSize || !bytes.Equal(mustMarshal(t, mustUnmarshal(t, after)), after) {
				t.Fatal("the session after Decrypt does not round-trip")
			}
		}
	})
}

// FuzzOpen checks that Open never panics and that what it accepts is
// consistent: a verified sender, an inner message that fits, and a box of
// exactly the size Seal would make.
func FuzzOpen(f *testing.F) {
	bob := seedKeys(f, 0xb0)
	f.Add([]byte{})
	f.Add(make([]byte, sealMinSize))
	f.Fuzz(func(t *testing.T, sealed []byte) {
		in := bytes.Clone(sealed)
		from, inner, err := Open(bob, sealed)
		if !bytes.Equal(sealed, in) {
			t.Fatal("Open modified its input")
		}
		if err != nil {
			if inner != nil || from != (Bundle{}) {
				t.Fatal("Open returned data with an error")
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) && !isAuthError(err) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if err := from.Verify(); err != nil {
			t.Fatalf("unverified sender: %v", err)
		}
		if len(inner) > MaxInnerSize || SealedSize(len(inner)) != len(sealed) {
			t.Fatalf("inner of %d bytes in a box of %d", len(inner), len(sealed))
		}
	})
}

// FuzzUnmarshalSession checks that UnmarshalBinary never panics, accepts
// only the canonical encoding, and gives sessions that can be used without
// panicking.
func FuzzUnmarshalSession(f *testing.F) {
	fx := newFixture(f)
	msg := fx.seeds["FuzzDecrypt"]["valid-normal"]
	f.Add([]byte{})
	f.Add([]byte{stateVersion})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Session
		if err := s.UnmarshalBinary(data); err != nil {
			return
		}
		if len(data) > MaxSessionSize {
			t.Fatalf("accepted %d bytes", len(data))
		}
		if !bytes.Equal(mustMarshal(t, &s), data) {
			t.Fatal("accepted a non-canonical encoding")
		}
		if s.self == fx.bob.bundle.IdentityKey {
			_, _ = s.Clone().Encrypt(fx.bob, []byte("x"), nil)
			_, _ = s.Clone().Decrypt(fx.bob, msg, nil)
		}
	})
}

func isAuthError(err error) bool {
	return errors.Is(err, crypto.ErrDecrypt) || errors.Is(err, crypto.ErrBadSignature)
}
