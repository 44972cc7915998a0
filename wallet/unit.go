package wallet

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

	"github.com/banyan-mesh/banyan/crypto"
)

// A unit's definition is its name and its guarantors: two nodes that
// disagree on the guarantors count credit differently and build different
// ledgers from the same entries. The definition is signed by whoever made
// it, kept by every node of the unit, passed on as a code (UnitLinkPrefix)
// and compared with each peer's.

// DomainUnit is the signing domain of unit definitions.
const DomainUnit = crypto.DomainUnit

// Unit definition code format: UnitLinkPrefix || base64url-no-padding(CBOR).
const (
	unitType       = "unit1."
	UnitLinkPrefix = crypto.LinkScheme + unitType
	// MaxGuarantors bounds a unit's guarantors.
	MaxGuarantors = 64
	// MaxUnitDefSize bounds an encoded definition (before base64).
	MaxUnitDefSize = 4096
)

// ErrBadUnitDef reports a unit definition that does not decode or verify.
var ErrBadUnitDef = errors.New("invalid unit definition")

// UnitDef is a unit's definition, signed by its author.
type UnitDef struct {
	Unit string
	// Guarantors, sorted, each once.
	Guarantors []Account
	// Author made the definition at Time (Unix ms).
	Author Account
	Time   int64
	body   []byte
	sig    []byte
}

type wireUnitBody struct {
	Unit       string   `cbor:"1,keyasint"`
	Guarantors [][]byte `cbor:"2,keyasint"`
	Author     []byte   `cbor:"3,keyasint"`
	Time       int64    `cbor:"4,keyasint"`
}

type wireUnitDef struct {
	Body []byte `cbor:"1,keyasint"`
	Sig  []byte `cbor:"2,keyasint"`
}

// NewUnitDef defines unit with the given guarantors, signed by id.
func NewUnitDef(id *crypto.Identity, unit string, guarantors []Account, now int64) (*UnitDef, error) {
	author, err := AccountOf(id.PublicKey())
	if err != nil {
		return nil, err
	}
	g := slices.Clone(guarantors)
	slices.SortFunc(g, func(a, b Account) int { return bytes.Compare(a[:], b[:]) })
	d := &UnitDef{Unit: unit, Guarantors: slices.Compact(g), Author: author, Time: now}
	if err := d.validate(); err != nil {
		return nil, err
	}
	if d.body, err = encMode.Marshal(d.wireBody()); err != nil {
		return nil, fmt.Errorf("encode unit definition: %w", err)
	}
	d.sig = id.Sign(DomainUnit, d.body)
	return d, nil
}

func (d *UnitDef) wireBody() *wireUnitBody {
	w := &wireUnitBody{Unit: d.Unit, Author: d.Author[:], Time: d.Time, Guarantors: [][]byte{}}
	for _, g := range d.Guarantors {
		w.Guarantors = append(w.Guarantors, g[:])
	}
	return w
}

func (d *UnitDef) validate() error {
	if err := ValidUnit(d.Unit); err != nil {
		return fmt.Errorf("%w: %v", ErrBadUnitDef, err)
	}
	if len(d.Guarantors) > MaxGuarantors {
		return fmt.Errorf("%w: %d guarantors, at most %d", ErrBadUnitDef, len(d.Guarantors), MaxGuarantors)
	}
	for i := 1; i < len(d.Guarantors); i++ {
		if bytes.Compare(d.Guarantors[i-1][:], d.Guarantors[i][:]) >= 0 {
			return fmt.Errorf("%w: guarantors not sorted or repeated", ErrBadUnitDef)
		}
	}
	if d.Time <= 0 {
		return fmt.Errorf("%w: no time", ErrBadUnitDef)
	}
	return nil
}

// Same reports whether d and o define the unit alike: the same name and
// the same guarantors, whoever signed them and when.
func (d *UnitDef) Same(o *UnitDef) bool {
	return d.Unit == o.Unit && slices.Equal(d.Guarantors, o.Guarantors)
}

// Digest identifies what a definition defines (Same definitions have the
// same digest): SHA-256("banyan/wallet-unit-digest/v1" || 0x00 || unit ||
// 0x00 || the guarantors' 32-byte keys in order).
func (d *UnitDef) Digest() [32]byte {
	h := sha256.New()
	h.Write([]byte("banyan/wallet-unit-digest/v1\x00"))
	h.Write([]byte(d.Unit))
	h.Write([]byte{0})
	for _, g := range d.Guarantors {
		h.Write(g[:])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Encode returns the definition's CBOR form {1: body, 2: signature}.
func (d *UnitDef) Encode() []byte {
	b, err := encMode.Marshal(&wireUnitDef{Body: d.body, Sig: d.sig})
	if err != nil {
		panic(fmt.Sprintf("wallet: encode unit definition: %v", err))
	}
	return b
}

// Link returns the definition as a "banyan:unit1.…" code.
func (d *UnitDef) Link() string {
	return crypto.EncodeCode(UnitLinkPrefix, d.Encode())
}

// DecodeUnitDef parses and verifies an encoded definition.
func DecodeUnitDef(b []byte) (*UnitDef, error) {
	if len(b) > MaxUnitDefSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadUnitDef, len(b))
	}
	var w wireUnitDef
	if err := unitDecMode.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadUnitDef, err)
	}
	var wb wireUnitBody
	if err := unitDecMode.Unmarshal(w.Body, &wb); err != nil {
		return nil, fmt.Errorf("%w: body: %v", ErrBadUnitDef, err)
	}
	d := &UnitDef{Unit: wb.Unit, Time: wb.Time, body: w.Body, sig: w.Sig}
	if len(wb.Author) != len(d.Author) {
		return nil, fmt.Errorf("%w: author is %d bytes", ErrBadUnitDef, len(wb.Author))
	}
	copy(d.Author[:], wb.Author)
	if len(wb.Guarantors) > MaxGuarantors {
		return nil, fmt.Errorf("%w: %d guarantors, at most %d", ErrBadUnitDef, len(wb.Guarantors), MaxGuarantors)
	}
	for _, g := range wb.Guarantors {
		a, err := AccountOf(g)
		if err != nil {
			return nil, fmt.Errorf("%w: guarantor: %v", ErrBadUnitDef, err)
		}
		d.Guarantors = append(d.Guarantors, a)
	}
	if err := d.validate(); err != nil {
		return nil, err
	}
	if canon, err := encMode.Marshal(d.wireBody()); err != nil || !bytes.Equal(canon, w.Body) {
		return nil, fmt.Errorf("%w: body is not in canonical form", ErrBadUnitDef)
	}
	if !bytes.Equal(d.Encode(), b) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrBadUnitDef)
	}
	if err := crypto.Verify(d.Author[:], DomainUnit, w.Body, w.Sig); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadUnitDef, err)
	}
	return d, nil
}

// ParseUnitLink parses a unit definition code, with or without "banyan:"
// and surrounding whitespace.
func ParseUnitLink(s string) (*UnitDef, error) {
	if len(s) > 2*MaxUnitDefSize {
		return nil, fmt.Errorf("%w: code is %d bytes", ErrBadUnitDef, len(s))
	}
	code, ok := crypto.CutCode(s, unitType)
	if !ok {
		return nil, fmt.Errorf("%w: not a unit1 code", ErrBadUnitDef)
	}
	b, err := crypto.DecodeCode(code)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadUnitDef, err)
	}
	return DecodeUnitDef(b)
}

var unitDecMode = crypto.StrictCBOR(4, MaxGuarantors)
