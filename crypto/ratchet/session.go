package ratchet

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/banyan-mesh/banyan/crypto"
)

// Bounds on a session's state.
const (
	// MaxSkip is the most message keys one incoming message may make a
	// chain skip (for messages that have not arrived yet). A message that
	// needs more is rejected with ErrTooManySkipped. One message can end
	// one chain and start the next, so it may skip up to 2*MaxSkip keys.
	MaxSkip = 1000
	// MaxSkippedKeys bounds the stored keys of skipped messages in a
	// session. When more are stored, the oldest are forgotten: those
	// messages, if they ever arrive, can no longer be read.
	MaxSkippedKeys = 2000
	// MaxStates bounds the ratchet states a session keeps: the current one
	// and older ones still used by messages in flight (after both sides
	// started a session at once, or one side restarted it).
	MaxStates = 4
	// maxRetired bounds the remembered base keys of dropped states.
	maxRetired = 16
)

// state is one Double Ratchet state, started by one X3DH agreement. Every
// field is an array or a number, so copying a state copies it entirely.
//
// A state that has never received has no receiving chain; for an initiator
// that means it still sends prekey messages. Stored states always have a
// sending chain; a responder's state is stored only after its first message
// is decrypted, which gives it one.
type state struct {
	initiator bool          // this side made the X3DH agreement
	hasRecv   bool          // recvCK is set: this state has received
	base      [KeySize]byte // the initiator's ephemeral X3DH key: names the state
	root      [KeySize]byte
	dhs       keyPair       // our current ratchet key pair
	dhr       [KeySize]byte // their current ratchet key
	prev      [KeySize]byte // their previous ratchet key, or zero
	sendCK    [KeySize]byte
	sendN     uint32
	recvCK    [KeySize]byte
	recvN     uint32
	pn        uint32 // length of our previous sending chain
}

// skippedKey is the key of a message that has not arrived yet.
type skippedKey struct {
	dh [KeySize]byte
	n  uint32
	mk [KeySize]byte
}

// Session is the end-to-end encryption state between the local identity and
// one peer: up to MaxStates Double Ratchet states (the first is current),
// the keys of skipped messages, and the peer's bundle.
//
// Every method that changes a session replaces its slices rather than
// writing into them, and changes nothing when it fails. So a shallow copy
// (s2 := *s) stays a consistent snapshot, and a failed decryption never
// corrupts a session. Persist the session (MarshalBinary) after every
// successful Encrypt or Decrypt: a stale copy reuses keys. A Session is not
// safe for concurrent use.
type Session struct {
	self    [crypto.PublicKeySize]byte
	peer    Bundle
	states  []state
	skipped []skippedKey    // oldest first
	retired [][KeySize]byte // base keys of dropped states, oldest first
}

// Peer returns the peer's bundle.
func (s *Session) Peer() Bundle { return s.peer }

// Clone returns a deep copy of s.
func (s *Session) Clone() *Session {
	c := *s
	c.states = slices.Clone(s.states)
	c.skipped = slices.Clone(s.skipped)
	c.retired = slices.Clone(s.retired)
	return &c
}

// Encrypt encrypts pt for the peer, binding ad (which the peer must pass to
// Decrypt). The first message of a session runs the X3DH agreement with the
// peer's bundle. The result is the inner message; Conversation.Encrypt also
// seals it.
func (s *Session) Encrypt(me *Keys, pt, ad []byte) ([]byte, error) {
	next, msg, err := s.encrypt(me, pt, ad)
	if err != nil {
		return nil, err
	}
	*s = *next
	return msg, nil
}

// Decrypt decrypts a message from the peer made by Encrypt with the same ad.
// A message that starts a session is agreed with the stored peer bundle.
func (s *Session) Decrypt(me *Keys, msg, ad []byte) ([]byte, error) {
	next, pt, err := s.decrypt(me, s.peer, msg, ad)
	if err != nil {
		return nil, err
	}
	*s = *next
	return pt, nil
}

