package groupchat

import (
	"crypto/rand"
	"strings"
	"testing"

	libp2pcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/banyan-mesh/banyan/crypto"
)

func testInvite(t testing.TB) *Invite {
	t.Helper()
	id, err := crypto.IdentityFromSeed(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	in := &Invite{Name: "Village 🌳", Inviter: peer.AddrInfo{ID: id.PeerID(), Addrs: []ma.Multiaddr{
		ma.StringCast("/ip4/192.168.1.20/tcp/7341"), ma.StringCast("/ip4/192.168.1.20/udp/7341/quic-v1"),
	}}}
	in.GroupID[0], in.Key[0] = 7, 9
	return in
}

func TestInviteRoundTrip(t *testing.T) {
	in := testInvite(t)
	for _, s := range []string{in.String(), in.Link(), "  " + in.Link() + "\n", "banyan://" + in.String(), "BANYAN:" + in.String(), "Banyan:" + in.String()} {
		got, err := ParseInvite(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if got.GroupID != in.GroupID || got.Key != in.Key || got.Name != in.Name || got.Inviter.ID != in.Inviter.ID || len(got.Inviter.Addrs) != 2 || !got.Inviter.Addrs[1].Equal(in.Inviter.Addrs[1]) {
			t.Fatalf("round trip of %q: got %+v, want %+v", s, got, in)
		}
	}
	if !strings.HasPrefix(in.Link(), "banyan:g1.") {
		t.Errorf("link %q", in.Link())
	}
}

func TestParseInviteRejects(t *testing.T) {
	good := testInvite(t).String()
	for name, s := range map[string]string{
		"empty":        "",
		"no prefix":    good[3:],
		"bad base64":   "g1.!!!!",
		"not cbor":     "g1.aGVsbG8",
		"truncated":    good[:len(good)-10],
		"huge":         "g1." + strings.Repeat("A", maxInviteLen),
		"other scheme": "https://example.org/" + good,
	} {
		if _, err := ParseInvite(s); err == nil {
			t.Errorf("%s: accepted %q", name, s)
		}
	}
	bad := testInvite(t)
	bad.Name = ""
	if _, err := ParseInvite(bad.String()); err == nil {
		t.Error("accepted an invite with an empty group name")
	}
	// Every node's peer ID holds an Ed25519 key; no other kind of key
	// invites.
	k, _, err := libp2pcrypto.GenerateSecp256k1Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other := testInvite(t)
	if other.Inviter.ID, err = peer.IDFromPrivateKey(k); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseInvite(other.String()); err == nil || !strings.Contains(err.Error(), "inviter") {
		t.Errorf("an invite from a secp256k1 peer ID: %v", err)
	}
}

func FuzzParseInvite(f *testing.F) {
	f.Add(testInvite(f).String())
	f.Add(testInvite(f).Link())
	f.Add("g1.")
	f.Add("banyan:g1.oQFA")
	f.Fuzz(func(t *testing.T, s string) {
		in, err := ParseInvite(s)
		if err != nil {
			return
		}
		again, err := ParseInvite(in.String())
		if err != nil {
			t.Fatalf("re-encoded invite does not parse: %v", err)
		}
		if again.GroupID != in.GroupID || again.Key != in.Key || again.Name != in.Name || again.Inviter.ID != in.Inviter.ID {
			t.Fatal("re-encoded invite differs")
		}
	})
}

func TestTextCodec(t *testing.T) {
	b, err := encodeText("hello, village")
	if err != nil {
		t.Fatal(err)
	}
	if s, err := decodeText(b); err != nil || s != "hello, village" {
		t.Fatalf("decode = %q, %v", s, err)
	}
	for name, s := range map[string]string{
		"empty":    "",
		"too long": strings.Repeat("x", MaxTextSize+1),
		"bad utf8": "\xff\xfe",
	} {
		if _, err := encodeText(s); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
	if _, err := encodeText(strings.Repeat("é", MaxTextSize/2)); err != nil {
		t.Errorf("text of exactly the limit rejected: %v", err)
	}
	// Unknown fields are refused, not ignored.
	extra, _ := cborEnc.Marshal(map[int]any{1: "hi", 2: "surprise"})
	if _, err := decodeText(extra); err == nil {
		t.Error("decoded a body with an unknown field")
	}
}

func FuzzDecodeText(f *testing.F) {
	good, _ := encodeText("hello")
	f.Add(good)
	f.Add([]byte{0xa0})
	f.Add([]byte{0xa1, 0x01, 0x60})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeText(b)
		if err != nil {
			return
		}
		if checkText(s) != nil {
			t.Fatalf("decoded an invalid text %q", s)
		}
		again, err := encodeText(s)
		if err != nil {
			t.Fatal(err)
		}
		if s2, err := decodeText(again); err != nil || s2 != s {
			t.Fatal("re-encoded text differs")
		}
	})
}
