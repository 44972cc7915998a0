package ratchet

import (
	"bytes"
	mrand "math/rand/v2"
	"testing"

	"github.com/banyan-mesh/banyan/crypto"
)

// seedKeys returns the keys of the identity with seed bytes.Repeat(b, 32).
func seedKeys(tb testing.TB, b byte) *Keys {
	tb.Helper()
	id, err := crypto.IdentityFromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	return NewKeys(id)
}

// deterministicRand makes every key this package generates come from a
// fixed stream until the test ends. Tests in this package are not parallel.
func deterministicRand(tb testing.TB, seed byte) {
	old := randReader
	randReader = mrand.NewChaCha8([32]byte{seed})
	tb.Cleanup(func() { randReader = old })
}

// party is one side of a session, used without sealed boxes.
type party struct {
	keys *Keys
	sess *Session
}

func newParties(tb testing.TB) (alice, bob *party) {
	tb.Helper()
	a, b := seedKeys(tb, 0xa1), seedKeys(tb, 0xb0)
	return newParty(tb, a, b), newParty(tb, b, a)
}

func newParty(tb testing.TB, me, peer *Keys) *party {
	tb.Helper()
	c, err := NewConversation(me, peer.Bundle(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &party{keys: me, sess: c.Session()}
}

func (p *party) send(tb testing.TB, pt string) []byte {
	tb.Helper()
	msg, err := p.sess.Encrypt(p.keys, []byte(pt), nil)
	if err != nil {
		tb.Fatalf("encrypt %q: %v", pt, err)
	}
	return msg
}

func (p *party) recv(tb testing.TB, msg []byte, want string) {
	tb.Helper()
	pt, err := p.sess.Decrypt(p.keys, msg, nil)
	if err != nil {
		tb.Fatalf("decrypt %q: %v", want, err)
	}
	if string(pt) != want {
		tb.Fatalf("decrypted %q, want %q", pt, want)
	}
}

func mustMarshal(tb testing.TB, s *Session) []byte {
	tb.Helper()
	b, err := s.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustUnmarshal(tb testing.TB, b []byte) *Session {
	tb.Helper()
	var s Session
	if err := s.UnmarshalBinary(b); err != nil {
		tb.Fatal(err)
	}
	return &s
}

// node keeps its sessions marshalled, as the real node keeps them in
// Badger, and talks through sealed boxes only.
type node struct {
	keys     *Keys
	sessions map[[crypto.PublicKeySize]byte][]byte
}

func newNode(tb testing.TB, seed byte) *node {
	return &node{keys: seedKeys(tb, seed), sessions: map[[crypto.PublicKeySize]byte][]byte{}}
}

func (n *node) session(tb testing.TB, peer []byte) (*Session, bool) {
	raw, ok := n.sessions[[crypto.PublicKeySize]byte(peer)]
	if !ok {
		return nil, false
	}
	return mustUnmarshal(tb, raw), true
}

func (n *node) send(tb testing.TB, to *node, pt string) []byte {
	tb.Helper()
	peer := to.keys.Bundle()
	sess, _ := n.session(tb, peer.IdentityKey[:])
	c, err := NewConversation(n.keys, peer, sess)
	if err != nil {
		tb.Fatal(err)
	}
	sealed, err := c.Encrypt([]byte(pt))
	if err != nil {
		tb.Fatalf("encrypt %q: %v", pt, err)
	}
	n.sessions[peer.IdentityKey] = mustMarshal(tb, c.Session())
	return sealed
}

func (n *node) receive(tb testing.TB, sealed []byte) (Bundle, []byte, error) {
	tb.Helper()
	from, pt, sess, err := Receive(n.keys, sealed, func(peer []byte) (*Session, bool) { return n.session(tb, peer) })
	if err != nil {
		if sess != nil {
			tb.Fatal("Receive returned a session with an error")
		}
		return from, nil, err
	}
	n.sessions[from.IdentityKey] = mustMarshal(tb, sess)
	return from, pt, nil
}

func (n *node) mustReceive(tb testing.TB, sealed []byte, from *node, want string) {
	tb.Helper()
	b, pt, err := n.receive(tb, sealed)
	if err != nil {
		tb.Fatalf("receive %q: %v", want, err)
	}
	if b != from.keys.Bundle() {
		tb.Fatalf("receive %q: from %x, want %x", want, b.IdentityKey, from.keys.Bundle().IdentityKey)
	}
	if string(pt) != want {
		tb.Fatalf("received %q, want %q", pt, want)
	}
}
