package event_test

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpus in testdata/fuzz")

// corpusSeeds returns the named seed envelopes committed under
// testdata/fuzz/FuzzDecode and testdata/fuzz/FuzzParse. They are made with a
// fixed identity and fixed times, so they are reproducible byte for byte.
func corpusSeeds(t testing.TB) map[string][]byte {
	t.Helper()
	id := seedIdentity(t, 0x01)
	first := mustSign(t, id, event.Body{
		Scope:   testScope(0x5c),
		Seq:     1,
		Time:    1_750_000_000_000,
		Kind:    event.KindGroupMessage,
		Payload: []byte("hello village"),
	})
	second := mustSign(t, id, event.Body{
		Scope:   testScope(0x5c),
		Seq:     2,
		Prev:    first.ID[:],
		Time:    1_750_000_000_001,
		Kind:    event.KindGroupMessage,
		Payload: []byte("second"),
	})
	badVersion := bytes.Clone(first.Raw)
	badVersion[0] = 2
	badSig := bytes.Clone(first.Raw)
	badSig[10] ^= 0x40
	return map[string][]byte{
		"valid-first":       first.Raw,
		"valid-second":      second.Raw,
		"truncated":         first.Raw[:len(first.Raw)-7],
		"bad-version":       badVersion,
		"bad-signature":     badSig,
		"header-only":       first.Raw[:headerSize],
		"garbage":           []byte("\x01this is not an envelope, just some garbage bytes that are long enough to pass the length check"),
		"empty-map-body":    append(bytes.Clone(first.Raw[:headerSize]), 0xa0),
		"indefinite-length": append(append(bytes.Clone(first.Raw[:headerSize]), 0xbf), 0xff),
	}
}

func corpusFile(b []byte) []byte {
	return []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(b))))
}

// TestFuzzSeedCorpus checks that the committed seed corpus is what
// corpusSeeds makes, so that the "valid" seeds stay valid envelopes when the
// format changes. Run with -update-corpus to rewrite it.
func TestFuzzSeedCorpus(t *testing.T) {
	seeds := corpusSeeds(t)
	for _, fuzzer := range []string{"FuzzDecode", "FuzzParse"} {
		dir := filepath.Join("testdata", "fuzz", fuzzer)
		if *updateCorpus {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for name, raw := range seeds {
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
	// The seeds mean what their names say.
	for name, raw := range seeds {
		_, err := event.Decode(raw)
		if valid := strings.HasPrefix(name, "valid-"); valid != (err == nil) {
			t.Errorf("seed %s: Decode error %v", name, err)
		}
	}
}

func addSeeds(f *testing.F) {
	for _, raw := range corpusSeeds(f) {
		f.Add(raw)
	}
	f.Add([]byte{})
	f.Add([]byte{event.Version})
	f.Add(make([]byte, event.MaxEnvelopeSize+1))
}

// FuzzDecode checks that Decode never panics, and that whatever it accepts
// is a consistent, re-decodable event.
func FuzzDecode(f *testing.F) {
	addSeeds(f)
	good := corpusSeeds(f)["valid-second"]
	f.Fuzz(func(t *testing.T, raw []byte) {
		in := bytes.Clone(raw)
		e, err := event.Decode(raw)
		if !bytes.Equal(raw, in) {
			t.Fatal("Decode modified its input")
		}
		// In a batch, beside a good envelope, it is judged the same.
		evs, errs := event.DecodeAll([][]byte{good, raw, good})
		if (errs[1] == nil) != (err == nil) || errs[0] != nil || errs[2] != nil {
			t.Fatalf("Decode says %v, DecodeAll says %v", err, errs)
		}
		if err == nil && evs[1].ID != e.ID {
			t.Fatal("DecodeAll gave another event")
		}
		if err != nil {
			if e != nil {
				t.Fatal("Decode returned an event with an error")
			}
			return
		}
		if len(raw) > event.MaxEnvelopeSize {
			t.Fatalf("Decode accepted %d bytes", len(raw))
		}
		if !bytes.Equal(e.Raw, raw) {
			t.Fatal("Raw is not the input")
		}
		if e.ID != sha256.Sum256(raw[headerSize:]) {
			t.Fatal("ID is not the SHA-256 of the body")
		}
		if len(e.Author) != crypto.PublicKeySize || len(e.Scope) != event.ScopeSize || e.Seq == 0 ||
			len(e.Payload) > event.MaxPayloadSize ||
			(e.Seq == 1 && len(e.Prev) != 0) || (e.Seq > 1 && len(e.Prev) != event.IDSize) {
			t.Fatalf("Decode accepted an invalid body %+v", e.Body)
		}
		if err := crypto.Verify(e.Author, crypto.DomainEvent, raw[headerSize:], e.Sig); err != nil {
			t.Fatalf("accepted event does not verify: %v", err)
		}
		again, err := event.Decode(e.Raw)
		if err != nil {
			t.Fatalf("re-Decode of Raw: %v", err)
		}
		if again.ID != e.ID {
			t.Fatalf("re-Decode ID %s, first %s", again.ID, e.ID)
		}
		if id, ok := event.PeekID(raw); !ok || id != e.ID {
			t.Fatalf("PeekID = %s, %v; ID %s", id, ok, e.ID)
		}
		p, err := event.Parse(raw)
		if err != nil {
			t.Fatalf("Parse rejected what Decode accepted: %v", err)
		}
		if !reflect.DeepEqual(p, e) {
			t.Fatalf("Parse = %+v, Decode = %+v", p, e)
		}
	})
}

// FuzzParse checks that Parse never panics and is consistent with PeekID
// and Decode.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := event.Parse(raw)
		if err != nil {
			if p != nil {
				t.Fatal("Parse returned an event with an error")
			}
			if _, derr := event.Decode(raw); derr == nil {
				t.Fatalf("Decode accepted what Parse rejected: %v", err)
			}
			return
		}
		id, ok := event.PeekID(raw)
		if !ok || id != p.ID {
			t.Fatalf("PeekID = %s, %v; Parse ID %s", id, ok, p.ID)
		}
		if !bytes.Equal(p.Raw, raw) || !bytes.Equal(p.Sig, raw[1:headerSize]) {
			t.Fatal("Parse Raw or Sig is not the input")
		}
		if e, err := event.Decode(raw); err == nil && !reflect.DeepEqual(e, p) {
			t.Fatalf("Decode = %+v, Parse = %+v", e, p)
		}
	})
}
