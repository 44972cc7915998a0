package ratchet

import (
	"bytes"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"reflect"
	"sync"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
)

func TestKeysAreDeterministic(t *testing.T) {
	a1, a2, b := seedKeys(t, 1), seedKeys(t, 1), seedKeys(t, 2)
	if a1.priv != a2.priv || a1.Bundle() != a2.Bundle() {
		t.Fatal("the same identity gave two different static keys")
	}
	if a1.priv == b.priv || a1.Bundle().DHKey == b.Bundle().DHKey {
		t.Fatal("two identities gave the same static key")
	}
	if publicKey(a1.priv) != a1.Bundle().DHKey {
		t.Fatal("bundle DH key is not the public key of the static key")
	}
	if err := a1.Bundle().Verify(); err != nil {
		t.Fatal(err)
	}
	id, _ := crypto.IdentityFromSeed(bytes.Repeat([]byte{1}, 32))
	if ab := a1.Bundle(); !bytes.Equal(ab.IdentityKey[:], id.PublicKey()) {
		t.Fatal("bundle identity key is not the identity's public key")
	}
}

func TestBundleEncoding(t *testing.T) {
	k := seedKeys(t, 3)
	b := k.Bundle()
	raw := b.Encode()
	if len(raw) != BundleSize {
		t.Fatalf("encoded bundle is %d bytes, want %d", len(raw), BundleSize)
	}
	// {1: h'..32', 2: h'..32', 3: h'..64'}
	if raw[0] != 0xa3 || raw[1] != 0x01 || raw[2] != 0x58 || raw[3] != 0x20 || raw[36] != 0x02 || raw[71] != 0x03 || raw[72] != 0x58 || raw[73] != 0x40 {
		t.Fatalf("unexpected bundle layout %x", raw)
	}
	got, err := DecodeBundle(raw)
	if err != nil || got != b {
		t.Fatalf("DecodeBundle = %v, %v", got, err)
	}

	other := seedKeys(t, 4).Bundle()
	swapped := b
	swapped.DHKey = other.DHKey
	if err := swapped.Verify(); !errors.Is(err, crypto.ErrBadSignature) {
		t.Fatalf("bundle with another DH key: Verify = %v", err)
	}
	if _, err := DecodeBundle(swapped.Encode()); !errors.Is(err, crypto.ErrBadSignature) {
		t.Fatalf("bundle with another DH key: DecodeBundle = %v", err)
	}
	// The same map with its keys out of order is not canonical.
	reordered := append([]byte{0xa3}, raw[36:71]...)
	reordered = append(reordered, raw[1:36]...)
	reordered = append(reordered, raw[71:]...)
	if _, err := DecodeBundle(reordered); !errors.Is(err, ErrMalformed) {
		t.Fatalf("reordered bundle: %v", err)
	}
	for _, bad := range [][]byte{nil, raw[:BundleSize-1], append(bytes.Clone(raw), 0)} {
		if _, err := DecodeBundle(bad); !errors.Is(err, ErrMalformed) {
			t.Fatalf("bundle of %d bytes: %v", len(bad), err)
		}
	}
}

// TestConversation runs a long conversation through sealed boxes with the
// sessions persisted and reloaded around every message, as the node does.
func TestConversation(t *testing.T) {
	alice, bob := newNode(t, 0xa1), newNode(t, 0xb0)
	rng := mrand.New(mrand.NewPCG(1, 2))
	sent := 0
	for round := range 40 {
		from, to := alice, bob
		if round%2 == 1 {
			from, to = bob, alice
		}
		for range 1 + rng.IntN(4) {
			pt := fmt.Sprintf("message %d, round %d: %s", sent, round, bytes.Repeat([]byte("x"), rng.IntN(600)))
			sent++
			to.mustReceive(t, from.send(t, to, pt), from, pt)
		}
	}
	// After the first reply, messages no longer carry the X3DH base key.
	a := mustUnmarshal(t, alice.sessions[bob.keys.Bundle().IdentityKey])
	b := mustUnmarshal(t, bob.sessions[alice.keys.Bundle().IdentityKey])
	if len(a.states) != 1 || len(b.states) != 1 || a.states[0].base != b.states[0].base {
		t.Fatalf("states: alice %d, bob %d", len(a.states), len(b.states))
	}
	if !a.states[0].initiator || b.states[0].initiator || !a.states[0].hasRecv {
		t.Fatal("alice should be the initiator and have received")
	}
	if len(a.skipped) != 0 || len(b.skipped) != 0 {
		t.Fatal("in-order delivery left skipped keys")
	}
}

func TestPrekeyMessagesUntilReply(t *testing.T) {
	alice, bob := newParties(t)
	m1, m2 := alice.send(t, "one"), alice.send(t, "two")
	for _, m := range [][]byte{m1, m2} {
		if m[1] != typePrekey || len(m) != prekeyPrefix+3+msgOverhead {
			t.Fatalf("first messages should be prekey messages: %x", m[:2])
		}
	}
	bob.recv(t, m2, "two")
	bob.recv(t, m1, "one")
	r := bob.send(t, "reply")
	if r[1] != typeNormal || len(r) != normalPrefix+5+msgOverhead {
		t.Fatalf("reply should be a normal message: %x", r[:2])
	}
	m3 := alice.send(t, "three")
	if m3[1] != typePrekey {
		t.Fatal("alice has not received the reply yet: still a prekey message")
	}
	alice.recv(t, r, "reply")
	m4 := alice.send(t, "four")
	if m4[1] != typeNormal {
		t.Fatal("after the reply alice sends normal messages")
	}
	bob.recv(t, m4, "four")
	bob.recv(t, m3, "three")
}