func (s *Session) encrypt(me *Keys, pt, ad []byte) (*Session, []byte, error) {
	if me.bundle.IdentityKey != s.self {
		return nil, nil, ErrSessionMismatch
	}
	if len(pt) > MaxPlaintextSize {
		return nil, nil, ErrTooLarge
	}
	next := s.Clone()
	if len(next.states) == 0 {
		st, err := initiate(me, next.peer)
		if err != nil {
			return nil, nil, err
		}
		next.push(st)
	}
	st := &next.states[0]
	if st.sendN == math.MaxUint32 {
		return nil, nil, fmt.Errorf("%w: sending chain exhausted", ErrTooLarge)
	}
	m := message{prekey: st.initiator && !st.hasRecv, base: st.base, dh: st.dhs.pub, pn: st.pn, n: st.sendN}
	var mk [KeySize]byte
	st.sendCK, mk = kdfCK(st.sendCK)
	st.sendN++
	out := m.appendPrefix(make([]byte, 0, prekeyPrefix+len(pt)+msgOverhead))
	out, err := sealMessage(out, mk, pt, messageAD(s.self, s.peer.IdentityKey, ad, out))
	if err != nil {
		return nil, nil, err
	}
	return next, out, nil
}

// decrypt decrypts raw from peer (whose identity key must be the session's)
// and returns the session as it is after. s is not changed.
func (s *Session) decrypt(me *Keys, peer Bundle, raw, ad []byte) (*Session, []byte, error) {
	if me.bundle.IdentityKey != s.self || peer.IdentityKey != s.peer.IdentityKey {
		return nil, nil, ErrSessionMismatch
	}
	m, err := parseMessage(raw)
	if err != nil {
		return nil, nil, err
	}
	mad := messageAD(s.peer.IdentityKey, s.self, ad, m.prefix)

	// A message that arrives after a later one of its chain.
	if i := slices.IndexFunc(s.skipped, func(k skippedKey) bool { return k.dh == m.dh && k.n == m.n }); i >= 0 {
		pt, err := openMessage(s.skipped[i].mk, m.ct, mad)
		if err != nil {
			return nil, nil, err
		}
		next := s.Clone()
		next.skipped = slices.Delete(next.skipped, i, i+1)
		return next, pt, nil
	}

	// Which states may decrypt it: -1 stands for a new responder state.
	var cands []int
	var fresh state
	if m.prekey {
		i := slices.IndexFunc(s.states, func(st state) bool { return st.base == m.base })
		switch {
		case i >= 0 && s.states[i].initiator:
			// Our own base key: a reflected message.
			return nil, nil, crypto.ErrDecrypt
		case i >= 0:
			cands = []int{i}
		case slices.Contains(s.retired, m.base):
			// The first messages of a session dropped long ago.
			return nil, nil, ErrReplay
		default:
			if fresh, err = respond(me, peer, m.base); err != nil {
				return nil, nil, err
			}
			cands = []int{-1}
		}
	} else {
		known := func(st state) bool { return st.dhr == m.dh || (st.prev == m.dh && st.prev != [KeySize]byte{}) }
		switch i := slices.IndexFunc(s.states, known); {
		case i >= 0:
			cands = []int{i}
		case len(s.states) == 0:
			return nil, nil, ErrNoSession
		default:
			// A new ratchet key: try each state's DH ratchet step.
			for i := range s.states {
				cands = append(cands, i)
			}
		}
	}

	err = crypto.ErrDecrypt
	for _, i := range cands {
		st := fresh
		if i >= 0 {
			st = s.states[i]
		}
		skipped, pt, rerr := st.receive(&m, mad)
		if rerr != nil {
			if rerr != crypto.ErrDecrypt {
				err = rerr
			}
			continue
		}
		next := s.Clone()
		if i >= 0 {
			next.states = slices.Delete(next.states, i, i+1)
		} else {
			next.peer = peer
		}
		next.push(st) // the state in use becomes current
		next.addSkipped(skipped)
		return next, pt, nil
	}
	return nil, nil, err
}

// push makes st the current state, dropping the oldest beyond MaxStates.
func (s *Session) push(st state) {
	s.states = slices.Insert(s.states, 0, st)
	if len(s.states) > MaxStates {
		dropped := s.states[MaxStates]
		s.states = slices.Clone(s.states[:MaxStates])
		s.retired = append(s.retired, dropped.base)
		if len(s.retired) > maxRetired {
			s.retired = slices.Clone(s.retired[len(s.retired)-maxRetired:])
		}
	}
}

