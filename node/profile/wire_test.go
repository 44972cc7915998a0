package profile

import "testing"

func FuzzDecodePrivate(f *testing.F) {
	b, _ := enc.Marshal(&private{Bio: "I mend nets", Place: "the lower well"})
	f.Add(b)
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePrivate(b)
		if err != nil {
			return
		}
		again, err := enc.Marshal(p)
		if err != nil || string(again) != string(b) {
			t.Fatalf("%x does not re-encode: %x", b, again)
		}
	})
}
