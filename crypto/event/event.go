// Package event defines Banyan's one signed-event envelope: every item a user
// creates (a group message today; private messages, wallet entries and posts
// later) travels and is stored as an Event. The package encodes, decodes,
// signs and verifies envelopes; it knows nothing of what the payload means.
//
// Wire form (documented in docs/PROTOCOL.md):
//
//	envelope = version(1 byte, 0x01) || signature(64 bytes) || body
//	body     = deterministic CBOR map with integer keys (see Body)
//	id       = SHA-256(body)
//	sig      = Ed25519(author, "banyan/event/v1" || 0x00 || body)
//
// The signature covers the exact body bytes and the ID hashes them, so no
// re-encoding ever happens between receiving and verifying, and a signature
// cannot be swapped to change an ID.
package event

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/banyan-mesh/banyan/crypto"
)

// Version is the envelope format version, the first byte of every envelope.
const Version = 1

// Limits on decoded input. MaxEnvelopeSize bounds everything a peer can make
// a node decode; MaxPayloadSize bounds the (encrypted) payload inside it.
const (
	MaxEnvelopeSize = 64 << 10
	MaxPayloadSize  = 60 << 10
	headerSize      = 1 + crypto.SignatureSize
)

// IDSize is the size of an event ID, a SHA-256 hash.
const IDSize = sha256.Size

// ID identifies an event: the SHA-256 of its body bytes.
type ID [IDSize]byte

// String returns the ID in lowercase hex.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ParseID parses a hex event ID.
func ParseID(s string) (ID, error) {
	var id ID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != IDSize {
		return id, fmt.Errorf("event id %q: want %d hex bytes", s, IDSize)
	}
	copy(id[:], b)
	return id, nil
}

// MinPrefix is the fewest hex digits of an ID (an event's, or a group's
// or list's) that a person may give for it, on the command line and in the
// API, where they begin no other ID.
const MinPrefix = 6

// IsIDPrefix reports whether ref can begin the hex of an ID: MinPrefix to
// 2*IDSize hex digits.
func IsIDPrefix(ref string) bool {
	if len(ref) < MinPrefix || len(ref) > 2*IDSize {
		return false
	}
	// An odd last digit is checked as the first of a byte.
	_, err := hex.DecodeString(ref + "0"[:len(ref)%2])
	return err == nil
}

// ScopeSize is the size of a scope identifier.
const ScopeSize = 32

// Scope names a replicated set of events: one group's history, one mailbox.
type Scope [ScopeSize]byte

// String returns the scope in lowercase hex.
func (s Scope) String() string { return hex.EncodeToString(s[:]) }

// Kind says what an event's payload is.
type Kind uint16

// Event kinds.
const (
	KindGroupMessage Kind = 1
	// KindSealed is a private message sealed to its recipient, signed by a
	// one-time key so that carriers learn nothing about its sender.
	KindSealed Kind = 2
	// KindWalletEntry is an entry of a wallet chain; its payload says
	// which (package wallet).
	KindWalletEntry Kind = 16
	// KindListOp, KindEventPost, KindEventRSVP and KindEventCancel travel
	// beside a group's messages, in scopes of their own sealed with the
	// group's key (a group's lists and events): relays keep them too.
	KindListOp      Kind = 32
	KindEventPost   Kind = 33
	KindEventRSVP   Kind = 34
	KindEventCancel Kind = 35
)

// GroupTopicKinds are the kinds of the scopes whose topics have the form
// of a group's.
var GroupTopicKinds = []Kind{KindGroupMessage, KindListOp, KindEventPost, KindEventRSVP, KindEventCancel}

// Body is the signed content of an event. Field numbers are the CBOR map
// keys; they never change meaning.
type Body struct {
	Author  []byte `cbor:"1,keyasint"`           // Ed25519 public key, 32 bytes
	Scope   []byte `cbor:"2,keyasint"`           // 32 bytes
	Seq     uint64 `cbor:"3,keyasint"`           // per (author, scope), from 1
	Prev    []byte `cbor:"4,keyasint,omitempty"` // ID of the author's previous event in the scope; absent for Seq 1
	Time    int64  `cbor:"5,keyasint"`           // author's clock, Unix milliseconds
	Kind    Kind   `cbor:"6,keyasint"`
	Payload []byte `cbor:"7,keyasint"` // kind-specific, usually encrypted
}

// Event is a decoded, verified envelope. Raw holds the exact envelope bytes;
// they are what is stored and forwarded.
type Event struct {
	Body
	ID  ID
	Sig []byte
	Raw []byte
}

// Errors returned by Decode, one per rejection reason so that callers can
// count them.
var (
	ErrTooLarge   = errors.New("envelope too large")
	ErrMalformed  = errors.New("malformed envelope")
	ErrBadVersion = errors.New("unknown envelope version")
)

var (
	encMode = crypto.CanonicalCBOR
	decMode = crypto.StrictCBOR(4, 16)
)