func TestAssociatedData(t *testing.T) {
	alice, bob := newParties(t)
	msg, err := alice.sess.Encrypt(alice.keys, []byte("hi"), []byte("context A"))
	if err != nil {
		t.Fatal(err)
	}
	before := mustMarshal(t, bob.sess)
	for _, ad := range [][]byte{nil, []byte("context B"), []byte("context A ")} {
		if _, err := bob.sess.Decrypt(bob.keys, msg, ad); !errors.Is(err, crypto.ErrDecrypt) {
			t.Fatalf("ad %q: %v", ad, err)
		}
	}
	if !bytes.Equal(mustMarshal(t, bob.sess), before) {
		t.Fatal("failed decryptions changed the session")
	}
	pt, err := bob.sess.Decrypt(bob.keys, msg, []byte("context A"))
	if err != nil || string(pt) != "hi" {
		t.Fatalf("Decrypt = %q, %v", pt, err)
	}
}

// TestTamperSealed flips every byte of a session-starting box and of a later
// one: each is rejected, and afterwards the genuine box is accepted.
func TestTamperSealed(t *testing.T) {
	alice, bob := newNode(t, 0xa1), newNode(t, 0xb0)
	first := alice.send(t, bob, "first")
	for i := range first {
		bad := bytes.Clone(first)
		bad[i] ^= 0x01 << (i % 8)
		if _, _, err := bob.receive(t, bad); err == nil {
			t.Fatalf("byte %d flipped: accepted", i)
		}
	}
	if len(bob.sessions) != 0 {
		t.Fatal("a rejected box created a session")
	}
	bob.mustReceive(t, first, alice, "first")
	alice.mustReceive(t, bob.send(t, alice, "reply"), bob, "reply")
	later := alice.send(t, bob, "later")
	before := bytes.Clone(bob.sessions[alice.keys.Bundle().IdentityKey])
	for i := range later {
		bad := bytes.Clone(later)
		bad[i] ^= 0x80
		if _, _, err := bob.receive(t, bad); err == nil {
			t.Fatalf("byte %d flipped: accepted", i)
		}
	}
	for _, bad := range [][]byte{later[:len(later)-1], later[:len(later)-SealPadding], append(bytes.Clone(later), make([]byte, SealPadding)...)} {
		if _, _, err := bob.receive(t, bad); err == nil {
			t.Fatalf("box of %d bytes accepted", len(bad))
		}
	}
	if !bytes.Equal(bob.sessions[alice.keys.Bundle().IdentityKey], before) {
		t.Fatal("rejected boxes changed the session")
	}
	bob.mustReceive(t, later, alice, "later")
}

func TestTamperInner(t *testing.T) {
	alice, bob := newParties(t)
	first := alice.send(t, "first")
	before := mustMarshal(t, bob.sess)
	for i := range first {
		bad := bytes.Clone(first)
		bad[i] ^= 0x04
		if _, err := bob.sess.Decrypt(bob.keys, bad, nil); err == nil {
			t.Fatalf("byte %d flipped: accepted", i)
		}
	}
	if !bytes.Equal(mustMarshal(t, bob.sess), before) {
		t.Fatal("rejected messages changed the session")
	}
	bob.recv(t, first, "first")
}

func TestWrongRecipient(t *testing.T) {
	alice, bob, carol := newNode(t, 0xa1), newNode(t, 0xb0), newNode(t, 0xc0)
	sealed := alice.send(t, bob, "for bob only")
	if _, _, err := carol.receive(t, sealed); !errors.Is(err, crypto.ErrDecrypt) {
		t.Fatalf("carol opened bob's box: %v", err)
	}
	if _, _, err := Open(carol.keys, sealed); !errors.Is(err, crypto.ErrDecrypt) {
		t.Fatalf("Open with carol's key: %v", err)
	}
	// Even with the box opened, carol's session with alice cannot read a
	// message of bob's session.
	_, inner, err := Open(bob.keys, sealed)
	if err != nil {
		t.Fatal(err)
	}
	cs := newParty(t, carol.keys, alice.keys).sess
	if _, err := cs.Decrypt(carol.keys, inner, nil); !errors.Is(err, crypto.ErrDecrypt) {
		t.Fatalf("carol decrypted bob's message: %v", err)
	}
	bob.mustReceive(t, sealed, alice, "for bob only")
}

func TestReplay(t *testing.T) {
	alice, bob := newNode(t, 0xa1), newNode(t, 0xb0)
	first := alice.send(t, bob, "first")
	second := alice.send(t, bob, "second")
	bob.mustReceive(t, first, alice, "first")
	if _, _, err := bob.receive(t, first); !errors.Is(err, ErrReplay) {
		t.Fatalf("replayed first message: %v", err)
	}
	bob.mustReceive(t, second, alice, "second")
	for _, m := range [][]byte{first, second} {
		if _, _, err := bob.receive(t, m); !errors.Is(err, ErrReplay) {
			t.Fatalf("replay: %v", err)
		}
	}
	// A message read from the store of skipped keys is gone from it.
	m3, m4 := alice.send(t, bob, "3"), alice.send(t, bob, "4")
	bob.mustReceive(t, m4, alice, "4")
	bob.mustReceive(t, m3, alice, "3")
	if _, _, err := bob.receive(t, m3); !errors.Is(err, ErrReplay) {
		t.Fatalf("replayed late message: %v", err)
	}
	// After a DH ratchet step, replays of the previous chain.
	alice.mustReceive(t, bob.send(t, alice, "reply"), bob, "reply")
	m5 := alice.send(t, bob, "5")
	bob.mustReceive(t, m5, alice, "5")
	for _, m := range [][]byte{m3, m4, m5} {
		if _, _, err := bob.receive(t, m); !errors.Is(err, ErrReplay) {
			t.Fatalf("replay after ratchet step: %v", err)
		}
	}
}

