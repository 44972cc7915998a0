// Package content holds the rules every feature applies to what people
// write: message texts and names. They are checked where a user types them
// and again where they arrive from the network.
package content

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxText is the longest message text, in bytes of UTF-8.
const MaxText = 16 << 10

// Errors of CheckText.
var (
	ErrTextEmpty = errors.New("message text is empty")
	ErrTextSize  = fmt.Errorf("message text is longer than %d bytes", MaxText)
	ErrTextUTF8  = errors.New("message text is not valid UTF-8")
)

// CheckText checks a message text: not empty, at most MaxText bytes,
// valid UTF-8. Line breaks and other characters are the writer's choice;
// whoever shows the text escapes what a terminal would obey.
func CheckText(s string) error {
	switch {
	case s == "":
		return ErrTextEmpty
	case len(s) > MaxText:
		return ErrTextSize
	case !utf8.ValidString(s):
		return ErrTextUTF8
	}
	return nil
}

// CheckName checks a name (of a group, a person, a list...): what says
// what is named, in the errors; max is the longest name in bytes. A name
// is one line of valid UTF-8 without control characters, and not blank.
func CheckName(what, name string, max int) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("%s is empty", what)
	case len(name) > max:
		return fmt.Errorf("%s is longer than %d bytes", what, max)
	case !utf8.ValidString(name):
		return fmt.Errorf("%s is not valid UTF-8", what)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("%s contains control characters (line breaks, tabs...)", what)
	}
	return nil
}
