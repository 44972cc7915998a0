package profile

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"image/jpeg"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/content"
)

// Kind is the event kind of a profile: the whole profile, replacing every
// earlier one of its author.
const Kind event.Kind = 20

// Limits of a profile's fields, in bytes of UTF-8.
const (
	MaxName  = 64
	MaxBio   = 512
	MaxPlace = 128
)

// ScopeOf returns the scope of the profile of the person whose Ed25519
// public key is pub: SHA-256("banyan/profile/v1" || 0x00 || pub).
func ScopeOf(pub []byte) event.Scope {
	h := sha256.New()
	h.Write([]byte("banyan/profile/v1\x00"))
	h.Write(pub)
	return event.Scope(h.Sum(nil))
}

// TopicName returns the gossip topic of a profile scope.
func TopicName(scope event.Scope) string { return "/banyan/profile/1/" + scope.String() }

// Fields are what a profile says; every field may be empty.
type Fields struct {
	Name  string `cbor:"1,keyasint,omitempty"`
	Bio   string `cbor:"2,keyasint,omitempty"`
	Place string `cbor:"3,keyasint,omitempty"`
	// Avatar is a JPEG of at most content.MaxPicture bytes.
	Avatar []byte `cbor:"4,keyasint,omitempty"`
	// Private, on the wire, is the bio and place sealed to the author's
	// contacts (sealPrivate); a profile that has it has neither in clear.
	Private []byte `cbor:"5,keyasint,omitempty"`
}

// MaxPrivate bounds the sealed private part: a bio and a place, their
// encoding and the seal's overhead.
const MaxPrivate = 1024

// private is the plaintext of a profile's private part: {2: bio, 3: place}.
type private struct {
	Bio   string `cbor:"2,keyasint,omitempty"`
	Place string `cbor:"3,keyasint,omitempty"`
}

// privateAD binds a sealed private part to its event:
// "banyan/profile-private/v1" || 0x00 || scope || author || seq (8).
func privateAD(scope event.Scope, author []byte, seq uint64) []byte {
	ad := append([]byte("banyan/profile-private/v1\x00"), scope[:]...)
	ad = append(ad, author...)
	return binary.BigEndian.AppendUint64(ad, seq)
}

// decodePrivate parses and checks an opened private part.
func decodePrivate(b []byte) (*private, error) {
	var p private
	if err := dec.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("profile private part: %w", err)
	}
	if p == (private{}) {
		return nil, errors.New("profile private part is empty")
	}
	f := Fields{Bio: p.Bio, Place: p.Place}
	if err := f.Check(); err != nil {
		return nil, fmt.Errorf("profile private part: %w", err)
	}
	if canon, err := enc.Marshal(&p); err != nil || !bytes.Equal(canon, b) {
		return nil, errNotCanonical
	}
	return &p, nil
}

var (
	enc = crypto.CanonicalCBOR
	dec = crypto.StrictCBOR(4, 16)
)

// errNotCanonical reports a payload that decodes but is not in canonical
// form: one profile, one encoding.
var errNotCanonical = errors.New("profile is not in canonical CBOR form")

// Check checks the fields of a profile.
func (f *Fields) Check() error {
	if err := checkField("name", f.Name, MaxName, false); err != nil {
		return err
	}
	if err := checkField("bio", f.Bio, MaxBio, true); err != nil {
		return err
	}
	if err := checkField("place", f.Place, MaxPlace, false); err != nil {
		return err
	}
	if f.Private != nil && (len(f.Private) > MaxPrivate || f.Bio != "" || f.Place != "") {
		return fmt.Errorf("private part of %d bytes, with a bio or place in clear beside it, or over %d", len(f.Private), MaxPrivate)
	}
	if len(f.Avatar) > 0 {
		if len(f.Avatar) > content.MaxPicture {
			return fmt.Errorf("avatar is %d bytes, more than %d", len(f.Avatar), content.MaxPicture)
		}
		// The header only: decoding every pixel is the viewer's work.
		if _, err := jpeg.DecodeConfig(bytes.NewReader(f.Avatar)); err != nil {
			return fmt.Errorf("avatar is not a JPEG: %w", err)
		}
	}
	return nil
}

func checkField(what, s string, limit int, lines bool) error {
	if s == "" {
		return nil
	}
	if lines {
		if len(s) > limit {
			return fmt.Errorf("%s is longer than %d bytes", what, limit)
		}
		return content.CheckText(s)
	}
	return content.CheckName(what, s, limit)
}

// Encode returns the payload of a profile event: the canonical CBOR map
// of its fields.
func Encode(f *Fields) ([]byte, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	return enc.Marshal(f)
}

// Decode parses and checks the payload of a profile event.
func Decode(b []byte) (*Fields, error) {
	var f Fields
	if err := dec.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	if err := f.Check(); err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	if canon, err := enc.Marshal(&f); err != nil || !bytes.Equal(canon, b) {
		return nil, errNotCanonical
	}
	return &f, nil
}