func TestOutOfOrder(t *testing.T) {
	alice, bob := newParties(t)
	rng := mrand.New(mrand.NewPCG(3, 4))
	for round := range 3 {
		type sent struct {
			msg []byte
			pt  string
		}
		var msgs []sent
		for i := range 50 {
			pt := fmt.Sprintf("round %d message %d", round, i)
			msgs = append(msgs, sent{alice.send(t, pt), pt})
		}
		rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
		for _, m := range msgs {
			bob.recv(t, m.msg, m.pt)
		}
		if len(bob.sess.skipped) != 0 {
			t.Fatalf("%d skipped keys left after every message arrived", len(bob.sess.skipped))
		}
		r := bob.send(t, "ack")
		alice.recv(t, r, "ack")
	}
}

func TestMissingMessages(t *testing.T) {
	alice, bob := newParties(t)
	var late [][2]string // message, plaintext
	for i := range 10 {
		pt := fmt.Sprintf("chain 1 message %d", i)
		m := alice.send(t, pt)
		if i%3 == 1 {
			late = append(late, [2]string{string(m), pt})
			continue
		}
		bob.recv(t, m, pt)
	}
	// Messages dropped at the end of a chain are skipped only when the
	// next chain starts (its header says how long this one was).
	tail := alice.send(t, "chain 1 tail")
	late = append(late, [2]string{string(tail), "chain 1 tail"})

	alice.recv(t, bob.send(t, "reply"), "reply")
	for i := range 5 {
		pt := fmt.Sprintf("chain 2 message %d", i)
		m := alice.send(t, pt)
		if i < 2 {
			late = append(late, [2]string{string(m), pt})
			continue
		}
		bob.recv(t, m, pt)
	}
	if got, want := len(bob.sess.skipped), len(late); got != want {
		t.Fatalf("%d skipped keys stored, want %d", got, want)
	}
	for i := len(late) - 1; i >= 0; i-- {
		bob.recv(t, []byte(late[i][0]), late[i][1])
	}
	if len(bob.sess.skipped) != 0 {
		t.Fatal("skipped keys left after the late messages arrived")
	}
	// And the conversation goes on.
	alice.recv(t, bob.send(t, "done"), "done")
}

func TestSkipBound(t *testing.T) {
	alice, bob := newParties(t)
	bob.recv(t, alice.send(t, "start"), "start")
	var msgs [][]byte
	for i := range MaxSkip + 2 {
		msgs = append(msgs, alice.send(t, fmt.Sprint(i)))
	}
	before := mustMarshal(t, bob.sess)
	// Message N = 1 + MaxSkip + 1 needs MaxSkip+1 keys skipped.
	if _, err := bob.sess.Decrypt(bob.keys, msgs[MaxSkip+1], nil); !errors.Is(err, ErrTooManySkipped) {
		t.Fatalf("message too far ahead: %v", err)
	}
	if !bytes.Equal(mustMarshal(t, bob.sess), before) {
		t.Fatal("a rejected message changed the session")
	}
	// Exactly MaxSkip is allowed.
	bob.recv(t, msgs[MaxSkip], fmt.Sprint(MaxSkip))
	if len(bob.sess.skipped) != MaxSkip {
		t.Fatalf("%d keys skipped, want %d", len(bob.sess.skipped), MaxSkip)
	}
	bob.recv(t, msgs[MaxSkip+1], fmt.Sprint(MaxSkip+1))
	bob.recv(t, msgs[0], "0")

	// The previous chain's length (PN) is bounded the same way: MaxSkip+1
	// messages at the end of alice's second chain never arrive.
	alice.recv(t, bob.send(t, "reply"), "reply")
	bob.recv(t, alice.send(t, "chain 2"), "chain 2")
	var lost [][]byte
	for i := range MaxSkip + 1 {
		lost = append(lost, alice.send(t, fmt.Sprint("lost ", i)))
	}
	alice.recv(t, bob.send(t, "reply 2"), "reply 2")
	far := alice.send(t, "chain 3")
	before = mustMarshal(t, bob.sess)
	if _, err := bob.sess.Decrypt(bob.keys, far, nil); !errors.Is(err, ErrTooManySkipped) {
		t.Fatalf("previous chain too long: %v", err)
	}
	if !bytes.Equal(mustMarshal(t, bob.sess), before) {
		t.Fatal("a rejected message changed the session")
	}
	// With one of them delivered, MaxSkip remain: accepted.
	bob.recv(t, lost[0], "lost 0")
	bob.recv(t, far, "chain 3")
	bob.recv(t, lost[MaxSkip], fmt.Sprint("lost ", MaxSkip))
}

func TestSkippedKeysBound(t *testing.T) {
	alice, bob := newParties(t)
	var first [][]byte
	// Three chains, each with 900 messages that never arrive: 2700 keys.
	for c := range 3 {
		var chain [][]byte
		for i := range 901 {
			chain = append(chain, alice.send(t, fmt.Sprintf("%d/%d", c, i)))
		}
		first = append(first, chain[0])
		bob.recv(t, chain[900], fmt.Sprintf("%d/900", c))
		alice.recv(t, bob.send(t, "ack"), "ack")
	}
	if got := len(bob.sess.skipped); got != MaxSkippedKeys {
		t.Fatalf("%d skipped keys stored, want the bound %d", got, MaxSkippedKeys)
	}
	// The oldest were forgotten, the newest kept.
	if _, err := bob.sess.Decrypt(bob.keys, first[0], nil); err == nil {
		t.Fatal("a forgotten skipped key still decrypts")
	}
	bob.recv(t, first[2], "2/0")
	bob.recv(t, first[1], "1/0")
	raw := mustMarshal(t, bob.sess)
	if len(raw) > MaxSessionSize {
		t.Fatalf("session is %d bytes, over MaxSessionSize %d", len(raw), MaxSessionSize)
	}
}

