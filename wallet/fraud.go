package wallet

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
)

// MaxFraudProofSize bounds an encoded fraud proof: two envelopes and a few
// bytes of CBOR framing.
const MaxFraudProofSize = 2*event.MaxEnvelopeSize + 64

// Fraud proof text: ProofPrefix || base64url-no-padding(Encode()), at most
// MaxProofText bytes. It is how a proof is exported and handed to anyone
// who wants to check it alone.
const (
	ProofType    = "fraud1."
	ProofPrefix  = crypto.LinkScheme + ProofType
	MaxProofText = len(ProofPrefix) + (MaxFraudProofSize*4+2)/3
)

// ErrBadProof reports a fraud proof that does not prove a fork.
var ErrBadProof = errors.New("invalid fraud proof")

// FraudProof proves that the owner of a wallet chain forked it: it holds
// two wallet entries, both signed by the same author in the same unit scope,
// that cannot both be on one chain. Either
//
//   - same position: A.Seq == B.Seq and A.ID < B.ID, or
//   - broken link: B.Seq == A.Seq+1 and B.Prev != A.ID (the author signed
//     B on top of some other entry at A's position).
//
// A and B are the exact envelope bytes. Verify needs nothing else.
type FraudProof struct {
	A, B []byte
}

type wireProof struct {
	A []byte `cbor:"1,keyasint"`
	B []byte `cbor:"2,keyasint"`
}

// NewFraudProof returns the proof made of two conflicting entries, in
// canonical order, or an error if they do not conflict.
func NewFraudProof(x, y *event.Event) (*FraudProof, error) {
	a, b := x, y
	switch {
	case a.Seq == b.Seq && bytes.Compare(b.ID[:], a.ID[:]) < 0:
		a, b = b, a
	case b.Seq+1 == a.Seq:
		a, b = b, a
	}
	p := &FraudProof{A: bytes.Clone(a.Raw), B: bytes.Clone(b.Raw)}
	if _, _, err := p.verify(); err != nil {
		return nil, err
	}
	return p, nil
}

// Verify checks the proof on its own: both envelopes decode with valid
// signatures, both are wallet entries of the same author in the same unit
// scope, and they conflict (see FraudProof).
func (p *FraudProof) Verify() error {
	_, _, err := p.verify()
	return err
}

func (p *FraudProof) verify() (a, b *event.Event, err error) {
	a, err = event.Decode(p.A)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: first entry: %v", ErrBadProof, err)
	}
	b, err = event.Decode(p.B)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: second entry: %v", ErrBadProof, err)
	}
	if _, err := CheckEvent(a); err != nil {
		return nil, nil, fmt.Errorf("%w: first entry: %v", ErrBadProof, err)
	}
	if _, err := CheckEvent(b); err != nil {
		return nil, nil, fmt.Errorf("%w: second entry: %v", ErrBadProof, err)
	}
	switch {
	case !bytes.Equal(a.Author, b.Author):
		return nil, nil, fmt.Errorf("%w: different authors", ErrBadProof)
	case !bytes.Equal(a.Scope, b.Scope):
		return nil, nil, fmt.Errorf("%w: different scopes", ErrBadProof)
	case a.Seq == b.Seq:
		if bytes.Compare(a.ID[:], b.ID[:]) >= 0 {
			return nil, nil, fmt.Errorf("%w: same entry, or not in canonical order", ErrBadProof)
		}
	case a.Seq+1 == b.Seq:
		if b.PrevID() == a.ID {
			return nil, nil, fmt.Errorf("%w: the entries are linked", ErrBadProof)
		}
	default:
		return nil, nil, fmt.Errorf("%w: positions %d and %d do not conflict", ErrBadProof, a.Seq, b.Seq)
	}
	return a, b, nil
}

// Author returns the account that forked, or the zero account if the
// proof does not decode.
func (p *FraudProof) Author() Account {
	a, _, err := p.verify()
	if err != nil {
		return Account{}
	}
	acc, _ := AccountOf(a.Author)
	return acc
}

// Events returns the two entries of a valid proof.
func (p *FraudProof) Events() (a, b *event.Event, err error) { return p.verify() }

// Encode returns the proof's CBOR form {1: A, 2: B}.
func (p *FraudProof) Encode() []byte {
	b, err := encMode.Marshal(&wireProof{A: p.A, B: p.B})
	if err != nil {
		panic(fmt.Sprintf("wallet: encode fraud proof: %v", err)) // two byte strings always encode
	}
	return b
}

// DecodeFraudProof parses and verifies an encoded fraud proof.
func DecodeFraudProof(b []byte) (*FraudProof, error) {
	if len(b) > MaxFraudProofSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadProof, len(b))
	}
	var w wireProof
	if err := decMode.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadProof, err)
	}
	p := &FraudProof{A: w.A, B: w.B}
	if !bytes.Equal(p.Encode(), b) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrBadProof)
	}
	if err := p.Verify(); err != nil {
		return nil, err
	}
	return p, nil
}

// Text returns the proof as text: "banyan:fraud1." and the base64url
// (no padding) of its encoding.
func (p *FraudProof) Text() string {
	return crypto.EncodeCode(ProofPrefix, p.Encode())
}

// ParseFraudProof parses and verifies a proof given as text (with or
// without "banyan:", surrounding whitespace allowed).
func ParseFraudProof(s string) (*FraudProof, error) {
	if len(s) > MaxProofText+64 {
		return nil, fmt.Errorf("%w: text is %d bytes", ErrBadProof, len(s))
	}
	code, ok := crypto.CutCode(s, ProofType)
	if !ok {
		return nil, fmt.Errorf("%w: not a fraud1 code", ErrBadProof)
	}
	b, err := crypto.DecodeCode(code)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadProof, err)
	}
	return DecodeFraudProof(b)
}

// ProofInfo says what a valid proof proves.
type ProofInfo struct {
	// Author is the account that forked; Unit the unit it forked in.
	Author Account
	Unit   string
	// Seq is the position of the first entry. BrokenLink tells the form:
	// false, two entries at Seq; true, an entry at Seq+1 that does not
	// follow the one at Seq.
	Seq        uint64
	BrokenLink bool
	A, B       event.ID
}

// Info verifies the proof and says what it proves.
func (p *FraudProof) Info() (ProofInfo, error) {
	a, b, err := p.verify()
	if err != nil {
		return ProofInfo{}, err
	}
	en, _ := CheckEvent(a) // verified
	acc, _ := AccountOf(a.Author)
	return ProofInfo{Author: acc, Unit: en.Unit, Seq: a.Seq, BrokenLink: b.Seq != a.Seq, A: a.ID, B: b.ID}, nil
}
