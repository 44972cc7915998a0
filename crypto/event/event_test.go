package event_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
)

const headerSize = 1 + crypto.SignatureSize

// seedIdentity returns a reproducible identity whose seed is 32 copies of b.
func seedIdentity(t testing.TB, b byte) *crypto.Identity {
	t.Helper()
	id, err := crypto.IdentityFromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatalf("IdentityFromSeed: %v", err)
	}
	return id
}

func testScope(b byte) []byte { return bytes.Repeat([]byte{b}, event.ScopeSize) }

// firstBody is a valid body for the first event of a chain.
func firstBody(payload []byte) event.Body {
	return event.Body{
		Scope:   testScope(0xcc),
		Seq:     1,
		Time:    1_700_000_000_000,
		Kind:    event.KindGroupMessage,
		Payload: payload,
	}
}

func mustSign(t testing.TB, id *crypto.Identity, b event.Body) *event.Event {
	t.Helper()
	e, err := event.Sign(id, b)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return e
}

// envelope assembles version || signature || body, signing body with id
// so that the signature over a hand-made (possibly invalid) body is valid.
func envelope(id *crypto.Identity, body []byte) []byte {
	raw := []byte{event.Version}
	raw = append(raw, id.Sign(crypto.DomainEvent, body)...)
	return append(raw, body...)
}

var detEnc = func() cbor.EncMode {
	m, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return m
}()

func encode(t testing.TB, v any) []byte {
	t.Helper()
	b, err := detEnc.Marshal(v)
	if err != nil {
		t.Fatalf("cbor encode: %v", err)
	}
	return b
}

func assertSameEvent(t *testing.T, got, want *event.Event) {
	t.Helper()
	if got.ID != want.ID {
		t.Errorf("ID = %s, want %s", got.ID, want.ID)
	}
	if !bytes.Equal(got.Raw, want.Raw) {
		t.Errorf("Raw differs")
	}
	if !bytes.Equal(got.Sig, want.Sig) {
		t.Errorf("Sig differs")
	}
	if !bytes.Equal(got.Author, want.Author) || !bytes.Equal(got.Scope, want.Scope) ||
		got.Seq != want.Seq || !bytes.Equal(got.Prev, want.Prev) || got.Time != want.Time ||
		got.Kind != want.Kind || !bytes.Equal(got.Payload, want.Payload) {
		t.Errorf("Body = %+v, want %+v", got.Body, want.Body)
	}
}

func TestSignDecodeRoundTrip(t *testing.T) {
	id := seedIdentity(t, 1)
	first := mustSign(t, id, firstBody([]byte("hello")))
	tests := []struct {
		name string
		body event.Body
	}{
		{"first", firstBody([]byte("hello"))},
		{"second with prev", event.Body{Scope: testScope(1), Seq: 2, Prev: first.ID[:], Time: 5, Kind: 1, Payload: []byte("x")}},
		{"one-byte payload", firstBody([]byte{0})},
		{"max payload", firstBody(bytes.Repeat([]byte{0xfe}, event.MaxPayloadSize))},
		{"negative time", event.Body{Scope: testScope(2), Seq: 1, Time: -1, Kind: 9, Payload: []byte("p")}},
		{"zero time and kind", event.Body{Scope: testScope(3), Seq: 1, Payload: []byte("p")}},
		{"huge seq", event.Body{Scope: testScope(4), Seq: ^uint64(0), Prev: first.ID[:], Time: 1 << 62, Kind: 0xffff, Payload: []byte("p")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustSign(t, id, tt.body)
			if !bytes.Equal(e.Author, id.PublicKey()) {
				t.Fatal("Sign did not set the author")
			}
			if e.Raw[0] != event.Version {
				t.Fatalf("version byte %d", e.Raw[0])
			}
			if len(e.Raw) > event.MaxEnvelopeSize {
				t.Fatalf("envelope of %d bytes exceeds the limit", len(e.Raw))
			}
			if !bytes.Equal(e.Sig, e.Raw[1:headerSize]) {
				t.Fatal("Sig is not the envelope's signature field")
			}
			d, err := event.Decode(bytes.Clone(e.Raw))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			assertSameEvent(t, d, e)
			if !d.SameAuthor(id.PublicKey()) {
				t.Error("SameAuthor(signer) = false")
			}
			if d.SameAuthor(seedIdentity(t, 2).PublicKey()) {
				t.Error("SameAuthor(other) = true")
			}
			if s := d.ScopeID(); !bytes.Equal(s[:], tt.body.Scope) {
				t.Errorf("ScopeID = %x", s)
			}
			var wantPrev event.ID
			copy(wantPrev[:], tt.body.Prev)
			if p := d.PrevID(); p != wantPrev {
				t.Errorf("PrevID = %s, want %s", p, wantPrev)
			}
		})
	}
}