// keyFound reports whether some 32-byte window of a marshalled session,
// used as a message key or as a chain key, decrypts msg.
func keyFound(t *testing.T, state []byte, msg []byte, from, to *Keys) (int, bool) {
	t.Helper()
	m, err := parseMessage(msg)
	if err != nil {
		t.Fatal(err)
	}
	ad := messageAD(from.Bundle().IdentityKey, to.Bundle().IdentityKey, nil, m.prefix)
	for i := 0; i+KeySize <= len(state); i++ {
		k := [KeySize]byte(state[i:])
		_, mk := kdfCK(k)
		for _, key := range [][KeySize]byte{k, mk} {
			if _, err := openMessage(key, m.ct, ad); err == nil {
				return i, true
			}
		}
	}
	return 0, false
}

func keyErased(t *testing.T, state []byte, msg []byte, from, to *Keys) {
	t.Helper()
	if i, found := keyFound(t, state, msg, from, to); found {
		t.Fatalf("the key at offset %d of the state still decrypts the message", i)
	}
}

func TestForwardSecrecy(t *testing.T) {
	alice, bob := newParties(t)
	m1, m2 := alice.send(t, "one"), alice.send(t, "two")
	bob.recv(t, m1, "one")
	afterM1 := mustMarshal(t, bob.sess)

	// The state after m1 holds the key of m2 (so keyFound can find keys)...
	if _, found := keyFound(t, afterM1, m2, alice.keys, bob.keys); !found {
		t.Fatal("keyFound does not find m2's chain key in the state after m1")
	}
	// ...but not that of m1, and it cannot read m1 again.
	if _, err := mustUnmarshal(t, afterM1).Decrypt(bob.keys, m1, nil); !errors.Is(err, ErrReplay) {
		t.Fatalf("the later state read m1 again: %v", err)
	}
	keyErased(t, afterM1, m1, alice.keys, bob.keys)

	// After a DH ratchet step, the old chain is gone too.
	bob.recv(t, m2, "two")
	alice.recv(t, bob.send(t, "reply"), "reply")
	m3 := alice.send(t, "three")
	bob.recv(t, m3, "three")
	after := mustMarshal(t, bob.sess)
	for _, m := range [][]byte{m1, m2, m3} {
		if _, err := mustUnmarshal(t, after).Decrypt(bob.keys, m, nil); !errors.Is(err, ErrReplay) {
			t.Fatalf("the state after the ratchet step read a consumed message: %v", err)
		}
		keyErased(t, after, m, alice.keys, bob.keys)
	}
	// Alice's side likewise forgets what she sent.
	keyErased(t, mustMarshal(t, alice.sess), m1, alice.keys, bob.keys)
	keyErased(t, mustMarshal(t, alice.sess), m3, alice.keys, bob.keys)

	// The documented limit: messages sent before the first reply are not
	// forward secret against the recipient's static key. With Bob's keys
	// alone (no session state), a new session reads m1.
	fresh := newParty(t, bob.keys, alice.keys)
	fresh.recv(t, m1, "one")
	// From the first reply on, they are: m3 needs ratchet keys.
	if _, err := newParty(t, bob.keys, alice.keys).sess.Decrypt(bob.keys, m3, nil); !errors.Is(err, ErrNoSession) {
		t.Fatalf("static key alone on a later message: %v", err)
	}
}

func TestPostCompromiseSecurity(t *testing.T) {
	alice, bob := newParties(t)
	for i := range 3 {
		bob.recv(t, alice.send(t, fmt.Sprint("a", i)), fmt.Sprint("a", i))
		alice.recv(t, bob.send(t, fmt.Sprint("b", i)), fmt.Sprint("b", i))
	}
	// The attacker copies both states and then sees every message.
	stolenA := mustUnmarshal(t, mustMarshal(t, alice.sess))
	stolenB := mustUnmarshal(t, mustMarshal(t, bob.sess))

	// Until each side has used a ratchet key made after the theft, the
	// attacker keeps up: these are the limits of the property.
	b1 := bob.send(t, "b1") // Bob's chain at the time of the theft
	alice.recv(t, b1, "b1")
	a1 := alice.send(t, "a1") // Alice's ratchet key made before the theft
	bob.recv(t, a1, "a1")
	b2 := bob.send(t, "b2") // Bob's new key, but Alice's stolen one
	alice.recv(t, b2, "b2")
	for _, c := range []struct {
		stolen *Session
		keys   *Keys
		msg    []byte
		want   string
	}{{stolenA, alice.keys, b1, "b1"}, {stolenB, bob.keys, a1, "a1"}, {stolenA, alice.keys, b2, "b2"}} {
		if pt, err := c.stolen.Decrypt(c.keys, c.msg, nil); err != nil || string(pt) != c.want {
			t.Fatalf("the stolen state should read %s: %v", c.want, err)
		}
	}
	// After that round trip, both directions are secure again, although
	// the attacker keeps feeding every message to the stolen states.
	for i := range 3 {
		a := alice.send(t, fmt.Sprint("a", i+2))
		bob.recv(t, a, fmt.Sprint("a", i+2))
		if _, err := stolenB.Decrypt(bob.keys, a, nil); err == nil {
			t.Fatalf("a stolen copy of bob's state read a%d", i+2)
		}
		b := bob.send(t, fmt.Sprint("b", i+3))
		alice.recv(t, b, fmt.Sprint("b", i+3))
		if _, err := stolenA.Decrypt(alice.keys, b, nil); err == nil {
			t.Fatalf("a stolen copy of alice's state read b%d", i+3)
		}
	}
}

