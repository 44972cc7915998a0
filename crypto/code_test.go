package crypto_test

import (
	"testing"

	"github.com/banyan-mesh/banyan/crypto"
)

func TestCutCode(t *testing.T) {
	code := crypto.EncodeCode("g1.", []byte{0xa0, 0x01})
	for _, s := range []string{code, "banyan:" + code, "banyan://" + code, "BANYAN:" + code, "Banyan://" + code, " \t" + "banyan:" + code + "\r\n"} {
		if got, ok := crypto.CutCode(s, "g1."); !ok || got != code[len("g1."):] {
			t.Errorf("CutCode(%q) = %q, %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "g1", "c1." + code[3:], "banyanx:" + code, "https:" + code, "//" + code, "banyan: " + code, "G1." + code[3:]} {
		if got, ok := crypto.CutCode(s, "g1."); ok {
			t.Errorf("CutCode(%q) took %q", s, got)
		}
	}
}

// A code has one spelling: padding and non-zero unused bits are refused,
// so that two different texts never carry the same code.
func TestDecodeCodeIsStrict(t *testing.T) {
	b, err := crypto.DecodeCode("oAE") // a0 01: 16 bits in 3 characters, 2 unused
	if err != nil || len(b) != 2 || b[0] != 0xa0 || b[1] != 0x01 {
		t.Fatalf("DecodeCode(oAE) = %x, %v", b, err)
	}
	for _, s := range []string{"oAE=", "oAF", "oAH", "oA+", "oA/", "oA E"} {
		if b, err := crypto.DecodeCode(s); err == nil {
			t.Errorf("DecodeCode(%q) = %x, want an error", s, b)
		}
	}
}
