package moments

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"image/jpeg"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/content"
)

// Event kinds of moments, all in the scope of the person whose moments
// they are (ScopeOf).
const (
	// KindKey carries an audience key, sealed to each member of the
	// audience. Only the scope's owner writes it.
	KindKey event.Kind = 21
	// KindPost is a moment, sealed with an audience key. Only the owner
	// writes it.
	KindPost event.Kind = 22
	// KindReaction is a like, an unlike or a comment on a moment, sealed
	// with the moment's audience key; any member of the audience writes it.
	KindReaction event.Kind = 23
	// KindDelete withdraws a moment. Only the owner writes it.
	KindDelete event.Kind = 24
)

// Limits.
const (
	// MaxAudience bounds the members one audience key is sealed to (the
	// owner included): 512 sealed keys fit one event.
	MaxAudience = 512
	// MaxComment is the longest comment, in bytes of UTF-8.
	MaxComment = 2048
	// sealedKeySize is an HPKE-sealed audience key: the 32-byte
	// encapsulated X25519 key, the 32-byte key, the 16-byte tag.
	sealedKeySize = 32 + crypto.KeySize + 16
)

// Reaction types.
const (
	Like    uint8 = 1
	Unlike  uint8 = 2
	Comment uint8 = 3
)

// ScopeOf returns the scope of the moments of the person whose Ed25519
// public key is pub: SHA-256("banyan/moments/v1" || 0x00 || pub).
func ScopeOf(pub []byte) event.Scope {
	h := sha256.New()
	h.Write([]byte("banyan/moments/v1\x00"))
	h.Write(pub)
	return event.Scope(h.Sum(nil))
}

// TopicName returns the gossip topic of a moments scope.
func TopicName(scope event.Scope) string { return "/banyan/moments/1/" + scope.String() }

// keyPayload is the payload of KindKey: {1: epoch, 2: [sealed key, ...]}.
type keyPayload struct {
	Epoch  uint64   `cbor:"1,keyasint"`
	Sealed [][]byte `cbor:"2,keyasint"`
}

// sealedPayload is the payload of KindPost and KindReaction: {1: epoch,
// 2: XChaCha20-Poly1305 box}.
type sealedPayload struct {
	Epoch uint64 `cbor:"1,keyasint"`
	Box   []byte `cbor:"2,keyasint"`
}

// deletePayload is the payload of KindDelete: {1: post ID, 2: post time}.
type deletePayload struct {
	Post []byte `cbor:"1,keyasint"`
	Time int64  `cbor:"2,keyasint"`
}

// postBody is the plaintext of a post: {1: text, 2: JPEG}, at least one.
type postBody struct {
	Text  string `cbor:"1,keyasint,omitempty"`
	Image []byte `cbor:"2,keyasint,omitempty"`
}

// reactionBody is the plaintext of a reaction: {1: post ID, 2: type,
// 3: text (comments only)}.
type reactionBody struct {
	Post []byte `cbor:"1,keyasint"`
	Type uint8  `cbor:"2,keyasint"`
	Text string `cbor:"3,keyasint,omitempty"`
}

var (
	enc    = crypto.CanonicalCBOR
	dec    = crypto.StrictCBOR(4, 16)
	keyDec = crypto.StrictCBOR(4, MaxAudience)
)

var errNotCanonical = errors.New("not in canonical CBOR form")

// decodeStrict decodes b into v and refuses every encoding but the
// canonical one.
func decodeStrict(b []byte, v any, useKeyDec bool) error {
	d := dec
	if useKeyDec {
		d = keyDec
	}
	if err := d.Unmarshal(b, v); err != nil {
		return err
	}
	if canon, err := enc.Marshal(v); err != nil || !bytes.Equal(canon, b) {
		return errNotCanonical
	}
	return nil
}

func decodeKey(b []byte) (*keyPayload, error) {
	var p keyPayload
	if err := decodeStrict(b, &p, true); err != nil {
		return nil, fmt.Errorf("audience key: %w", err)
	}
	if p.Epoch == 0 {
		return nil, errors.New("audience key: epoch 0")
	}
	if len(p.Sealed) == 0 || len(p.Sealed) > MaxAudience {
		return nil, fmt.Errorf("audience key: sealed to %d people", len(p.Sealed))
	}
	for _, s := range p.Sealed {
		if len(s) != sealedKeySize {
			return nil, fmt.Errorf("audience key: a sealed key of %d bytes", len(s))
		}
	}
	return &p, nil
}