func TestSignOverridesAuthor(t *testing.T) {
	id := seedIdentity(t, 1)
	b := firstBody([]byte("p"))
	b.Author = seedIdentity(t, 2).PublicKey()
	e := mustSign(t, id, b)
	if !bytes.Equal(e.Author, id.PublicKey()) {
		t.Fatal("Sign kept the caller's author instead of the signer's key")
	}
	if _, err := event.Decode(e.Raw); err != nil {
		t.Fatalf("Decode: %v", err)
	}
}

func TestIDIsSHA256OfBody(t *testing.T) {
	id := seedIdentity(t, 1)
	e := mustSign(t, id, firstBody([]byte("payload")))
	if want := event.ID(sha256.Sum256(e.Raw[headerSize:])); e.ID != want {
		t.Fatalf("ID = %s, want SHA-256 of body %s", e.ID, want)
	}
	// Signing is deterministic, so the same body gives the same envelope.
	again := mustSign(t, id, firstBody([]byte("payload")))
	if again.ID != e.ID || !bytes.Equal(again.Raw, e.Raw) {
		t.Fatal("signing the same body twice gave another envelope")
	}
	// Decoding twice gives the same ID.
	d1, err := event.Decode(e.Raw)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := event.Decode(e.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if d1.ID != e.ID || d2.ID != e.ID {
		t.Fatal("Decode gave another ID")
	}
	// Any change of content changes the ID.
	for name, b := range map[string]event.Body{
		"payload": firstBody([]byte("payload2")),
		"time":    func() event.Body { b := firstBody([]byte("payload")); b.Time++; return b }(),
		"kind":    func() event.Body { b := firstBody([]byte("payload")); b.Kind++; return b }(),
		"scope":   func() event.Body { b := firstBody([]byte("payload")); b.Scope = testScope(1); return b }(),
	} {
		if mustSign(t, id, b).ID == e.ID {
			t.Errorf("changing %s kept the ID", name)
		}
	}
	if mustSign(t, seedIdentity(t, 2), firstBody([]byte("payload"))).ID == e.ID {
		t.Error("another author gave the same ID")
	}
}

// TestDecodeRejectsEveryBitFlip flips every bit of a small envelope in turn.
// The version byte, the signature and the signed body are all covered, so no
// flipped envelope may decode.
func TestDecodeRejectsEveryBitFlip(t *testing.T) {
	id := seedIdentity(t, 1)
	first := mustSign(t, id, firstBody([]byte("a")))
	for _, e := range []*event.Event{
		first,
		mustSign(t, id, event.Body{Scope: testScope(1), Seq: 2, Prev: first.ID[:], Time: 1, Kind: 1, Payload: []byte("hi")}),
	} {
		for i := range e.Raw {
			for bit := range 8 {
				raw := bytes.Clone(e.Raw)
				raw[i] ^= 1 << bit
				d, err := event.Decode(raw)
				if err == nil {
					t.Fatalf("envelope with byte %d bit %d flipped decoded as %+v", i, bit, d.Body)
				}
				if d != nil {
					t.Fatalf("byte %d bit %d: Decode returned an event with an error", i, bit)
				}
				switch {
				case i == 0:
					if !errors.Is(err, event.ErrBadVersion) {
						t.Fatalf("version flip: %v, want ErrBadVersion", err)
					}
				case i < headerSize:
					if !errors.Is(err, crypto.ErrBadSignature) {
						t.Fatalf("signature byte %d bit %d: %v, want ErrBadSignature", i, bit, err)
					}
				default:
					if !errors.Is(err, event.ErrMalformed) && !errors.Is(err, crypto.ErrBadSignature) && !errors.Is(err, event.ErrTooLarge) {
						t.Fatalf("body byte %d bit %d: unexpected error %v", i, bit, err)
					}
				}
			}
		}
	}
}

func TestDecodeSizeAndVersion(t *testing.T) {
	id := seedIdentity(t, 1)
	valid := mustSign(t, id, firstBody([]byte("x"))).Raw
	withVersion := func(v byte) []byte {
		r := bytes.Clone(valid)
		r[0] = v
		return r
	}
	tests := []struct {
		name string
		raw  []byte
		want error
	}{
		{"nil", nil, event.ErrMalformed},
		{"empty", []byte{}, event.ErrMalformed},
		{"version only", []byte{event.Version}, event.ErrMalformed},
		{"header only", valid[:headerSize], event.ErrMalformed},
		{"truncated body", valid[:len(valid)-1], event.ErrMalformed},
		{"one body byte", valid[:headerSize+1], event.ErrMalformed},
		{"trailing byte", append(bytes.Clone(valid), 0), event.ErrMalformed},
		{"version 0", withVersion(0), event.ErrBadVersion},
		{"version 2", withVersion(2), event.ErrBadVersion},
		{"version 255", withVersion(255), event.ErrBadVersion},
		{"one over the limit", make([]byte, event.MaxEnvelopeSize+1), event.ErrTooLarge},
		{"far over the limit", make([]byte, 1<<20), event.ErrTooLarge},
		{"valid envelope padded over the limit", append(bytes.Clone(valid), make([]byte, event.MaxEnvelopeSize)...), event.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := event.Decode(tt.raw)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode = %v, want %v", err, tt.want)
			}
			if e != nil {
				t.Fatal("Decode returned an event with an error")
			}
		})
	}
}

