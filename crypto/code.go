package crypto

import (
	"encoding/base64"
	"strings"
)

// The codes people copy, scan and paste (group invites, contact codes,
// payment requests, unit definitions, fraud proofs) share one text form:
// an optional LinkScheme, a type prefix such as "g1.", and a CBOR map in
// base64url without padding.

// LinkScheme starts a code written as a link.
const LinkScheme = "banyan:"

// EncodeCode returns the code of type prefix that carries b.
func EncodeCode(prefix string, b []byte) string {
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// CutCode returns the encoded part of s, a code of type prefix given on
// its own or as a link, with any surrounding whitespace. The scheme may
// be written in any case, as URI schemes are (a phone's keyboard
// capitalises it), and followed by "//". ok is false if s is not a code
// of that type.
func CutCode(s, prefix string) (encoded string, ok bool) {
	s = strings.TrimSpace(s)
	if len(s) >= len(LinkScheme) && strings.EqualFold(s[:len(LinkScheme)], LinkScheme) {
		s = strings.TrimPrefix(s[len(LinkScheme):], "//")
	}
	return strings.CutPrefix(s, prefix)
}

// DecodeCode decodes the encoded part of a code strictly: no padding, and
// the unused bits of the last character zero, so that a code has one
// spelling.
func DecodeCode(encoded string) ([]byte, error) {
	return base64.RawURLEncoding.Strict().DecodeString(encoded)
}
