package crdt

import (
	"errors"
	"strings"
)

// Positions are strings of base-62 digits compared as bytes, never ending
// in the smallest digit, so that between any two there is always another:
// moving an item rewrites only its own position, and two people who insert
// at the same place concurrently both keep their item.
const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// MaxPosSize bounds a position. Inserting again and again at the same spot
// lengthens positions by about one digit per six inserts.
const MaxPosSize = 512

// ErrPosition reports positions that are out of order, malformed or too
// long to split further.
var ErrPosition = errors.New("invalid list position")

// ValidPos says whether p is a well-formed position.
func ValidPos(p string) bool {
	if p == "" || len(p) > MaxPosSize || p[len(p)-1] == digits[0] {
		return false
	}
	for i := 0; i < len(p); i++ {
		if strings.IndexByte(digits, p[i]) < 0 {
			return false
		}
	}
	return true
}

// Between returns a position strictly between a and b; "" for a means the
// start, "" for b the end.
func Between(a, b string) (string, error) {
	if (a != "" && !ValidPos(a)) || (b != "" && !ValidPos(b)) || (b != "" && a >= b) {
		return "", ErrPosition
	}
	p := midpoint(a, b)
	if len(p) > MaxPosSize {
		return "", ErrPosition
	}
	return p, nil
}

// midpoint is the midpoint of a < b, digit by digit.
func midpoint(a, b string) string {
	if b != "" {
		// Keep the common prefix.
		n := 0
		for n < len(b) && digitAt(a, n) == b[n] {
			n++
		}
		if n > 0 {
			return b[:n] + midpoint(suffix(a, n), b[n:])
		}
	}
	da := strings.IndexByte(digits, digitAt(a, 0))
	db := len(digits)
	if b != "" {
		db = strings.IndexByte(digits, b[0])
	}
	if db-da > 1 {
		return string(digits[(da+db)/2])
	}
	// Adjacent digits: b's first digit alone is between when b goes on.
	if len(b) > 1 {
		return b[:1]
	}
	return string(digits[da]) + midpoint(suffix(a, 1), "")
}

func digitAt(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return digits[0]
}

func suffix(s string, n int) string {
	if n >= len(s) {
		return ""
	}
	return s[n:]
}
