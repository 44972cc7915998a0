package wallet_test

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/wallet"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpus in testdata/fuzz")

// corpus returns, per fuzz target, the named seeds committed under
// testdata/fuzz. Seeds named "valid-*" must decode; the others must not.
// They are made from fixed identities and times, so they are reproducible
// byte for byte.
func corpus(t testing.TB) map[string]map[string][]byte {
	entries := map[string][]byte{}
	for name, en := range sampleEntries() {
		b, err := en.Encode()
		if err != nil {
			t.Fatal(err)
		}
		entries["valid-"+name] = b
	}
	pay := entries["valid-pay"]
	entries["truncated"] = pay[:len(pay)-3]
	entries["non-canonical-int"] = bytes.Replace(pay, []byte{0x19, 0x04, 0xe2}, []byte{0x1a, 0, 0, 0x04, 0xe2}, 1)
	entries["indefinite-map"] = append(append([]byte{0xbf}, pay[1:]...), 0xff)
	entries["empty-map"] = []byte{0xa0}
	entries["garbage"] = []byte("not cbor at all")
	// A payment naming a request whose ID is not the one of its fields (an
	// amount of 1 for a request of 5), and one naming a request without
	// its expiry.
	em, _ := cbor.CoreDetEncOptions().EncMode()
	good := sampleEntries()["pay-request-id"]
	wrongAmount, _ := em.Marshal(map[int]any{1: uint64(1), 2: cpA[:], 3: uint64(1), 4: testUnit, 5: int64(11), 6: "rice",
		8: good.Nonce[:], 11: good.Expiry, 14: good.Request[:]})
	entries["request-id-mismatch"] = wrongAmount
	noExpiry, _ := em.Marshal(map[int]any{1: uint64(1), 2: cpA[:], 3: uint64(5), 4: testUnit, 5: int64(7), 6: "rice",
		8: good.Nonce[:], 14: good.Request[:]})
	entries["request-without-expiry"] = noExpiry
	shortTag, _ := em.Marshal(map[int]any{1: uint64(6), 2: cpA[:], 4: testUnit, 5: int64(0), 7: refA[:], 16: make([]byte, 31)})
	entries["short-tag"] = shortTag

	req := sampleRequest(t)
	renc := req.Encode()
	badSig := bytes.Clone(renc)
	badSig[len(badSig)-1] ^= 1
	requests := map[string][]byte{
		"valid-request": renc,
		"bad-signature": badSig,
		"truncated":     renc[:len(renc)-10],
		"empty-map":     {0xa0},
	}
	links := map[string][]byte{
		"valid-link":        []byte(req.Link()),
		"valid-bare":        []byte(strings.TrimPrefix(req.Link(), "banyan:")),
		"bad-signature":     []byte(wallet.LinkPrefix + b64(badSig)),
		"wrong-version":     []byte("banyan:pay2." + b64(renc)),
		"invite-not-a-link": []byte("banyan:g1.AAAA"),
	}

	v := newVillage(t, 5, wallet.Config{})
	a, b := copiedDevice(t, v)
	same, err := wallet.NewFraudProof(a[0], b[0])
	if err != nil {
		t.Fatal(err)
	}
	link, err := wallet.NewFraudProof(a[0], b[1])
	if err != nil {
		t.Fatal(err)
	}
	proofs := map[string][]byte{
		"valid-same-position": same.Encode(),
		"valid-broken-link":   link.Encode(),
		"linked":              (&wallet.FraudProof{A: a[0].Raw, B: a[1].Raw}).Encode(),
		"swapped":             (&wallet.FraudProof{A: same.B, B: same.A}).Encode(),
		"one-entry":           (&wallet.FraudProof{A: a[0].Raw, B: a[0].Raw}).Encode(),
		"empty-map":           {0xa0},
	}
	proofTexts := map[string][]byte{
		"valid-text":        []byte(same.Text()),
		"valid-bare":        []byte(strings.TrimPrefix(link.Text(), "banyan:")),
		"valid-spaces":      []byte("  " + same.Text() + "\n"),
		"linked":            []byte(wallet.ProofPrefix + b64(proofs["linked"])),
		"padded":            []byte(same.Text() + "="),
		"wrong-version":     []byte("banyan:fraud2." + b64(same.Encode())),
		"request-not-proof": []byte(req.Link()),
		"truncated":         []byte(same.Text()[:len(same.Text())-7]),
		"not-base64":        []byte(wallet.ProofPrefix + "!!!"),
	}
	return map[string]map[string][]byte{
		"FuzzParseFraudProof":  proofTexts,
		"FuzzDecodeEntry":      entries,
		"FuzzDecodeRequest":    requests,
		"FuzzParseRequestLink": links,
		"FuzzDecodeFraudProof": proofs,
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func corpusFile(target string, b []byte) []byte {
	typ := "[]byte"
	if target == "FuzzParseRequestLink" || target == "FuzzParseFraudProof" {
		typ = "string"
	}
	return []byte(fmt.Sprintf("go test fuzz v1\n%s(%s)\n", typ, strconv.Quote(string(b))))
}

// TestFuzzSeedCorpus checks that the committed seed corpus is what corpus
// makes and that the seeds mean what their names say. Run with
// -update-corpus to rewrite it.
func TestFuzzSeedCorpus(t *testing.T) {
	decode := map[string]func([]byte) error{
		"FuzzDecodeEntry":   func(b []byte) error { _, err := wallet.DecodeEntry(b); return err },
		"FuzzDecodeRequest": func(b []byte) error { _, err := wallet.DecodeRequest(b); return err },
		"FuzzParseRequestLink": func(b []byte) error {
			_, err := wallet.ParseRequestLink(string(b))
			return err
		},
		"FuzzDecodeFraudProof": func(b []byte) error { _, err := wallet.DecodeFraudProof(b); return err },
		"FuzzParseFraudProof": func(b []byte) error {
			_, err := wallet.ParseFraudProof(string(b))
			return err
		},
	}
	for target, seeds := range corpus(t) {
		dir := filepath.Join("testdata", "fuzz", target)
		if *updateCorpus {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for name, b := range seeds {
			if err := decode[target](b); strings.HasPrefix(name, "valid-") != (err == nil) {
				t.Errorf("%s seed %s: error %v", target, name, err)
			}
			path := filepath.Join(dir, name)
			want := corpusFile(target, b)
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

func addSeeds(f *testing.F, target string) {
	for _, b := range corpus(f)[target] {
		if target == "FuzzParseRequestLink" || target == "FuzzParseFraudProof" {
			f.Add(string(b))
		} else {
			f.Add(b)
		}
	}
}

// FuzzDecodeEntry checks that DecodeEntry never panics and that whatever
// it accepts is a valid entry whose canonical encoding is the input.
func FuzzDecodeEntry(f *testing.F) {
	addSeeds(f, "FuzzDecodeEntry")
	f.Add(make([]byte, wallet.MaxEntrySize+1))
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		en, err := wallet.DecodeEntry(b)
		if !bytes.Equal(in, b) {
			t.Fatal("DecodeEntry modified its input")
		}
		if err != nil {
			if en != nil {
				t.Fatal("entry with an error")
			}
			return
		}
		if len(b) > wallet.MaxEntrySize {
			t.Fatalf("accepted %d bytes", len(b))
		}
		if err := en.Validate(); err != nil {
			t.Fatalf("accepted an invalid entry: %v", err)
		}
		again, err := en.Encode()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
		if d := en.Delta(); d > wallet.MaxAmount || d < -wallet.MaxAmount {
			t.Fatalf("delta %d", d)
		}
	})
}

// FuzzDecodeRequest checks DecodeRequest: no panics; what it accepts is
// canonical, signed by its payee, and survives a link round trip.
func FuzzDecodeRequest(f *testing.F) {
	addSeeds(f, "FuzzDecodeRequest")
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := wallet.DecodeRequest(b)
		if err != nil {
			return
		}
		if !bytes.Equal(r.Encode(), b) {
			t.Fatal("accepted a non-canonical request")
		}
		r2, err := wallet.ParseRequestLink(r.Link())
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("link round trip: %v", err)
		}
		if r.Amount == 0 || r.Amount > wallet.MaxAmount || r.Nonce.IsZero() || wallet.ValidUnit(r.Unit) != nil {
			t.Fatalf("accepted an invalid request %+v", r)
		}
	})
}

// FuzzParseRequestLink checks that ParseRequestLink never panics and
// accepts only links whose request re-encodes to the same code.
func FuzzParseRequestLink(f *testing.F) {
	addSeeds(f, "FuzzParseRequestLink")
	f.Add(strings.Repeat("a", wallet.MaxLinkSize+1))
	f.Fuzz(func(t *testing.T, s string) {
		r, err := wallet.ParseRequestLink(s)
		if err != nil {
			return
		}
		link := r.Link()
		code := link[strings.Index(link, "pay1."):]
		if !strings.Contains(s, code) {
			t.Fatalf("accepted %q, which is not %q", s, link)
		}
	})
}

// FuzzDecodeFraudProof checks that DecodeFraudProof never panics and that
// what it accepts verifies alone and proves a fork.
func FuzzDecodeFraudProof(f *testing.F) {
	addSeeds(f, "FuzzDecodeFraudProof")
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := wallet.DecodeFraudProof(b)
		if err != nil {
			return
		}
		if err := p.Verify(); err != nil {
			t.Fatalf("accepted a proof that does not verify: %v", err)
		}
		if !bytes.Equal(p.Encode(), b) {
			t.Fatal("accepted a non-canonical proof")
		}
		x, y, err := p.Events()
		if err != nil || !bytes.Equal(x.Author, y.Author) || x.ID == y.ID {
			t.Fatal("proof events")
		}
		// A ledger holding both entries freezes the author.
		en, _ := wallet.CheckEvent(x)
		l, _ := wallet.NewLedger(wallet.Config{Unit: en.Unit})
		for _, e := range []*event.Event{x, y} {
			if _, err := l.Add(e); err != nil {
				t.Fatal(err)
			}
		}
		if !l.Frozen(p.Author()) {
			t.Fatal("ledger did not freeze the author")
		}
	})
}

// FuzzParseFraudProof checks that ParseFraudProof never panics and that
// what it accepts is a proof that verifies, says who forked and where, and
// whose text is the one given (modulo the scheme and whitespace).
func FuzzParseFraudProof(f *testing.F) {
	addSeeds(f, "FuzzParseFraudProof")
	f.Add(strings.Repeat("a", wallet.MaxProofText+100))
	f.Fuzz(func(t *testing.T, s string) {
		p, err := wallet.ParseFraudProof(s)
		if err != nil {
			return
		}
		info, err := p.Info()
		if err != nil {
			t.Fatalf("accepted a proof without info: %v", err)
		}
		if info.Author != p.Author() || info.A == info.B {
			t.Fatal("proof info")
		}
		text := p.Text()
		if !strings.Contains(s, text[strings.Index(text, "fraud1."):]) {
			t.Fatalf("accepted %.60q, which is not %.60q", s, text)
		}
		if len(text) > wallet.MaxProofText {
			t.Fatalf("text of %d bytes", len(text))
		}
	})
}
