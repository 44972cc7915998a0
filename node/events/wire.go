package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/content"
)

// Event kinds of an events scope (PROTOCOL.md section 20).
const (
	KindPost   = event.KindEventPost
	KindRSVP   = event.KindEventRSVP
	KindCancel = event.KindEventCancel
)

// Limits of an event post.
const (
	MaxTitle = 128
	MaxPlace = 128
	MaxAbout = 4096
)

// Answer is an RSVP.
type Answer uint8

// Answers.
const (
	Going    Answer = 1
	Maybe    Answer = 2
	NotGoing Answer = 3
)

var answerNames = map[Answer]string{Going: "going", Maybe: "maybe", NotGoing: "not-going"}

func (a Answer) String() string { return answerNames[a] }

// ParseAnswer reads "going", "maybe" or "not-going" (also "no").
func ParseAnswer(s string) (Answer, error) {
	for a, n := range answerNames {
		if s == n {
			return a, nil
		}
	}
	if s == "no" {
		return NotGoing, nil
	}
	return 0, fmt.Errorf("answer %q: want going, maybe or not-going", s)
}

// Post is the plaintext of an event post.
type Post struct {
	Title string `cbor:"1,keyasint"`
	// Start is the event's start, Unix milliseconds.
	Start int64  `cbor:"2,keyasint"`
	Place string `cbor:"3,keyasint,omitempty"`
	About string `cbor:"4,keyasint,omitempty"`
	// Of, in an edit, is the ID of the original post it replaces.
	Of []byte `cbor:"5,keyasint,omitempty"`
}

// RSVP is the plaintext of an answer to an event post.
type RSVP struct {
	// Event is the envelope ID of the post answered.
	Event  []byte `cbor:"1,keyasint"`
	Answer Answer `cbor:"2,keyasint"`
}

// Cancel is the plaintext of a cancellation, which counts only from the
// post's own author.
type Cancel struct {
	// Event is the envelope ID of the post cancelled.
	Event []byte `cbor:"1,keyasint"`
}

// Bounds of an event's start: not before 2020, not after 2100.
const (
	minStart int64 = 1_577_836_800_000
	maxStart int64 = 4_102_444_800_000
)

var (
	cborEnc = crypto.CanonicalCBOR
	cborDec = crypto.StrictCBOR(4, 16)
)

var errNotCanonical = errors.New("not in canonical CBOR form")

// decodeStrict decodes b into v and refuses any other encoding than the
// canonical one.
func decodeStrict(b []byte, v any) error {
	if err := cborDec.Unmarshal(b, v); err != nil {
		return err
	}
	if canon, err := cborEnc.Marshal(v); err != nil || !bytes.Equal(canon, b) {
		return errNotCanonical
	}
	return nil
}

func (p Post) check() error {
	if err := content.CheckName("event title", p.Title, MaxTitle); err != nil {
		return err
	}
	if p.Start < minStart || p.Start > maxStart {
		return errors.New("event start is not between 2020 and 2100")
	}
	if p.Place != "" {
		if err := content.CheckName("event place", p.Place, MaxPlace); err != nil {
			return err
		}
	}
	if len(p.About) > MaxAbout {
		return fmt.Errorf("event description is longer than %d bytes", MaxAbout)
	}
	if p.Of != nil && len(p.Of) != len(event.ID{}) {
		return fmt.Errorf("event edit: names an event of %d bytes, not 32", len(p.Of))
	}
	if p.About != "" {
		return content.CheckText(p.About)
	}
	return nil
}

func decodePost(b []byte) (Post, error) {
	var p Post
	if err := decodeStrict(b, &p); err != nil {
		return p, fmt.Errorf("event post: %w", err)
	}
	return p, p.check()
}

func decodeRSVP(b []byte) (RSVP, error) {
	var r RSVP
	if err := decodeStrict(b, &r); err != nil {
		return r, fmt.Errorf("rsvp: %w", err)
	}
	if len(r.Event) != len(event.ID{}) {
		return r, fmt.Errorf("rsvp: event is %d bytes, not 32", len(r.Event))
	}
	if _, ok := answerNames[r.Answer]; !ok {
		return r, fmt.Errorf("rsvp: unknown answer %d", r.Answer)
	}
	return r, nil
}

func decodeCancel(b []byte) (Cancel, error) {
	var c Cancel
	if err := decodeStrict(b, &c); err != nil {
		return c, fmt.Errorf("cancel: %w", err)
	}
	if len(c.Event) != len(event.ID{}) {
		return c, fmt.Errorf("cancel: event is %d bytes, not 32", len(c.Event))
	}
	return c, nil
}

// ad binds a ciphertext to its event, as a group message's (PROTOCOL.md
// section 6.2), under a label of its own.
func ad(scope event.Scope, author []byte, seq uint64) []byte {
	ad := make([]byte, 0, 64+len(author)+8)
	ad = append(ad, "banyan/group-event/v1\x00"...)
	ad = append(ad, scope[:]...)
	ad = append(ad, author...)
	return binary.BigEndian.AppendUint64(ad, seq)
}

// ContactsScope returns the scope of a person's events to their contacts:
// SHA-256("banyan/contact-events/v1" || 0x00 || pub).
func ContactsScope(pub []byte) event.Scope {
	return sha256.Sum256(append([]byte("banyan/contact-events/v1\x00"), pub...))
}

// ContactsTopic returns the gossip topic of a person's events to contacts.
func ContactsTopic(scope event.Scope) string { return "/banyan/contact-events/1/" + scope.String() }

// contactsAD binds a box of events to contacts to its event:
// "banyan/contact-event/v1" || 0x00 || scope || author || seq (8) || kind (2).
func contactsAD(scope event.Scope, author []byte, seq uint64, kind event.Kind) []byte {
	ad := append([]byte("banyan/contact-event/v1\x00"), scope[:]...)
	ad = append(ad, author...)
	ad = binary.BigEndian.AppendUint64(ad, seq)
	return binary.BigEndian.AppendUint16(ad, uint16(kind))
}
