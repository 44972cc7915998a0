package wallet_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/wallet"
)

func unitDef(t testing.TB, unit string, guarantors ...wallet.Account) (*wallet.UnitDef, *crypto.Identity) {
	t.Helper()
	id, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	d, err := wallet.NewUnitDef(id, unit, guarantors, 1_750_000_000_000)
	if err != nil {
		t.Fatal(err)
	}
	return d, id
}

// A definition goes through its code unchanged, whoever reads it; its
// guarantors are kept sorted and once each, so that two nodes given them
// in another order define the same unit.
func TestUnitDefRoundTrip(t *testing.T) {
	g1, g2 := wallet.Account{1}, wallet.Account{2}
	d, _ := unitDef(t, "market", g2, g1, g2)
	got, err := wallet.ParseUnitLink("  banyan:" + strings.TrimPrefix(d.Link(), "banyan:") + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if got.Unit != "market" || len(got.Guarantors) != 2 || got.Guarantors[0] != g1 || got.Author != d.Author || got.Time != d.Time {
		t.Fatalf("decoded %+v", got)
	}
	other, _ := unitDef(t, "market", g1, g2)
	if !got.Same(other) || got.Digest() != other.Digest() {
		t.Error("the same unit defined by another person is not the same")
	}
	fewer, _ := unitDef(t, "market", g1)
	renamed, _ := unitDef(t, "market2", g1, g2)
	for _, o := range []*wallet.UnitDef{fewer, renamed} {
		if got.Same(o) || got.Digest() == o.Digest() {
			t.Errorf("%s %v is the same as %s %v", o.Unit, o.Guarantors, got.Unit, got.Guarantors)
		}
	}
}

// Tampered, re-encoded, oversized or unsigned definitions are refused.
func TestUnitDefRefused(t *testing.T) {
	d, _ := unitDef(t, "village", wallet.Account{7})
	raw := d.Encode()
	flipped := bytes.Clone(raw)
	flipped[len(flipped)-5] ^= 1
	bodyFlip := bytes.Clone(raw)
	i := bytes.Index(bodyFlip, []byte("village"))
	bodyFlip[i] = 'V'
	cases := map[string][]byte{
		"signature flipped": flipped,
		"name changed":      bodyFlip,
		"too large":         make([]byte, wallet.MaxUnitDefSize+1),
		"garbage":           []byte("not a definition"),
		"empty":             nil,
	}
	for name, b := range cases {
		if _, err := wallet.DecodeUnitDef(b); !errors.Is(err, wallet.ErrBadUnitDef) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := wallet.ParseUnitLink("banyan:pay1.AAAA"); !errors.Is(err, wallet.ErrBadUnitDef) {
		t.Errorf("a payment request as a unit: %v", err)
	}
	many := make([]wallet.Account, wallet.MaxGuarantors+1)
	for i := range many {
		many[i][0], many[i][1] = byte(i), byte(i>>8)
	}
	id, _ := crypto.NewIdentity()
	if _, err := wallet.NewUnitDef(id, "village", many, 1); !errors.Is(err, wallet.ErrBadUnitDef) {
		t.Errorf("%d guarantors: %v", len(many), err)
	}
	if _, err := wallet.NewUnitDef(id, "two words", nil, 1); !errors.Is(err, wallet.ErrBadUnitDef) {
		t.Errorf("a bad name: %v", err)
	}
}

func FuzzDecodeUnitDef(f *testing.F) {
	d, _ := unitDef(f, "village", wallet.Account{1}, wallet.Account{2})
	f.Add(d.Encode())
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := wallet.DecodeUnitDef(b)
		if err != nil {
			return
		}
		if !bytes.Equal(d.Encode(), b) {
			t.Fatal("accepted a definition that does not encode back to itself")
		}
		if _, err := wallet.ParseUnitLink(d.Link()); err != nil {
			t.Fatalf("its own code is refused: %v", err)
		}
	})
}
