package node

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/banyan-mesh/banyan/crypto"
)

// MaxTextSize is the longest message text, in bytes of UTF-8.
const MaxTextSize = 16 << 10

// groupText is the plaintext of a KindGroupMessage payload: a CBOR map
// {1: text}. Unknown keys are rejected so that a later version adds fields
// under a new kind or version, never silently.
type groupText struct {
	Text string `cbor:"1,keyasint"`
}

var (
	cborEnc = crypto.CanonicalCBOR
	textDec = crypto.StrictCBOR(4, 16)
)

// errTextSize and friends say what is wrong with a text.
var (
	errTextEmpty = errors.New("message text is empty")
	errTextSize  = fmt.Errorf("message text is longer than %d bytes", MaxTextSize)
	errTextUTF8  = errors.New("message text is not valid UTF-8")
)

func checkText(s string) error {
	switch {
	case s == "":
		return errTextEmpty
	case len(s) > MaxTextSize:
		return errTextSize
	case !utf8.ValidString(s):
		return errTextUTF8
	}
	return nil
}

func encodeText(s string) ([]byte, error) {
	if err := checkText(s); err != nil {
		return nil, err
	}
	return cborEnc.Marshal(groupText{Text: s})
}

func decodeText(b []byte) (string, error) {
	var t groupText
	if err := textDec.Unmarshal(b, &t); err != nil {
		return "", fmt.Errorf("message body: %w", err)
	}
	if err := checkText(t.Text); err != nil {
		return "", err
	}
	return t.Text, nil
}