// addSkipped stores skipped keys, forgetting the oldest beyond
// MaxSkippedKeys.
func (s *Session) addSkipped(keys []skippedKey) {
	s.skipped = append(s.skipped, keys...)
	if len(s.skipped) > MaxSkippedKeys {
		s.skipped = slices.Clone(s.skipped[len(s.skipped)-MaxSkippedKeys:])
	}
}

// initiate starts a state as the initiator, with no one-time prekey:
//
//	SK = X3DH(DH(our static, their static) || DH(ephemeral, their static))
//
// Their static key is also their first ratchet key, as a signed prekey is in
// Signal.
func initiate(me *Keys, peer Bundle) (state, error) {
	ek, err := newKeyPair()
	if err != nil {
		return state{}, err
	}
	rk, err := newKeyPair()
	if err != nil {
		return state{}, err
	}
	dh1, err := dh(me.priv, peer.DHKey)
	if err != nil {
		return state{}, fmt.Errorf("peer DH key: %w", err)
	}
	dh2, err := dh(ek.priv, peer.DHKey)
	if err != nil {
		return state{}, fmt.Errorf("peer DH key: %w", err)
	}
	dh3, err := dh(rk.priv, peer.DHKey)
	if err != nil {
		return state{}, fmt.Errorf("peer DH key: %w", err)
	}
	st := state{initiator: true, base: ek.pub, dhs: rk, dhr: peer.DHKey}
	st.root, st.sendCK = kdfRK(x3dh(dh1, dh2, me.bundle, peer, ek.pub), dh3)
	return st, nil
}

// respond makes the responder's state for a prekey message with base key
// base. Its first ratchet key pair is the static key; the first message
// received replaces it.
func respond(me *Keys, peer Bundle, base [KeySize]byte) (state, error) {
	dh1, err := dh(me.priv, peer.DHKey)
	if err != nil {
		return state{}, crypto.ErrDecrypt
	}
	dh2, err := dh(me.priv, base)
	if err != nil {
		return state{}, crypto.ErrDecrypt
	}
	return state{
		base: base,
		root: x3dh(dh1, dh2, peer, me.bundle, base),
		dhs:  keyPair{priv: me.priv, pub: me.bundle.DHKey},
	}, nil
}

// x3dh derives the shared secret of a session:
//
//	SK = HKDF-SHA256(ikm = dh1 || dh2, salt = none,
//	                 info = "banyan/dm-x3dh/v1" || 0x00 || IK_I || IK_R || DH_I || DH_R || EK)
func x3dh(dh1, dh2 []byte, initiator, responder Bundle, base [KeySize]byte) [KeySize]byte {
	info := make([]byte, 0, len(infoX3DH)+1+5*KeySize)
	info = append(info, infoX3DH...)
	info = append(info, 0)
	info = append(info, initiator.IdentityKey[:]...)
	info = append(info, responder.IdentityKey[:]...)
	info = append(info, initiator.DHKey[:]...)
	info = append(info, responder.DHKey[:]...)
	info = append(info, base[:]...)
	ikm := append(slices.Clip(dh1), dh2...)
	return [KeySize]byte(kdf(ikm, nil, string(info), KeySize))
}

// receive decrypts m in st (a copy the caller discards on error) and
// returns the keys it skipped.
func (st *state) receive(m *message, ad []byte) ([]skippedKey, []byte, error) {
	if m.n == math.MaxUint32 {
		// No chain is that long (Encrypt stops before); recvN would wrap.
		return nil, nil, crypto.ErrDecrypt
	}
	var skipped []skippedKey
	var err error
	if m.dh == st.dhr {
		if !st.hasRecv {
			return nil, nil, crypto.ErrDecrypt
		}
		if m.n < st.recvN {
			return nil, nil, ErrReplay
		}
		if skipped, err = st.skip(m.n, nil); err != nil {
			return nil, nil, err
		}
	} else if m.dh == st.prev && st.prev != [KeySize]byte{} {
		// Every key of the previous chain was used, or stored as
		// skipped, when the chain ended.
		return nil, nil, ErrReplay
	} else {
		if skipped, err = st.skip(m.pn, nil); err != nil {
			return nil, nil, err
		}
		if err := st.ratchet(m.dh); err != nil {
			return nil, nil, err
		}
		if skipped, err = st.skip(m.n, skipped); err != nil {
			return nil, nil, err
		}
	}
	var mk [KeySize]byte
	st.recvCK, mk = kdfCK(st.recvCK)
	pt, err := openMessage(mk, m.ct, ad)
	if err != nil {
		return nil, nil, err
	}
	st.recvN++
	return skipped, pt, nil
}

