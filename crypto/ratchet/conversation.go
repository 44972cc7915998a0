package ratchet

import (
	"bytes"
	"fmt"
)

// Conversation is one private conversation as the node uses it: the local
// keys and the session with one peer. Encrypt produces sealed boxes ready to
// carry; Receive is its counterpart.
type Conversation struct {
	me   *Keys
	sess *Session
}

// NewConversation returns the conversation between me and the owner of
// peer (a verified bundle, from an invite or a received message). sess is
// the stored session with that peer, or nil if there is none yet: then the
// first Encrypt starts one.
func NewConversation(me *Keys, peer Bundle, sess *Session) (*Conversation, error) {
	if peer.IdentityKey == me.bundle.IdentityKey {
		return nil, ErrSelf
	}
	if sess == nil {
		if err := peer.Verify(); err != nil {
			return nil, fmt.Errorf("peer bundle: %w", err)
		}
		sess = &Session{self: me.bundle.IdentityKey, peer: peer}
	} else if sess.self != me.bundle.IdentityKey || sess.peer.IdentityKey != peer.IdentityKey {
		return nil, ErrSessionMismatch
	}
	return &Conversation{me: me, sess: sess}, nil
}

// Peer returns the peer's bundle.
func (c *Conversation) Peer() Bundle { return c.sess.peer }

// Session returns the session, to persist after every Encrypt. It is the
// session given to NewConversation, if one was.
func (c *Conversation) Session() *Session { return c.sess }

// Encrypt ratchet-encrypts pt (with empty associated data) and seals the
// message to the peer. It advances the session in place; on error the
// session is unchanged. pt may be up to MaxPlaintextSize bytes; the result
// is SealedSize(len(pt)+82) bytes, or SealedSize(len(pt)+114) while the peer
// has not yet replied in this session.
func (c *Conversation) Encrypt(pt []byte) ([]byte, error) {
	next, inner, err := c.sess.encrypt(c.me, pt, nil)
	if err != nil {
		return nil, err
	}
	sealed, err := Seal(next.peer.DHKey, c.me, inner)
	if err != nil {
		return nil, err
	}
	*c.sess = *next
	return sealed, nil
}

// Receive opens a sealed box made by Conversation.Encrypt, authenticates its
// sender, and decrypts it in the session with the sender. lookup returns the
// stored session with the sender's identity key, if any; a session-starting
// message from a sender with none creates one. Receive does not change the
// session lookup returns: it returns the updated session, to persist in its
// place before pt is acknowledged.
//
// from is the sender's verified bundle. It is also returned with some
// errors, once the sender is authenticated (ErrReplay, ErrNoSession,
// ErrTooManySkipped, crypto.ErrDecrypt of the inner message), so that the
// caller can attribute them; then sess is nil.
func Receive(me *Keys, sealed []byte, lookup func(peerIdentityKey []byte) (*Session, bool)) (from Bundle, pt []byte, sess *Session, err error) {
	u, err := Unseal(me, sealed)
	if err != nil {
		return Bundle{}, nil, nil, err
	}
	return ReceiveUnsealed(me, u, lookup)
}

// Unsealed is a sealed box opened to its authenticated sender and the
// message inside, not yet decrypted in a session.
type Unsealed struct {
	from  Bundle
	inner []byte
}

// Unseal is the first half of Receive: it opens the sealed box and
// authenticates its sender, a Diffie-Hellman and a signature check that
// need no session, so that many boxes can be opened at once.
func Unseal(me *Keys, sealed []byte) (*Unsealed, error) {
	b, inner, err := open(me, sealed)
	if err != nil {
		return nil, err
	}
	if b.IdentityKey == me.bundle.IdentityKey {
		return nil, ErrSelf
	}
	return &Unsealed{from: b, inner: inner}, nil
}

// ReceiveUnsealed is the second half of Receive, for a box opened with
// Unseal: it decrypts the message in the session with the sender.
func ReceiveUnsealed(me *Keys, u *Unsealed, lookup func(peerIdentityKey []byte) (*Session, bool)) (from Bundle, pt []byte, sess *Session, err error) {
	b, inner := u.from, u.inner
	old, ok := lookup(bytes.Clone(b.IdentityKey[:]))
	// The bundle of a known session was verified when it was stored.
	if !ok || old == nil || old.peer != b {
		if err := b.Verify(); err != nil {
			return Bundle{}, nil, nil, fmt.Errorf("sender bundle: %w", err)
		}
	}
	if !ok || old == nil {
		old = &Session{self: me.bundle.IdentityKey, peer: b}
	}
	next, pt, err := old.decrypt(me, b, inner, nil)
	if err != nil {
		return b, nil, nil, err
	}
	return b, pt, next, nil
}