func TestSessionMarshalRoundTrip(t *testing.T) {
	alice, bob := newParties(t)
	bob.recv(t, alice.send(t, "1"), "1")
	late := alice.send(t, "2")
	bob.recv(t, alice.send(t, "3"), "3")
	alice.recv(t, bob.send(t, "4"), "4")

	raw := mustMarshal(t, bob.sess)
	restored := mustUnmarshal(t, raw)
	if !reflect.DeepEqual(restored, bob.sess) {
		t.Fatalf("round trip changed the session:\n%+v\n%+v", restored, bob.sess)
	}
	if !bytes.Equal(mustMarshal(t, restored), raw) {
		t.Fatal("re-marshalled bytes differ")
	}
	// The restored copy works on; the original is the same conversation.
	bob.sess = restored
	bob.recv(t, late, "2")
	m := alice.send(t, "5")
	bob.recv(t, m, "5")
	alice.recv(t, bob.send(t, "6"), "6")

	// UnmarshalBinary keeps no reference to its input.
	raw = mustMarshal(t, bob.sess)
	s := mustUnmarshal(t, raw)
	want := bytes.Clone(raw)
	for i := range raw {
		raw[i] = 0xee
	}
	if !bytes.Equal(mustMarshal(t, s), want) {
		t.Fatal("the session changed when its input buffer was overwritten")
	}

	// The largest session there can be is exactly MaxSessionSize.
	largest := &Session{self: bob.sess.self, peer: bob.sess.peer}
	for range MaxStates {
		largest.states = append(largest.states, state{initiator: true})
	}
	largest.skipped = make([]skippedKey, MaxSkippedKeys)
	largest.retired = make([][KeySize]byte, maxRetired)
	if raw := mustMarshal(t, largest); len(raw) != MaxSessionSize || !reflect.DeepEqual(mustUnmarshal(t, raw), largest) {
		t.Fatalf("largest session: %d bytes, MaxSessionSize %d", len(raw), MaxSessionSize)
	}

	bad := map[string][]byte{
		"empty":       nil,
		"version":     append([]byte{2}, want[1:]...),
		"truncated":   want[:len(want)-1],
		"trailing":    append(bytes.Clone(want), 0),
		"too large":   make([]byte, MaxSessionSize+1),
		"bad flags":   func() []byte { b := bytes.Clone(want); b[sessionFixed+1] |= 0x80; return b }(),
		"many states": func() []byte { b := bytes.Clone(want); b[sessionFixed] = MaxStates + 1; return b }(),
	}
	for name, b := range bad {
		var s Session
		s.self[0] = 0x42
		if err := s.UnmarshalBinary(b); err == nil {
			t.Errorf("%s: accepted", name)
		} else if s.self[0] != 0x42 {
			t.Errorf("%s: a failed UnmarshalBinary changed the session", name)
		}
	}
}

// TestSessionCopies checks that a shallow copy of a session is a snapshot:
// later operations replace the session's slices and never write into them.
func TestSessionCopies(t *testing.T) {
	alice, bob := newParties(t)
	bob.recv(t, alice.send(t, "1"), "1")
	m2, m3 := alice.send(t, "2"), alice.send(t, "3")
	bob.recv(t, m3, "3") // leaves a skipped key
	snap := *bob.sess
	want := mustMarshal(t, &snap)
	clone := bob.sess.Clone()

	bob.recv(t, m2, "2")
	alice.recv(t, bob.send(t, "4"), "4")
	bob.recv(t, alice.send(t, "5"), "5")
	if !bytes.Equal(mustMarshal(t, &snap), want) || !bytes.Equal(mustMarshal(t, clone), want) {
		t.Fatal("operations on the session changed an earlier copy")
	}
	if bytes.Equal(mustMarshal(t, bob.sess), want) {
		t.Fatal("the session did not change")
	}
	// The copies still work independently: each can read m2 once.
	if pt, err := snap.Decrypt(bob.keys, m2, nil); err != nil || string(pt) != "2" {
		t.Fatalf("snapshot: %q, %v", pt, err)
	}
}

// TestRolledBackSession restores a sender's session from an old copy, as a
// backup or a lost write would: the same message keys are used again, but
// with fresh nonces, and the receiver rejects the repeated number.
func TestRolledBackSession(t *testing.T) {
	alice, bob := newParties(t)
	bob.recv(t, alice.send(t, "hello"), "hello")
	alice.recv(t, bob.send(t, "hi"), "hi")
	old := mustMarshal(t, alice.sess)
	m1 := alice.send(t, "attack at dawn")
	bob.recv(t, m1, "attack at dawn")
	alice.sess = mustUnmarshal(t, old)
	m2 := alice.send(t, "attack at dusk")
	if !bytes.Equal(m1[:normalPrefix], m2[:normalPrefix]) {
		t.Fatal("the rolled-back session should repeat the header")
	}
	n1, n2 := m1[normalPrefix:normalPrefix+24], m2[normalPrefix:normalPrefix+24]
	if bytes.Equal(n1, n2) {
		t.Fatal("the rolled-back session reused a nonce")
	}
	if _, err := bob.sess.Decrypt(bob.keys, m2, nil); !errors.Is(err, ErrReplay) {
		t.Fatalf("repeated message number: %v", err)
	}
}

