package ratchet

import (
	"bytes"
	"testing"
)

// benchConversation returns Alice's conversation with Bob and Bob's session,
// after one round trip, so that messages are ordinary (not session-starting).
func benchConversation(b *testing.B) (alice *Conversation, bob *Keys, bobSess *Session) {
	ak, bk := seedKeys(b, 0xa1), seedKeys(b, 0xb0)
	c, err := NewConversation(ak, bk.Bundle(), nil)
	if err != nil {
		b.Fatal(err)
	}
	sealed, err := c.Encrypt([]byte("hello"))
	if err != nil {
		b.Fatal(err)
	}
	_, _, bs, err := Receive(bk, sealed, func([]byte) (*Session, bool) { return nil, false })
	if err != nil {
		b.Fatal(err)
	}
	reply, err := NewConversation(bk, ak.Bundle(), bs)
	if err != nil {
		b.Fatal(err)
	}
	sealed, err = reply.Encrypt([]byte("hi"))
	if err != nil {
		b.Fatal(err)
	}
	_, _, as, err := Receive(ak, sealed, func([]byte) (*Session, bool) { return c.Session(), true })
	if err != nil {
		b.Fatal(err)
	}
	c, err = NewConversation(ak, bk.Bundle(), as)
	if err != nil {
		b.Fatal(err)
	}
	return c, bk, reply.Session()
}

// BenchmarkEncryptSeal measures Conversation.Encrypt of a 256-byte message:
// a chain step, XChaCha20-Poly1305, an Ed25519 signature, and the sealed
// box (X25519 key generation and agreement).
func BenchmarkEncryptSeal(b *testing.B) {
	alice, _, _ := benchConversation(b)
	pt := bytes.Repeat([]byte{'m'}, 256)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := alice.Encrypt(pt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenDecrypt measures Receive of a 256-byte message: the sealed
// box (X25519, XChaCha20-Poly1305, Ed25519 verification of the sender) and
// the ratchet decryption, including the copy of the session it returns.
// "same-chain" is a message in the chain Bob already receives on;
// "new-chain" is the first message of Alice's next chain, which adds a DH
// ratchet step (a key generation and two X25519 agreements).
func BenchmarkOpenDecrypt(b *testing.B) {
	pt := bytes.Repeat([]byte{'m'}, 256)
	alice, bob, bobSess := benchConversation(b)
	first, err := alice.Encrypt(pt)
	if err != nil {
		b.Fatal(err)
	}
	_, _, afterFirst, err := Receive(bob, first, func([]byte) (*Session, bool) { return bobSess, true })
	if err != nil {
		b.Fatal(err)
	}
	second, err := alice.Encrypt(pt)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		sealed []byte
		sess   *Session
	}{{"new-chain", first, bobSess}, {"same-chain", second, afterFirst}} {
		b.Run(c.name, func(b *testing.B) {
			lookup := func([]byte) (*Session, bool) { return c.sess, true }
			b.ReportAllocs()
			for b.Loop() {
				// Receive does not change c.sess, so the same message
				// decrypts every time.
				if _, got, _, err := Receive(bob, c.sealed, lookup); err != nil || len(got) != len(pt) {
					b.Fatal(err)
				}
			}
		})
	}
}
