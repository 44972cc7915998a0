package events

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/banyan-mesh/banyan/crypto"
)

func TestDecode(t *testing.T) {
	good, err := cborEnc.Marshal(Post{Title: "feast", Start: minStart + 1, Place: "school", About: "bring\na dish"})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := decodePost(good); err != nil || p.Title != "feast" || p.About != "bring\na dish" {
		t.Fatalf("%+v, %v", p, err)
	}
	rsvp, err := cborEnc.Marshal(RSVP{Event: make([]byte, 32), Answer: Maybe})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := decodeRSVP(rsvp); err != nil || r.Answer != Maybe {
		t.Fatalf("%+v, %v", r, err)
	}
	badPosts := map[string]any{
		"no title":      map[int]any{2: minStart + 1},
		"early":         map[int]any{1: "x", 2: minStart - 1},
		"late":          map[int]any{1: "x", 2: maxStart + 1},
		"title newline": map[int]any{1: "a\nb", 2: minStart + 1},
		"long about":    map[int]any{1: "x", 2: minStart + 1, 4: string(make([]byte, MaxAbout+1))},
		"unknown key":   map[int]any{1: "x", 2: minStart + 1, 9: 1},
		"empty place":   map[int]any{1: "x", 2: minStart + 1, 3: ""},
	}
	for name, v := range badPosts {
		b, _ := crypto.CanonicalCBOR.Marshal(v)
		if _, err := decodePost(b); err == nil {
			t.Errorf("post %s: accepted", name)
		}
	}
	if _, err := decodeCancel(rsvp); err == nil {
		t.Error("an answer decoded as a cancellation")
	}
	c, _ := cborEnc.Marshal(Cancel{Event: make([]byte, 32)})
	if _, err := decodeCancel(c); err != nil {
		t.Errorf("cancel: %v", err)
	}
	short, _ := cborEnc.Marshal(Cancel{Event: make([]byte, 8)})
	if _, err := decodeCancel(short); err == nil {
		t.Error("a cancellation of an 8-byte ID accepted")
	}
	badRSVPs := map[string]any{
		"short event": map[int]any{1: make([]byte, 31), 2: 1},
		"no answer":   map[int]any{1: make([]byte, 32)},
		"bad answer":  map[int]any{1: make([]byte, 32), 2: 4},
		"zero answer": map[int]any{1: make([]byte, 32), 2: 0},
	}
	for name, v := range badRSVPs {
		b, _ := crypto.CanonicalCBOR.Marshal(v)
		if _, err := decodeRSVP(b); err == nil {
			t.Errorf("rsvp %s: accepted", name)
		}
	}
}

func FuzzDecodePost(f *testing.F) {
	b, _ := cborEnc.Marshal(Post{Title: "feast", Start: minStart + 1, Place: "school", About: "bring a dish"})
	f.Add(b)
	edit, _ := cborEnc.Marshal(Post{Title: "feast, moved", Start: minStart + 2, Of: make([]byte, 32)})
	f.Add(edit)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePost(b)
		if err != nil {
			return
		}
		again, err := cborEnc.Marshal(p)
		if err != nil || string(again) != string(b) {
			t.Fatalf("%x does not re-encode: %x", b, again)
		}
	})
}

func FuzzDecodeRSVP(f *testing.F) {
	b, _ := cborEnc.Marshal(RSVP{Event: make([]byte, 32), Answer: Going})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRSVP(b)
		if err != nil {
			return
		}
		again, err := cborEnc.Marshal(r)
		if err != nil || string(again) != string(b) {
			t.Fatalf("%x does not re-encode: %x", b, again)
		}
	})
}

// The example of PROTOCOL.md section 20.3: "going" to event ab…ab.
func TestRSVPVector(t *testing.T) {
	ev := make([]byte, 32)
	for i := range ev {
		ev[i] = 0xab
	}
	b, err := cborEnc.Marshal(RSVP{Event: ev, Answer: Going})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(b), "a2015820"+strings.Repeat("ab", 32)+"0201"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func FuzzDecodeCancel(f *testing.F) {
	b, _ := cborEnc.Marshal(Cancel{Event: make([]byte, 32)})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCancel(b)
		if err != nil {
			return
		}
		again, err := cborEnc.Marshal(c)
		if err != nil || string(again) != string(b) {
			t.Fatalf("%x does not re-encode: %x", b, again)
		}
	})
}
