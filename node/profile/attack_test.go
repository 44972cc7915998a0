package profile_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/node/profile"
)

// Profiles that break the rules, sent by a raw peer on the direct
// stream, are refused and counted as bad bodies; none becomes a profile.
func TestHostileProfilesRefused(t *testing.T) {
	a := nodetest.Start(t, "")
	b := nodetest.Start(t, "", a.Info())
	nodetest.Befriend(t, a, b)
	aid, err := a.Home.Identity(nil)
	if err != nil {
		t.Fatal(err)
	}
	forger, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	aScope := profile.ScopeOf(aid.PublicKey())
	nodetest.WaitKeeps(t, b, aScope)
	raw := rawPeer(t, b)
	now := time.Now().UnixMilli()
	sign := func(id *crypto.Identity, seq uint64, payload []byte) []byte {
		e, err := event.Sign(id, event.Body{Scope: aScope[:], Seq: seq, Time: now + int64(seq), Kind: profile.Kind, Payload: payload, Prev: prevFor(seq)})
		if err != nil {
			t.Fatal(err)
		}
		return e.Raw
	}
	mustCBOR := func(v any) []byte {
		b, err := cbor.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := map[string][]byte{
		"written by someone else": func() []byte {
			p, _ := profile.Encode(&profile.Fields{Name: "not really Asha"})
			return sign(forger, 1, p)
		}(),
		"not CBOR":                           sign(aid, 2, []byte("hello")),
		"unknown field":                      sign(aid, 3, mustCBOR(map[int]string{9: "x"})),
		"name too long":                      sign(aid, 4, mustCBOR(map[int]string{1: strings.Repeat("n", profile.MaxName+1)})),
		"name with newline":                  sign(aid, 5, mustCBOR(map[int]string{1: "two\nlines"})),
		"avatar not a JPEG":                  sign(aid, 6, mustCBOR(map[int][]byte{4: []byte("GIF89a not a jpeg")})),
		"not canonical":                      sign(aid, 7, []byte{0xa1, 0x01, 0x78, 0x01, 'x'}),
		"private part that is not sealed":    sign(aid, 8, mustCBOR(map[int][]byte{5: []byte("my bio, in clear")})),
		"private part beside a bio in clear": sign(aid, 9, mustCBOR(map[int]any{2: "in clear", 5: mustCBOR(map[int]any{1: 1, 2: make([]byte, 64)})})),
		"private part too long":              sign(aid, 10, mustCBOR(map[int][]byte{5: make([]byte, profile.MaxPrivate+1)})),
	}
	for name, env := range cases {
		if err := mesh.SendDirect(context.Background(), raw, mesh.DirectProtocol, b.ID(), env); !errors.Is(err, mesh.ErrRefused) {
			t.Errorf("%s: %v, want refused", name, err)
		}
	}
	if got := b.Stats().Rejected()[engine.ReasonBody]; got != uint64(len(cases)) {
		t.Errorf("b counted %d bad bodies, want %d (%v)", got, len(cases), b.Stats().Rejected())
	}
	if r, err := b.Profiles().Profile(a.ID()); err == nil {
		t.Errorf("a hostile profile was taken: %+v", r)
	}
}

func prevFor(seq uint64) []byte {
	if seq == 1 {
		return nil
	}
	return make([]byte, event.IDSize)
}

func FuzzDecode(f *testing.F) {
	for _, fl := range []*profile.Fields{{}, {Name: "Asha"}, {Name: "Asha", Bio: "nets\nand bicycles", Place: "lower well"}} {
		b, err := profile.Encode(fl)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0xa1, 0x04, 0x41, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		fl, err := profile.Decode(b)
		if err != nil {
			return
		}
		// What decodes is valid and has exactly this one encoding.
		again, err := profile.Encode(fl)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", fl, err)
		}
		if string(again) != string(b) {
			t.Fatalf("%x decodes but encodes as %x", b, again)
		}
	})
}