// skip advances the receiving chain to message number until, returning the
// keys of the messages passed over.
func (st *state) skip(until uint32, out []skippedKey) ([]skippedKey, error) {
	if !st.hasRecv || until <= st.recvN {
		return out, nil
	}
	if until-st.recvN > MaxSkip {
		return nil, ErrTooManySkipped
	}
	for st.recvN < until {
		var mk [KeySize]byte
		st.recvCK, mk = kdfCK(st.recvCK)
		out = append(out, skippedKey{dh: st.dhr, n: st.recvN, mk: mk})
		st.recvN++
	}
	return out, nil
}

// ratchet is the DH ratchet step for the peer's new ratchet key.
func (st *state) ratchet(remote [KeySize]byte) error {
	recvDH, err := dh(st.dhs.priv, remote)
	if err != nil {
		return crypto.ErrDecrypt
	}
	kp, err := newKeyPair()
	if err != nil {
		return err
	}
	sendDH, err := dh(kp.priv, remote)
	if err != nil {
		return crypto.ErrDecrypt
	}
	st.prev, st.dhr = st.dhr, remote // a new responder state has no dhr: prev stays zero
	st.pn, st.sendN, st.recvN = st.sendN, 0, 0
	st.root, st.recvCK = kdfRK(st.root, recvDH)
	st.hasRecv = true
	st.dhs = kp
	st.root, st.sendCK = kdfRK(st.root, sendDH)
	return nil
}

// Session state serialization, version 1:
//
//	0x01 || self identity key (32) || peer bundle: identity key (32) || DH key (32) || sig (64)
//	|| count (1) || states || count (2, u16be) || skipped keys || count (1) || retired base keys (32 each)
//	state   = flags (1: 0x01 initiator, 0x02 has receiving chain) || base || root || our ratchet
//	          private key || our ratchet public key || their ratchet key || their previous
//	          ratchet key || sending chain key (32 each) || u32be(sending N)
//	          || receiving chain key (32) || u32be(receiving N) || u32be(PN)
//	skipped = their ratchet key (32) || u32be(N) || message key (32)
const (
	stateVersion  = 1
	sessionFixed  = 1 + crypto.PublicKeySize + crypto.PublicKeySize + KeySize + crypto.SignatureSize
	stateSize     = 1 + 7*KeySize + 4 + KeySize + 4 + 4
	skippedSize   = KeySize + 4 + KeySize
	flagInitiator = 0x01
	flagHasRecv   = 0x02

	// MaxSessionSize bounds the serialized form of a Session.
	MaxSessionSize = sessionFixed + 1 + MaxStates*stateSize + 2 + MaxSkippedKeys*skippedSize + 1 + maxRetired*KeySize
)

