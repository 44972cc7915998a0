package private

import (
	"slices"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/ratchet"
	"github.com/banyan-mesh/banyan/node/content"
)

func testContactCode(t testing.TB) *ContactCode {
	t.Helper()
	id, err := crypto.IdentityFromSeed(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	b := ratchet.NewKeys(id).Bundle()
	return &ContactCode{Bundle: b.Encode(), Name: "Mei", Peer: peer.AddrInfo{ID: id.PeerID(), Addrs: []ma.Multiaddr{ma.StringCast("/ip4/192.168.1.20/tcp/7341")}}}
}

func TestContactCodeRoundTrip(t *testing.T) {
	in := testContactCode(t)
	for _, s := range []string{in.String(), in.Link(), " " + in.Link() + "\n"} {
		got, err := ParseContactCode(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if got.Peer.ID != in.Peer.ID || got.Name != in.Name || string(got.Bundle) != string(in.Bundle) || len(got.Peer.Addrs) != 1 {
			t.Fatalf("round trip: %+v", got)
		}
		if _, err := bundleOf(got.Bundle, got.Peer.ID); err != nil {
			t.Fatalf("bundle of a good code: %v", err)
		}
	}
	other, _ := crypto.NewIdentity()
	if _, err := bundleOf(in.Bundle, other.PeerID()); err == nil {
		t.Fatal("a bundle was accepted for someone else's peer ID")
	}
	for _, bad := range []string{"", "g1.abc", "c1.!!", "c1." + strings.Repeat("A", maxContactCode), in.String()[:20]} {
		if _, err := ParseContactCode(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func FuzzParseContactCode(f *testing.F) {
	f.Add(testContactCode(f).String())
	f.Add(testContactCode(f).Link())
	f.Add("c1.oA")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseContactCode(s)
		if err != nil {
			return
		}
		again, err := ParseContactCode(c.String())
		if err != nil || again.Peer.ID != c.Peer.ID || string(again.Bundle) != string(c.Bundle) || again.Name != c.Name {
			t.Fatalf("re-encoded code differs: %v", err)
		}
	})
}

func TestDMBody(t *testing.T) {
	id := make([]byte, DMIDSize)
	for _, b := range []dmBody{
		{Type: dmText, ID: id, Text: "hello", Time: 5},
		{Type: dmDelivered, ID: id, Refs: [][]byte{id}, Time: 5},
		{Type: dmContactRequest, ID: id, Name: "Mei", Time: 5},
		{Type: dmText, ID: id, Text: "a name on any type", Name: "Mei", Time: 5},
	} {
		raw, err := b.encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeDMBody(raw)
		if err != nil || got.Type != b.Type || got.Text != b.Text || len(got.Refs) != len(b.Refs) {
			t.Fatalf("round trip of %+v: %+v, %v", b, got, err)
		}
	}
	for name, b := range map[string]dmBody{
		"short id":           {Type: dmText, ID: id[:3], Text: "x", Time: 5},
		"no time":            {Type: dmText, ID: id, Text: "x"},
		"empty text":         {Type: dmText, ID: id, Time: 5},
		"receipt, no refs":   {Type: dmRead, ID: id, Time: 5},
		"bad ref":            {Type: dmRead, ID: id, Refs: [][]byte{{1}}, Time: 5},
		"too many refs":      {Type: dmRead, ID: id, Refs: slices.Repeat([][]byte{id}, maxReceiptRefs+1), Time: 5},
		"unknown type":       {Type: 99, ID: id, Time: 5},
		"long name":          {Type: dmContactAccept, ID: id, Name: strings.Repeat("n", MaxNickname+1), Time: 5},
		"text over the size": {Type: dmText, ID: id, Text: strings.Repeat("x", content.MaxText+1), Time: 5},
	} {
		raw, _ := b.encode()
		if _, err := decodeDMBody(raw); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func FuzzDecodeDMBody(f *testing.F) {
	for _, b := range []dmBody{
		{Type: dmText, ID: make([]byte, 16), Text: "hi", Time: 1},
		{Type: dmRead, ID: make([]byte, 16), Refs: [][]byte{make([]byte, 16)}, Time: 1},
	} {
		raw, _ := b.encode()
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := decodeDMBody(raw)
		if err != nil {
			return
		}
		again, err := b.encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeDMBody(again); err != nil {
			t.Fatalf("re-encoded body does not decode: %v", err)
		}
	})
}