func TestSignRejectsOversize(t *testing.T) {
	id := seedIdentity(t, 1)
	_, err := event.Sign(id, firstBody(make([]byte, event.MaxPayloadSize+1)))
	if !errors.Is(err, event.ErrTooLarge) {
		t.Fatalf("Sign with oversize payload = %v, want ErrTooLarge", err)
	}
}

// TestCheckViolations feeds each invalid body to Sign and, signed by hand
// with a valid signature, to Decode: both must reject it.
func TestCheckViolations(t *testing.T) {
	id := seedIdentity(t, 1)
	prev := bytes.Repeat([]byte{9}, event.IDSize)
	valid := func() event.Body {
		b := firstBody([]byte("p"))
		b.Author = id.PublicKey()
		return b
	}
	tests := []struct {
		name       string
		mutate     func(*event.Body)
		want       error
		signerOnly bool // Sign overrides Author, so only Decode sees it
	}{
		{"seq 0", func(b *event.Body) { b.Seq = 0 }, event.ErrMalformed, false},
		{"seq 0 with prev", func(b *event.Body) { b.Seq = 0; b.Prev = prev }, event.ErrMalformed, false},
		{"seq 1 with prev", func(b *event.Body) { b.Prev = prev }, event.ErrMalformed, false},
		{"seq 2 without prev", func(b *event.Body) { b.Seq = 2 }, event.ErrMalformed, false},
		{"seq 2 short prev", func(b *event.Body) { b.Seq = 2; b.Prev = prev[:31] }, event.ErrMalformed, false},
		{"seq 2 long prev", func(b *event.Body) { b.Seq = 2; b.Prev = append(bytes.Clone(prev), 0) }, event.ErrMalformed, false},
		{"no scope", func(b *event.Body) { b.Scope = nil }, event.ErrMalformed, false},
		{"short scope", func(b *event.Body) { b.Scope = testScope(1)[:31] }, event.ErrMalformed, false},
		{"long scope", func(b *event.Body) { b.Scope = append(testScope(1), 1) }, event.ErrMalformed, false},
		{"payload too large", func(b *event.Body) { b.Payload = make([]byte, event.MaxPayloadSize+1) }, event.ErrTooLarge, false},
		{"nil payload", func(b *event.Body) { b.Payload = nil }, event.ErrMalformed, false},
		{"empty payload", func(b *event.Body) { b.Payload = []byte{} }, event.ErrMalformed, false},
		{"no author", func(b *event.Body) { b.Author = nil }, event.ErrMalformed, true},
		{"short author", func(b *event.Body) { b.Author = b.Author[:31] }, event.ErrMalformed, true},
		{"long author", func(b *event.Body) { b.Author = append(bytes.Clone(b.Author), 0) }, event.ErrMalformed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := valid()
			tt.mutate(&b)
			if !tt.signerOnly {
				e, err := event.Sign(id, b)
				if !errors.Is(err, tt.want) {
					t.Fatalf("Sign = %v, want %v", err, tt.want)
				}
				if e != nil {
					t.Fatal("Sign returned an event with an error")
				}
			}
			body := encode(t, &b)
			raw := envelope(id, body)
			if len(raw) > event.MaxEnvelopeSize {
				// An oversize payload can make the whole envelope too
				// large; Decode then stops at the size check.
				if _, err := event.Decode(raw); !errors.Is(err, event.ErrTooLarge) {
					t.Fatalf("Decode = %v, want ErrTooLarge", err)
				}
				return
			}
			// The signature is valid: the rejection is the body check's.
			if err := crypto.Verify(id.PublicKey(), crypto.DomainEvent, body, raw[1:headerSize]); err != nil {
				t.Fatalf("control: hand-made signature does not verify: %v", err)
			}
			e, err := event.Decode(raw)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode = %v, want %v", err, tt.want)
			}
			if e != nil {
				t.Fatal("Decode returned an event with an error")
			}
		})
	}

	// The control: the valid body, built the same way by hand, decodes. This
	// also pins that the hand encoding equals Sign's encoding.
	b := valid()
	raw := envelope(id, encode(t, &b))
	e, err := event.Decode(raw)
	if err != nil {
		t.Fatalf("control Decode: %v", err)
	}
	if signed := mustSign(t, id, b); !bytes.Equal(signed.Raw, raw) {
		t.Fatal("hand-made envelope differs from Sign's")
	}
	if !bytes.Equal(e.Author, id.PublicKey()) {
		t.Fatal("control: wrong author")
	}
}