// MarshalBinary encodes the session for storage. The encoding holds secret
// keys: store it as carefully as the identity key, and overwrite it after
// every message so that used keys are gone.
func (s *Session) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, sessionFixed+1+len(s.states)*stateSize+2+len(s.skipped)*skippedSize+1+len(s.retired)*KeySize)
	b = append(b, stateVersion)
	b = append(b, s.self[:]...)
	b = append(b, s.peer.IdentityKey[:]...)
	b = append(b, s.peer.DHKey[:]...)
	b = append(b, s.peer.Sig[:]...)
	b = append(b, byte(len(s.states)))
	for _, st := range s.states {
		var flags byte
		if st.initiator {
			flags |= flagInitiator
		}
		if st.hasRecv {
			flags |= flagHasRecv
		}
		b = append(b, flags)
		for _, k := range [][KeySize]byte{st.base, st.root, st.dhs.priv, st.dhs.pub, st.dhr, st.prev, st.sendCK} {
			b = append(b, k[:]...)
		}
		b = binary.BigEndian.AppendUint32(b, st.sendN)
		b = append(b, st.recvCK[:]...)
		b = binary.BigEndian.AppendUint32(b, st.recvN)
		b = binary.BigEndian.AppendUint32(b, st.pn)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(s.skipped)))
	for _, k := range s.skipped {
		b = append(b, k.dh[:]...)
		b = binary.BigEndian.AppendUint32(b, k.n)
		b = append(b, k.mk[:]...)
	}
	b = append(b, byte(len(s.retired)))
	for _, k := range s.retired {
		b = append(b, k[:]...)
	}
	return b, nil
}

// reader reads fixed-size fields; it records the first short read.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) next(n int) []byte {
	if r.bad || len(r.b) < n {
		r.bad = true
		return make([]byte, n)
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) key() [KeySize]byte { return [KeySize]byte(r.next(KeySize)) }
func (r *reader) u32() uint32        { return binary.BigEndian.Uint32(r.next(4)) }

// UnmarshalBinary decodes a session encoded by MarshalBinary. It keeps no
// reference to data. On error s is unchanged.
func (s *Session) UnmarshalBinary(data []byte) error {
	if len(data) > MaxSessionSize {
		return ErrTooLarge
	}
	if len(data) < 1 || data[0] != stateVersion {
		return fmt.Errorf("%w: session state version", ErrMalformed)
	}
	r := &reader{b: data[1:]}
	var out Session
	out.self = r.key()
	out.peer.IdentityKey = r.key()
	out.peer.DHKey = r.key()
	out.peer.Sig = [crypto.SignatureSize]byte(r.next(crypto.SignatureSize))
	n := int(r.next(1)[0])
	if n > MaxStates {
		return fmt.Errorf("%w: %d session states", ErrMalformed, n)
	}
	var zero [KeySize]byte
	for range n {
		var st state
		flags := r.next(1)[0]
		st.initiator, st.hasRecv = flags&flagInitiator != 0, flags&flagHasRecv != 0
		st.base, st.root, st.dhs.priv, st.dhs.pub, st.dhr, st.prev, st.sendCK = r.key(), r.key(), r.key(), r.key(), r.key(), r.key(), r.key()
		st.sendN = r.u32()
		st.recvCK, st.recvN, st.pn = r.key(), r.u32(), r.u32()
		switch {
		case flags&^(flagInitiator|flagHasRecv) != 0:
			return fmt.Errorf("%w: session state flags %#x", ErrMalformed, flags)
		case !st.initiator && !st.hasRecv:
			return fmt.Errorf("%w: responder state that never received", ErrMalformed)
		case !st.hasRecv && (st.recvCK != zero || st.recvN != 0 || st.prev != zero || st.pn != 0):
			return fmt.Errorf("%w: receiving chain fields without a receiving chain", ErrMalformed)
		}
		out.states = append(out.states, st)
	}
	n = int(binary.BigEndian.Uint16(r.next(2)))
	if n > MaxSkippedKeys {
		return fmt.Errorf("%w: %d skipped keys", ErrMalformed, n)
	}
	if n > 0 {
		out.skipped = make([]skippedKey, n)
	}
	for i := range out.skipped {
		out.skipped[i] = skippedKey{dh: r.key(), n: r.u32(), mk: r.key()}
	}
	n = int(r.next(1)[0])
	if n > maxRetired {
		return fmt.Errorf("%w: %d retired keys", ErrMalformed, n)
	}
	for range n {
		out.retired = append(out.retired, r.key())
	}
	switch {
	case r.bad:
		return fmt.Errorf("%w: session state truncated", ErrMalformed)
	case len(r.b) != 0:
		return fmt.Errorf("%w: %d trailing bytes after session state", ErrMalformed, len(r.b))
	case out.self == out.peer.IdentityKey:
		return fmt.Errorf("%w: %w", ErrMalformed, ErrSelf)
	}
	*s = out
	return nil
}