func TestSimultaneousStart(t *testing.T) {
	alice, bob := newNode(t, 0xa1), newNode(t, 0xb0)
	// Both start a session before hearing from the other.
	a1, a2 := alice.send(t, bob, "a1"), alice.send(t, bob, "a2")
	b1 := bob.send(t, alice, "b1")
	bob.mustReceive(t, a1, alice, "a1")
	alice.mustReceive(t, b1, bob, "b1")
	bob.mustReceive(t, a2, alice, "a2")
	// While both keep sending at the same time, each side may keep
	// switching states, but nothing is lost.
	for i := range 4 {
		pa, pb := fmt.Sprint("alice ", i), fmt.Sprint("bob ", i)
		ma, mb := alice.send(t, bob, pa), bob.send(t, alice, pb)
		bob.mustReceive(t, ma, alice, pa)
		alice.mustReceive(t, mb, bob, pb)
	}
	// Once one replies to the other, they settle on one state.
	for i := range 4 {
		pa, pb := fmt.Sprint("alice again ", i), fmt.Sprint("bob again ", i)
		bob.mustReceive(t, alice.send(t, bob, pa), alice, pa)
		alice.mustReceive(t, bob.send(t, alice, pb), bob, pb)
	}
	as := mustUnmarshal(t, alice.sessions[bob.keys.Bundle().IdentityKey])
	bs := mustUnmarshal(t, bob.sessions[alice.keys.Bundle().IdentityKey])
	if as.states[0].base != bs.states[0].base {
		t.Fatal("alice and bob did not settle on one state")
	}
	if len(as.states) != 2 || len(bs.states) != 2 {
		t.Fatalf("states: alice %d, bob %d, want 2 each", len(as.states), len(bs.states))
	}
}

func TestRestartedSession(t *testing.T) {
	alice, bob := newNode(t, 0xa1), newNode(t, 0xb0)
	bob.mustReceive(t, alice.send(t, bob, "hello"), alice, "hello")
	alice.mustReceive(t, bob.send(t, alice, "hi"), bob, "hi")
	old := alice.send(t, bob, "in the old session")

	// Bob loses his session: an ordinary message cannot be read, and says
	// who sent it.
	delete(bob.sessions, alice.keys.Bundle().IdentityKey)
	from, _, err := bob.receive(t, alice.send(t, bob, "lost"))
	if !errors.Is(err, ErrNoSession) || from != alice.keys.Bundle() {
		t.Fatalf("message without a session: %v from %x", err, from.IdentityKey)
	}
	// Bob starts anew; alice keeps her old state alongside.
	alice.mustReceive(t, bob.send(t, alice, "new start"), bob, "new start")
	bob.mustReceive(t, alice.send(t, bob, "welcome back"), alice, "welcome back")
	if _, _, err := bob.receive(t, old); err == nil {
		t.Fatal("bob read a message of the session he lost")
	}

	// Alice loses hers and starts again too, more times than MaxStates.
	var starts [][]byte
	for i := range MaxStates + 2 {
		delete(alice.sessions, bob.keys.Bundle().IdentityKey)
		m := alice.send(t, bob, fmt.Sprint("restart ", i))
		starts = append(starts, m)
		bob.mustReceive(t, m, alice, fmt.Sprint("restart ", i))
		alice.mustReceive(t, bob.send(t, alice, fmt.Sprint("ok ", i)), bob, fmt.Sprint("ok ", i))
	}
	bs := mustUnmarshal(t, bob.sessions[alice.keys.Bundle().IdentityKey])
	if len(bs.states) != MaxStates || len(bs.retired) == 0 {
		t.Fatalf("bob has %d states and %d retired keys", len(bs.states), len(bs.retired))
	}
	// A replayed first message of a dropped state does not revive it.
	if _, _, err := bob.receive(t, starts[0]); !errors.Is(err, ErrReplay) {
		t.Fatalf("replayed first message of a dropped state: %v", err)
	}
	// A replayed first message of a kept state is a replay too.
	if _, _, err := bob.receive(t, starts[len(starts)-1]); !errors.Is(err, ErrReplay) {
		t.Fatalf("replayed first message of the current state: %v", err)
	}
	bob.mustReceive(t, alice.send(t, bob, "still fine"), alice, "still fine")
}

func TestSealedSenderHidesSender(t *testing.T) {
	alice, bob := newNode(t, 0xa1), newNode(t, 0xb0)
	ab := alice.keys.Bundle()
	sealed := alice.send(t, bob, "hello")
	for name, secret := range map[string][]byte{
		"identity key": ab.IdentityKey[:],
		"DH key":       ab.DHKey[:],
		"bundle sig":   ab.Sig[:],
		"bundle":       ab.Encode(),
		"plaintext":    []byte("hello"),
	} {
		parts := [][]byte{secret}
		if len(secret) >= 16 {
			parts = append(parts, secret[:8], secret[len(secret)-8:])
		}
		for _, part := range parts {
			if bytes.Contains(sealed, part) {
				t.Fatalf("the sealed box contains the sender's %s", name)
			}
		}
	}
	// Only the version and a fresh ephemeral key are in the clear.
	again := alice.send(t, bob, "hello")
	if bytes.Equal(sealed[1:33], again[1:33]) {
		t.Fatal("two boxes share an ephemeral key")
	}
	from, inner, err := Open(bob.keys, sealed)
	if err != nil || from != ab {
		t.Fatalf("Open = %x, %v", from.IdentityKey, err)
	}
	if len(inner) != prekeyPrefix+5+msgOverhead {
		t.Fatalf("inner message is %d bytes", len(inner))
	}
}

