package moments

import (
	"bytes"
	"testing"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// fuzzDecoder checks a decoder on arbitrary input: it never panics, and
// what it accepts has exactly the one encoding it was given.
func fuzzDecoder[T any](f *testing.F, decode func([]byte) (*T, error), seeds ...any) {
	for _, s := range seeds {
		b, err := enc.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decode(b)
		if err != nil {
			return
		}
		again, err := enc.Marshal(v)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("%x decodes to %+v, which encodes as %x (%v)", b, v, again, err)
		}
	})
}

func FuzzDecodeKey(f *testing.F) {
	fuzzDecoder(f, decodeKey, &keyPayload{Epoch: 1, Sealed: [][]byte{make([]byte, sealedKeySize)}},
		&keyPayload{Epoch: 7, Sealed: [][]byte{make([]byte, sealedKeySize), bytes.Repeat([]byte{1}, sealedKeySize)}})
}

func FuzzDecodeSealed(f *testing.F) {
	fuzzDecoder(f, decodeSealed, &sealedPayload{Epoch: 1, Box: make([]byte, 60)})
}

func FuzzDecodeDelete(f *testing.F) {
	fuzzDecoder(f, decodeDelete, &deletePayload{Post: make([]byte, event.IDSize), Time: 1767225600000})
}

func FuzzDecodePost(f *testing.F) {
	fuzzDecoder(f, decodePost, &postBody{Text: "ripe mangoes"}, &postBody{Text: "x", Image: []byte{0xff, 0xd8, 0xff}})
}

func FuzzDecodeReaction(f *testing.F) {
	fuzzDecoder(f, decodeReaction, &reactionBody{Post: make([]byte, event.IDSize), Type: Like},
		&reactionBody{Post: make([]byte, event.IDSize), Type: Comment, Text: "yes!"})
}