// Sign builds, signs and encodes an event.
func Sign(id *crypto.Identity, b Body) (*Event, error) {
	b.Author = id.PublicKey()
	// The event must not change when the caller reuses its buffers.
	b.Scope, b.Prev, b.Payload = bytes.Clone(b.Scope), bytes.Clone(b.Prev), bytes.Clone(b.Payload)
	if err := b.check(); err != nil {
		return nil, err
	}
	body, err := encMode.Marshal(&b)
	if err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	sig := id.Sign(crypto.DomainEvent, body)
	raw := make([]byte, 0, headerSize+len(body))
	raw = append(raw, Version)
	raw = append(raw, sig...)
	raw = append(raw, body...)
	if len(raw) > MaxEnvelopeSize {
		return nil, ErrTooLarge
	}
	return &Event{Body: b, ID: sha256.Sum256(body), Sig: sig, Raw: raw}, nil
}

// Decode parses and verifies an envelope. The returned event keeps a
// reference to raw.
func Decode(raw []byte) (*Event, error) {
	ev, err := decodeUnverified(raw)
	if err != nil {
		return nil, err
	}
	if err := crypto.Verify(ev.Author, crypto.DomainEvent, raw[headerSize:], ev.Sig); err != nil {
		return nil, err
	}
	return ev, nil
}

// DecodeAll is Decode for each envelope of raws, checking the signatures
// as one batch (crypto.Batch: faster, and exactly as strict). It returns,
// for each envelope, the event or why it was refused.
func DecodeAll(raws [][]byte) ([]*Event, []error) {
	evs := make([]*Event, len(raws))
	errs := make([]error, len(raws))
	b := crypto.NewBatch(len(raws))
	var parsed []int
	for i, raw := range raws {
		if evs[i], errs[i] = decodeUnverified(raw); errs[i] == nil {
			b.Add(evs[i].Author, crypto.DomainEvent, raw[headerSize:], evs[i].Sig)
			parsed = append(parsed, i)
		}
	}
	for j, err := range b.Verify() {
		if i := parsed[j]; err != nil {
			evs[i], errs[i] = nil, err
		}
	}
	return evs, errs
}

// decodeUnverified is Decode up to, not including, the signature check.
func decodeUnverified(raw []byte) (*Event, error) {
	if len(raw) > MaxEnvelopeSize {
		return nil, ErrTooLarge
	}
	if len(raw) < headerSize+1 {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(raw))
	}
	if raw[0] != Version {
		return nil, fmt.Errorf("%w %d", ErrBadVersion, raw[0])
	}
	sig, body := raw[1:headerSize], raw[headerSize:]
	var b Body
	if err := decMode.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	// Only the canonical encoding is accepted, so an author cannot give one
	// event several IDs by re-encoding its body.
	if canon, err := encMode.Marshal(&b); err != nil || !bytes.Equal(canon, body) {
		return nil, fmt.Errorf("%w: body is not in canonical CBOR form", ErrMalformed)
	}
	return &Event{Body: b, ID: sha256.Sum256(body), Sig: sig, Raw: raw}, nil
}

// PeekID returns the ID an envelope would have, without verifying it.
// Gossipsub uses it as the message ID so that duplicates are dropped early.
func PeekID(raw []byte) (ID, bool) {
	if len(raw) <= headerSize || raw[0] != Version {
		return ID{}, false
	}
	return sha256.Sum256(raw[headerSize:]), true
}

func (b *Body) check() error {
	switch {
	case len(b.Author) != crypto.PublicKeySize:
		return fmt.Errorf("%w: author is %d bytes", ErrMalformed, len(b.Author))
	case len(b.Scope) != ScopeSize:
		return fmt.Errorf("%w: scope is %d bytes", ErrMalformed, len(b.Scope))
	case b.Seq == 0:
		return fmt.Errorf("%w: seq 0", ErrMalformed)
	case b.Seq == 1 && len(b.Prev) != 0:
		return fmt.Errorf("%w: first event has a prev", ErrMalformed)
	case b.Seq > 1 && len(b.Prev) != IDSize:
		return fmt.Errorf("%w: prev is %d bytes", ErrMalformed, len(b.Prev))
	case len(b.Payload) == 0:
		// Empty and null would be two encodings of one payload.
		return fmt.Errorf("%w: empty payload", ErrMalformed)
	case len(b.Payload) > MaxPayloadSize:
		return ErrTooLarge
	}
	return nil
}

// ScopeID returns the event's scope as a Scope.
func (e *Event) ScopeID() Scope {
	var s Scope
	copy(s[:], e.Scope)
	return s
}

// PrevID returns the ID of the author's previous event, or the zero ID.
func (e *Event) PrevID() ID {
	var id ID
	copy(id[:], e.Prev)
	return id
}

// SameAuthor reports whether the event was signed by pub.
func (e *Event) SameAuthor(pub []byte) bool { return bytes.Equal(e.Author, pub) }

// Parse decodes an envelope that was verified when it entered this node (it
// is read back from the local store) without checking the signature again.
func Parse(raw []byte) (*Event, error) {
	if len(raw) < headerSize+1 || raw[0] != Version {
		return nil, ErrMalformed
	}
	var b Body
	if err := decMode.Unmarshal(raw[headerSize:], &b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return &Event{Body: b, ID: sha256.Sum256(raw[headerSize:]), Sig: raw[1:headerSize], Raw: raw}, nil
}
