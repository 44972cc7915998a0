package groupchat

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/node/content"
)

// MaxTextSize is the longest message text, in bytes of UTF-8.
const MaxTextSize = content.MaxText

// groupText is the plaintext of a KindGroupMessage payload: a CBOR map
// {1: text} in canonical form. Unknown keys are rejected so that a later
// version adds fields under a new kind or version, never silently.
type groupText struct {
	Text string `cbor:"1,keyasint"`
}

var (
	cborEnc = crypto.CanonicalCBOR
	textDec = crypto.StrictCBOR(4, 16)
)

var checkText = content.CheckText

func encodeText(s string) ([]byte, error) {
	if err := checkText(s); err != nil {
		return nil, err
	}
	return cborEnc.Marshal(groupText{Text: s})
}

var errNotCanonical = errors.New("message body is not in canonical CBOR form")

func decodeText(b []byte) (string, error) {
	var t groupText
	if err := textDec.Unmarshal(b, &t); err != nil {
		return "", fmt.Errorf("message body: %w", err)
	}
	if err := checkText(t.Text); err != nil {
		return "", err
	}
	// One text, one encoding: a body that decodes but is not canonical
	// is refused, as envelopes are.
	if canon, err := cborEnc.Marshal(t); err != nil || !bytes.Equal(canon, b) {
		return "", errNotCanonical
	}
	return t.Text, nil
}