func TestSealPadding(t *testing.T) {
	bob := seedKeys(t, 0xb0)
	alice := seedKeys(t, 0xa1)
	for _, n := range []int{0, 1, 49, 50, 51, 305, 306, 307, 1000, MaxInnerSize} {
		sealed, err := Seal(bob.Bundle().DHKey, alice, make([]byte, n))
		if err != nil {
			t.Fatalf("%d: %v", n, err)
		}
		if len(sealed) != SealedSize(n) || (len(sealed)-49)%SealPadding != 0 || len(sealed) > MaxSealedSize {
			t.Fatalf("inner %d bytes: box %d bytes, SealedSize %d", n, len(sealed), SealedSize(n))
		}
		_, inner, err := Open(bob, sealed)
		if err != nil || len(inner) != n {
			t.Fatalf("Open: %d bytes, %v", len(inner), err)
		}
	}
	// One bucket: 0..50 bytes of inner message give the same size.
	if SealedSize(0) != SealedSize(50) || SealedSize(50) == SealedSize(51) || SealedSize(0) != 49+256 {
		t.Fatalf("SealedSize: %d %d %d", SealedSize(0), SealedSize(50), SealedSize(51))
	}
	if _, err := Seal(bob.Bundle().DHKey, alice, make([]byte, MaxInnerSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized inner: %v", err)
	}
	if MaxSealedSize > event.MaxPayloadSize {
		t.Fatal("a sealed box may not fit an event payload")
	}
	// A low-order recipient key is refused.
	var zero [KeySize]byte
	if _, err := Seal(zero, alice, nil); err == nil {
		t.Fatal("sealed to a low-order key")
	}
}

func TestMaxPlaintext(t *testing.T) {
	alice, bob := newNode(t, 0xa1), newNode(t, 0xb0)
	c, err := NewConversation(alice.keys, bob.keys.Bundle(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Encrypt(make([]byte, MaxPlaintextSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized plaintext: %v", err)
	}
	if len(c.Session().states) != 0 {
		t.Fatal("a failed Encrypt changed the session")
	}
	big := bytes.Repeat([]byte{'z'}, MaxPlaintextSize)
	sealed, err := c.Encrypt(big)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) > MaxSealedSize {
		t.Fatalf("box of the largest plaintext is %d bytes", len(sealed))
	}
	_, pt, _, err := Receive(bob.keys, sealed, func([]byte) (*Session, bool) { return nil, false })
	if err != nil || !bytes.Equal(pt, big) {
		t.Fatalf("Receive: %v", err)
	}
}

// sealAs builds a sealed box with any bundle and any signer, to test what
// Open accepts.
func sealAs(t *testing.T, recipient [KeySize]byte, bundle []byte, signer *crypto.Identity, signedRecipient [KeySize]byte, inner []byte) []byte {
	t.Helper()
	k := &Keys{id: signer}
	b, err := parseBundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	k.bundle = b
	sealed, err := Seal(recipient, k, inner)
	if err != nil {
		t.Fatal(err)
	}
	if signedRecipient == recipient {
		return sealed
	}
	// Re-seal with the signature made over another recipient key.
	sig := signer.Sign(DomainSeal, sealSigned(signedRecipient, inner))
	pt := make([]byte, SealedSize(len(inner))-sealHeader-sealTag)
	copy(pt, bundle)
	copy(pt[BundleSize:], sig)
	pt[sealFixed-1] = byte(len(inner))
	copy(pt[sealFixed:], inner)
	return rawSeal(t, recipient, pt)
}

func rawSeal(t *testing.T, recipient [KeySize]byte, pt []byte) []byte {
	t.Helper()
	eph, err := newKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	shared, err := dh(eph.priv, recipient)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte{sealVersion}, eph.pub[:]...)
	key, nonce := sealKey(shared, eph.pub, recipient)
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		t.Fatal(err)
	}
	return aead.Seal(out, nonce, pt, sealAD(out, recipient))
}

func TestSealedSenderAuthentication(t *testing.T) {
	alice, bob, mallory := seedKeys(t, 0xa1), seedKeys(t, 0xb0), seedKeys(t, 0x66)
	inner := []byte("inner message")
	bobDH := bob.Bundle().DHKey

	good := sealAs(t, bobDH, alice.Bundle().Encode(), alice.id, bobDH, inner)
	if from, got, err := Open(bob, good); err != nil || from != alice.Bundle() || !bytes.Equal(got, inner) {
		t.Fatalf("genuine box: %v", err)
	}
	// Mallory claims to be alice: alice's bundle, mallory's signature.
	forged := sealAs(t, bobDH, alice.Bundle().Encode(), mallory.id, bobDH, inner)
	if _, _, err := Open(bob, forged); !errors.Is(err, crypto.ErrBadSignature) {
		t.Fatalf("wrong sender signature: %v", err)
	}
	// Mallory pairs alice's identity with her own DH key.
	mixed := alice.Bundle()
	mixed.DHKey = mallory.Bundle().DHKey
	forged = sealAs(t, bobDH, mixed.Encode(), alice.id, bobDH, inner)
	if _, _, err := Open(bob, forged); !errors.Is(err, crypto.ErrBadSignature) {
		t.Fatalf("bundle with a bad signature: %v", err)
	}
	if _, _, _, err := Receive(bob, forged, func([]byte) (*Session, bool) { return nil, false }); !errors.Is(err, crypto.ErrBadSignature) {
		t.Fatalf("Receive of a bundle with a bad signature: %v", err)
	}
	// Bob forwards alice's signed message to carol as if alice sent it to
	// her: the signature names bob's key, so carol rejects it.
	carol := seedKeys(t, 0xc0)
	forwarded := sealAs(t, carol.Bundle().DHKey, alice.Bundle().Encode(), alice.id, bobDH, inner)
	if _, _, err := Open(carol, forwarded); !errors.Is(err, crypto.ErrBadSignature) {
		t.Fatalf("forwarded box: %v", err)
	}
	// Padding must be zero.
	pt := make([]byte, SealedSize(len(inner))-sealHeader-sealTag)
	copy(pt, alice.Bundle().Encode())
	copy(pt[BundleSize:], alice.id.Sign(DomainSeal, sealSigned(bobDH, inner)))
	pt[sealFixed-1] = byte(len(inner))
	copy(pt[sealFixed:], inner)
	if _, _, err := Open(bob, rawSeal(t, bobDH, pt)); err != nil {
		t.Fatalf("hand-made box: %v", err)
	}
	pt[len(pt)-1] = 1
	if _, _, err := Open(bob, rawSeal(t, bobDH, pt)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("non-zero padding: %v", err)
	}
	// So must the length: one bucket too many.
	pt = append(make([]byte, 0, len(pt)+SealPadding), pt...)
	pt[len(pt)-1] = 0
	pt = append(pt, make([]byte, SealPadding)...)
	if _, _, err := Open(bob, rawSeal(t, bobDH, pt)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("over-padded box: %v", err)
	}
}

func TestConversationChecks(t *testing.T) {
	alice, bob, carol := seedKeys(t, 0xa1), seedKeys(t, 0xb0), seedKeys(t, 0xc0)
	if _, err := NewConversation(alice, alice.Bundle(), nil); !errors.Is(err, ErrSelf) {
		t.Fatalf("conversation with oneself: %v", err)
	}
	bad := bob.Bundle()
	bad.Sig[0] ^= 1
	if _, err := NewConversation(alice, bad, nil); !errors.Is(err, crypto.ErrBadSignature) {
		t.Fatalf("bad peer bundle: %v", err)
	}
	c, err := NewConversation(alice, bob.Bundle(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sess := c.Session()
	if _, err := NewConversation(alice, carol.Bundle(), sess); !errors.Is(err, ErrSessionMismatch) {
		t.Fatalf("session with another peer: %v", err)
	}
	if _, err := NewConversation(carol, bob.Bundle(), sess); !errors.Is(err, ErrSessionMismatch) {
		t.Fatalf("session of another identity: %v", err)
	}
	if _, err := sess.Encrypt(carol, []byte("x"), nil); !errors.Is(err, ErrSessionMismatch) {
		t.Fatalf("Encrypt with another identity: %v", err)
	}
	if c.Peer() != bob.Bundle() {
		t.Fatal("Peer is not bob's bundle")
	}

	// Receive with a lookup that returns the wrong session.
	sealed, err := c.Encrypt([]byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	wrong := newParty(t, bob, carol).sess
	if _, _, _, err := Receive(bob, sealed, func([]byte) (*Session, bool) { return wrong, true }); !errors.Is(err, ErrSessionMismatch) {
		t.Fatalf("Receive with carol's session: %v", err)
	}
	// Receive leaves the looked-up session alone.
	var got []byte
	bs := newParty(t, bob, alice).sess
	before := mustMarshal(t, bs)
	from, pt, next, err := Receive(bob, sealed, func(k []byte) (*Session, bool) { got = k; return bs, true })
	if err != nil || string(pt) != "hi" || from != alice.Bundle() {
		t.Fatalf("Receive: %q, %v", pt, err)
	}
	if ab := alice.Bundle(); !bytes.Equal(got, ab.IdentityKey[:]) {
		t.Fatalf("lookup got %x", got)
	}
	if !bytes.Equal(mustMarshal(t, bs), before) || next == bs {
		t.Fatal("Receive changed the looked-up session")
	}
	// A box from oneself.
	self, err := Seal(bob.Bundle().DHKey, bob, []byte("note"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := Receive(bob, self, func([]byte) (*Session, bool) { return nil, false }); !errors.Is(err, ErrSelf) {
		t.Fatalf("box from oneself: %v", err)
	}
}

// A node back from a week away unseals its waiting mail on every core and
// then reads it in its sessions in order: the boxes unsealed at once read
// as each would alone, and a box for someone else does not unseal.
func TestUnsealManyAtOnce(t *testing.T) {
	alice, bob, carol := newNode(t, 0xa1), newNode(t, 0xb0), newNode(t, 0xc3)
	var boxes [][]byte
	var want []string
	for i := range 64 {
		pt := fmt.Sprintf("message %d while bob was away", i)
		boxes, want = append(boxes, alice.send(t, bob, pt)), append(want, pt)
	}
	boxes = append(boxes, alice.send(t, carol, "for carol"))
	unsealed := make([]*Unsealed, len(boxes))
	errs := make([]error, len(boxes))
	var wg sync.WaitGroup
	for i, box := range boxes {
		wg.Go(func() { unsealed[i], errs[i] = Unseal(bob.keys, box) })
	}
	wg.Wait()
	if !errors.Is(errs[len(boxes)-1], crypto.ErrDecrypt) {
		t.Fatalf("carol's box unsealed for bob: %v", errs[len(boxes)-1])
	}
	for i, pt := range want {
		if errs[i] != nil {
			t.Fatalf("box %d: %v", i, errs[i])
		}
		from, got, sess, err := ReceiveUnsealed(bob.keys, unsealed[i], func(peer []byte) (*Session, bool) { return bob.session(t, peer) })
		if err != nil || string(got) != pt || from != alice.keys.Bundle() {
			t.Fatalf("box %d: %q from %x, %v", i, got, from.IdentityKey[:4], err)
		}
		bob.sessions[from.IdentityKey] = mustMarshal(t, sess)
	}
}