func decodeSealed(b []byte) (*sealedPayload, error) {
	var p sealedPayload
	if err := decodeStrict(b, &p, false); err != nil {
		return nil, fmt.Errorf("sealed moment: %w", err)
	}
	if p.Epoch == 0 || len(p.Box) < crypto.SealOverhead {
		return nil, errors.New("sealed moment: no epoch or no box")
	}
	return &p, nil
}

func decodeDelete(b []byte) (*deletePayload, error) {
	var p deletePayload
	if err := decodeStrict(b, &p, false); err != nil {
		return nil, fmt.Errorf("delete: %w", err)
	}
	if len(p.Post) != event.IDSize {
		return nil, fmt.Errorf("delete: post ID of %d bytes", len(p.Post))
	}
	return &p, nil
}

func (p *postBody) check() error {
	if p.Text == "" && len(p.Image) == 0 {
		return errors.New("a moment needs a text or a picture")
	}
	if p.Text != "" {
		if err := content.CheckText(p.Text); err != nil {
			return err
		}
	}
	if len(p.Image) > 0 {
		if len(p.Image) > content.MaxPicture {
			return fmt.Errorf("picture of %d bytes, more than %d", len(p.Image), content.MaxPicture)
		}
		if _, err := jpeg.DecodeConfig(bytes.NewReader(p.Image)); err != nil {
			return fmt.Errorf("picture is not a JPEG: %w", err)
		}
	}
	return nil
}

func decodePost(b []byte) (*postBody, error) {
	var p postBody
	if err := decodeStrict(b, &p, false); err != nil {
		return nil, fmt.Errorf("moment: %w", err)
	}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("moment: %w", err)
	}
	return &p, nil
}

func (r *reactionBody) check() error {
	if len(r.Post) != event.IDSize {
		return fmt.Errorf("reaction to a post ID of %d bytes", len(r.Post))
	}
	switch r.Type {
	case Like, Unlike:
		if r.Text != "" {
			return errors.New("a like has no text")
		}
	case Comment:
		if len(r.Text) > MaxComment {
			return fmt.Errorf("comment longer than %d bytes", MaxComment)
		}
		return content.CheckText(r.Text)
	default:
		return fmt.Errorf("reaction type %d", r.Type)
	}
	return nil
}

func decodeReaction(b []byte) (*reactionBody, error) {
	var r reactionBody
	if err := decodeStrict(b, &r, false); err != nil {
		return nil, fmt.Errorf("reaction: %w", err)
	}
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("reaction: %w", err)
	}
	return &r, nil
}

// boxAD binds a box to its place: "banyan/moments/v1" || 0x00 || scope ||
// author || seq (8, big-endian) || kind (2, big-endian), so that no box
// can be moved to another event or kind.
func boxAD(scope, author []byte, seq uint64, kind event.Kind) []byte {
	ad := append([]byte("banyan/moments/v1\x00"), scope...)
	ad = append(ad, author...)
	ad = binary.BigEndian.AppendUint64(ad, seq)
	return binary.BigEndian.AppendUint16(ad, uint16(kind))
}

// keyInfo is the HPKE info of an audience key: "banyan/moments-key/v1" ||
// 0x00 || scope || epoch (8, big-endian).
func keyInfo(scope event.Scope, epoch uint64) []byte {
	info := append([]byte("banyan/moments-key/v1\x00"), scope[:]...)
	return binary.BigEndian.AppendUint64(info, epoch)
}

var (
	hpkeKDF  = hpke.HKDFSHA256()
	hpkeAEAD = hpke.ChaCha20Poly1305()
)

// sealKey seals an audience key to one member's static X25519 key
// (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305).
func sealKey(dhKey []byte, scope event.Scope, epoch uint64, key [crypto.KeySize]byte) ([]byte, error) {
	pub, err := ecdh.X25519().NewPublicKey(dhKey)
	if err != nil {
		return nil, fmt.Errorf("member key: %w", err)
	}
	pk, err := hpke.NewDHKEMPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("member key: %w", err)
	}
	return hpke.Seal(pk, hpkeKDF, hpkeAEAD, keyInfo(scope, epoch), key[:])
}

// openKey finds the sealed key among those of an audience key event that
// opens with priv.
func openKey(priv hpke.PrivateKey, scope event.Scope, p *keyPayload) ([crypto.KeySize]byte, bool) {
	info := keyInfo(scope, p.Epoch)
	for _, s := range p.Sealed {
		k, err := hpke.Open(priv, hpkeKDF, hpkeAEAD, info, s)
		if err == nil && len(k) == crypto.KeySize {
			return [crypto.KeySize]byte(k), true
		}
	}
	return [crypto.KeySize]byte{}, false
}