// TestDecodePayloadLimit checks the payload limit inside an envelope that is
// itself under the envelope limit: the body check, not the size check,
// rejects it.
func TestDecodePayloadLimit(t *testing.T) {
	id := seedIdentity(t, 1)
	for _, tc := range []struct {
		n    int
		want error
	}{{event.MaxPayloadSize, nil}, {event.MaxPayloadSize + 1, event.ErrTooLarge}} {
		b := firstBody(make([]byte, tc.n))
		b.Author = id.PublicKey()
		raw := envelope(id, encode(t, &b))
		if len(raw) > event.MaxEnvelopeSize {
			t.Fatalf("test envelope of %d bytes is over the limit", len(raw))
		}
		_, err := event.Decode(raw)
		if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
			t.Fatalf("payload %d: Decode = %v, want %v", tc.n, err, tc.want)
		}
	}
}

func TestDecodeRejectsBadSignature(t *testing.T) {
	id := seedIdentity(t, 1)
	other := seedIdentity(t, 2)
	b := firstBody([]byte("p"))
	b.Author = id.PublicKey()
	body := encode(t, &b)

	signWith := func(sig []byte) []byte {
		raw := append([]byte{event.Version}, sig...)
		return append(raw, body...)
	}
	tests := []struct {
		name string
		raw  []byte
	}{
		{"signed by another key", envelope(other, body)},
		{"signed in another domain", signWith(id.Sign(crypto.Domain("banyan/other/v1"), body))},
		{"zero signature", signWith(make([]byte, crypto.SignatureSize))},
		{"signature of another body", signWith(id.Sign(crypto.DomainEvent, append(bytes.Clone(body), 0)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := event.Decode(tt.raw); !errors.Is(err, crypto.ErrBadSignature) {
				t.Fatalf("Decode = %v, want ErrBadSignature", err)
			}
			// Parse trusts its input: it does not check the signature.
			p, err := event.Parse(tt.raw)
			if err != nil {
				t.Fatalf("Parse = %v", err)
			}
			if p.ID != sha256.Sum256(body) {
				t.Fatal("Parse ID is not the body hash")
			}
		})
	}
	// Swapping the signature of another valid event in does not help.
	e1 := mustSign(t, id, firstBody([]byte("one")))
	e2 := mustSign(t, id, firstBody([]byte("two")))
	swapped := append(append([]byte{event.Version}, e1.Sig...), e2.Raw[headerSize:]...)
	if _, err := event.Decode(swapped); !errors.Is(err, crypto.ErrBadSignature) {
		t.Fatalf("swapped signature: Decode = %v, want ErrBadSignature", err)
	}
}

// TestDecodeRejectsBadCBOR hand-builds bodies that are validly signed but are
// not an acceptable encoding of Body.
func TestDecodeRejectsBadCBOR(t *testing.T) {
	id := seedIdentity(t, 1)
	pub := id.PublicKey()
	scope := testScope(5)

	fields := func(extra map[int]any) map[int]any {
		m := map[int]any{1: pub, 2: scope, 3: uint64(1), 5: int64(1), 6: uint64(1), 7: []byte("p")}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	// Sanity: the map form without extras decodes.
	if _, err := event.Decode(envelope(id, encode(t, fields(nil)))); err != nil {
		t.Fatalf("control: map-built body does not decode: %v", err)
	}

	// A map with a repeated key 3, built by hand because encoders refuse.
	dup := []byte{0xa8} // map of 8 pairs
	for _, kv := range [][2]any{{1, pub}, {2, scope}, {3, uint64(1)}, {3, uint64(2)}, {5, int64(1)}, {6, uint64(1)}, {7, []byte("p")}, {8, 0}} {
		dup = append(dup, encode(t, kv[0])...)
		dup = append(dup, encode(t, kv[1])...)
	}
	// The same, with key 3 repeated with equal value and no key 8.
	dupSame := []byte{0xa7}
	for _, kv := range [][2]any{{1, pub}, {2, scope}, {3, uint64(1)}, {3, uint64(1)}, {5, int64(1)}, {6, uint64(1)}, {7, []byte("p")}} {
		dupSame = append(dupSame, encode(t, kv[0])...)
		dupSame = append(dupSame, encode(t, kv[1])...)
	}
	valid := encode(t, fields(nil))
	// Indefinite-length map: 0xbf ... 0xff.
	indef := append([]byte{0xbf}, valid[1:]...)
	indef = append(indef, 0xff)

	tests := []struct {
		name string
		body []byte
	}{
		{"unknown field 8", encode(t, fields(map[int]any{8: 1}))},
		{"unknown field 0", encode(t, fields(map[int]any{0: []byte{}}))},
		{"unknown field 1000", encode(t, fields(map[int]any{1000: "x"}))},
		{"text key", encode(t, map[any]any{1: pub, 2: scope, 3: 1, 5: 1, 6: 1, 7: []byte("p"), "x": 1})},
		{"duplicate key", dup},
		{"duplicate key same value", dupSame},
		{"indefinite-length map", indef},
		{"trailing data", append(bytes.Clone(valid), 0x00)},
		{"second map", append(bytes.Clone(valid), valid...)},
		{"array instead of map", encode(t, []any{pub, scope, 1, 1, 1, []byte("p")})},
		{"byte string instead of map", encode(t, []byte("hello"))},
		{"tagged map", append([]byte{0xd9, 0xd9, 0xf7}, valid...)}, // self-described CBOR tag 55799
		{"seq negative", encode(t, fields(map[int]any{3: -1}))},
		{"seq text", encode(t, fields(map[int]any{3: "1"}))},
		{"kind overflows uint16", encode(t, fields(map[int]any{6: 1 << 16}))},
		{"author as text", encode(t, fields(map[int]any{1: string(pub)}))},
		{"time as float", encode(t, fields(map[int]any{5: 1.5}))},
		{"payload as map", encode(t, fields(map[int]any{7: map[int]int{1: 1}}))},
		{"deep nesting", encode(t, fields(map[int]any{7: []any{[]any{[]any{[]any{[]any{1}}}}}}))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := envelope(id, tt.body)
			e, err := event.Decode(raw)
			if err == nil {
				t.Fatalf("Decode accepted %x as %+v", tt.body, e.Body)
			}
			if !errors.Is(err, event.ErrMalformed) {
				t.Fatalf("Decode = %v, want ErrMalformed", err)
			}
			if _, err := event.Parse(raw); !errors.Is(err, event.ErrMalformed) {
				t.Fatalf("Parse = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestPeekID(t *testing.T) {
	id := seedIdentity(t, 1)
	e := mustSign(t, id, firstBody([]byte("peek")))
	got, ok := event.PeekID(e.Raw)
	if !ok || got != e.ID {
		t.Fatalf("PeekID = %s, %v; want %s, true", got, ok, e.ID)
	}
	// PeekID does not verify: a bad signature still gives the body's ID.
	bad := bytes.Clone(e.Raw)
	bad[5] ^= 1
	if got, ok := event.PeekID(bad); !ok || got != e.ID {
		t.Fatalf("PeekID(bad sig) = %s, %v", got, ok)
	}
	badVersion := bytes.Clone(e.Raw)
	badVersion[0] = 2
	for name, raw := range map[string][]byte{
		"nil":         nil,
		"version":     {event.Version},
		"header only": e.Raw[:headerSize],
		"bad version": badVersion,
	} {
		if got, ok := event.PeekID(raw); ok || got != (event.ID{}) {
			t.Errorf("%s: PeekID = %s, %v; want zero, false", name, got, ok)
		}
	}
}

func TestParseEqualsDecode(t *testing.T) {
	id := seedIdentity(t, 1)
	first := mustSign(t, id, firstBody([]byte("one")))
	for _, e := range []*event.Event{
		first,
		mustSign(t, id, event.Body{Scope: testScope(0xcc), Seq: 2, Prev: first.ID[:], Time: -5, Kind: 3, Payload: []byte("two")}),
		mustSign(t, id, firstBody([]byte("p"))),
	} {
		d, err := event.Decode(e.Raw)
		if err != nil {
			t.Fatal(err)
		}
		p, err := event.Parse(e.Raw)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(d, p) {
			t.Fatalf("Parse = %+v\nDecode = %+v", p, d)
		}
	}
	for _, raw := range [][]byte{nil, {event.Version}, first.Raw[:headerSize], append([]byte{2}, first.Raw[1:]...)} {
		if _, err := event.Parse(raw); !errors.Is(err, event.ErrMalformed) {
			t.Errorf("Parse(%d bytes) = %v, want ErrMalformed", len(raw), err)
		}
	}
}

func TestIDStringParse(t *testing.T) {
	id := seedIdentity(t, 1)
	e := mustSign(t, id, firstBody([]byte("p")))
	for _, want := range []event.ID{e.ID, {}, event.ID(bytes.Repeat([]byte{0xff}, event.IDSize))} {
		s := want.String()
		if len(s) != 2*event.IDSize || s != strings.ToLower(s) {
			t.Fatalf("String = %q, want %d lowercase hex digits", s, 2*event.IDSize)
		}
		got, err := event.ParseID(s)
		if err != nil {
			t.Fatalf("ParseID(%q): %v", s, err)
		}
		if got != want {
			t.Fatalf("ParseID(String) = %s, want %s", got, want)
		}
	}
	if got, err := event.ParseID(strings.ToUpper(e.ID.String())); err != nil || got != e.ID {
		t.Fatalf("ParseID(upper case) = %s, %v", got, err)
	}
	s := e.ID.String()
	for _, bad := range []string{"", "00", s[:63], s[:62], s + "00", s[:63] + "g", " " + s[1:], "0x" + s[2:]} {
		if _, err := event.ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) succeeded", bad)
		}
	}
}

func TestScopeString(t *testing.T) {
	var s event.Scope
	copy(s[:], testScope(0xab))
	if got := s.String(); got != strings.Repeat("ab", event.ScopeSize) {
		t.Fatalf("Scope.String = %q", got)
	}
}

func BenchmarkEventSign(b *testing.B) {
	id := seedIdentity(b, 1)
	body := firstBody(bytes.Repeat([]byte{0x5a}, 256))
	e, err := event.Sign(id, body)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(e.Raw)))
	for b.Loop() {
		if _, err := event.Sign(id, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEventDecode(b *testing.B) {
	id := seedIdentity(b, 1)
	e, err := event.Sign(id, firstBody(bytes.Repeat([]byte{0x5a}, 256)))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(e.Raw)))
	for b.Loop() {
		if _, err := event.Decode(e.Raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEventParse(b *testing.B) {
	id := seedIdentity(b, 1)
	e, err := event.Sign(id, firstBody(bytes.Repeat([]byte{0x5a}, 256)))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(e.Raw)))
	for b.Loop() {
		if _, err := event.Parse(e.Raw); err != nil {
			b.Fatal(err)
		}
	}
}

// An ID prefix is 6 to 64 hex digits, of any parity.
func TestIsIDPrefix(t *testing.T) {
	for ref, want := range map[string]bool{
		"3f9a8c": true, "3f9a8c1": true, strings.Repeat("ab", 32): true,
		"3f9a8": false, "3f9a8g": false, "3f9a8c1g": false, strings.Repeat("ab", 32) + "a": false, "": false,
	} {
		if got := event.IsIDPrefix(ref); got != want {
			t.Errorf("IsIDPrefix(%q) = %v, want %v", ref, got, want)
		}
	}
}
