package wallet

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/banyan-mesh/banyan/crypto"
)

// DomainPayRequest is the signing domain of payment requests.
const DomainPayRequest = crypto.DomainPayRequest

// Payment request link format: LinkPrefix || base64url-no-padding(CBOR).
const (
	requestType = "pay1."
	LinkPrefix  = crypto.LinkScheme + requestType
	// MaxRequestSize bounds an encoded request (before base64).
	MaxRequestSize = 1024
	// MaxLinkSize bounds a request link, in bytes.
	MaxLinkSize = 2048
)

// ErrBadRequest reports a payment request that does not decode or verify.
var ErrBadRequest = errors.New("invalid payment request")

// RequestID identifies a payment request: a hash of everything its payee
// signed, the amount included (see RequestIDOf). A payment of the request
// carries it.
type RequestID [32]byte

// String returns the ID in lowercase hex.
func (id RequestID) String() string { return hex.EncodeToString(id[:]) }

// MarshalText encodes the ID as hex (for JSON).
func (id RequestID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses a hex request ID.
func (id *RequestID) UnmarshalText(b []byte) error {
	x, err := hex.DecodeString(string(b))
	if err != nil || len(x) != len(id) {
		return fmt.Errorf("request ID %q: want %d hex bytes", b, len(id))
	}
	copy(id[:], x)
	return nil
}

// RequestIDOf returns the ID of the request with these fields:
// SHA-256("banyan/pay-request-id/v1" || 0x00 || body), where body is the
// request's canonical CBOR body {1: payee, 2: amount, 3: unit, 4: memo (if
// any), 5: nonce, 6: expiry} — the exact bytes the payee signs. A payment
// of the request carries payee (its counterparty), amount, unit, memo,
// nonce and expiry, so anyone can recompute the ID from the payment alone:
// a payment of another amount names another request.
func RequestIDOf(payee Account, amount uint64, unit, memo string, nonce Nonce, expiry int64) RequestID {
	body, err := encMode.Marshal(&wireRequestBody{
		Payee: payee[:], Amount: amount, Unit: unit, Memo: memo, Nonce: nonce[:], Expiry: expiry,
	})
	if err != nil {
		panic(fmt.Sprintf("wallet: encode request body: %v", err)) // fixed-shape struct always encodes
	}
	return requestIDOfBody(body)
}

func requestIDOfBody(body []byte) RequestID {
	h := sha256.New()
	h.Write([]byte("banyan/pay-request-id/v1\x00"))
	h.Write(body)
	var id RequestID
	h.Sum(id[:0])
	return id
}

// ID returns the request's ID.
func (r *Request) ID() RequestID { return requestIDOfBody(r.body) }

// Request is a payment request signed by its payee: "pay me Amount of
// Unit for Memo before Expiry". It is not a chain entry; it travels as a
// link or QR code. A payment pays it by carrying its Nonce, and the ledger
// counts at most one payment per request ID (see RequestIDOf).
type Request struct {
	Payee  Account
	Amount uint64
	Unit   string
	Memo   string
	Nonce  Nonce
	Expiry int64 // Unix ms; the request cannot be paid after it

	body []byte // the signed bytes
	sig  []byte
}

type wireRequestBody struct {
	Payee  []byte `cbor:"1,keyasint"`
	Amount uint64 `cbor:"2,keyasint"`
	Unit   string `cbor:"3,keyasint"`
	Memo   string `cbor:"4,keyasint,omitempty"`
	Nonce  []byte `cbor:"5,keyasint"`
	Expiry int64  `cbor:"6,keyasint"`
}

type wireRequest struct {
	Body []byte `cbor:"1,keyasint"`
	Sig  []byte `cbor:"2,keyasint"`
}

func (r *Request) validate() error {
	switch {
	case r.Payee.IsZero():
		return fmt.Errorf("%w: no payee", ErrBadRequest)
	case r.Amount == 0 || r.Amount > MaxAmount:
		return fmt.Errorf("%w: amount must be 1 to %d", ErrBadRequest, uint64(MaxAmount))
	case r.Nonce.IsZero():
		return fmt.Errorf("%w: zero nonce", ErrBadRequest)
	case r.Expiry <= 0:
		return fmt.Errorf("%w: no expiry", ErrBadRequest)
	}
	if err := ValidUnit(r.Unit); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if err := validMemo(r.Memo); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return nil
}

// NewRequest makes a payment request with a random nonce, signed by id.
func NewRequest(id *crypto.Identity, unit string, amount uint64, memo string, expiry int64) (*Request, error) {
	var n Nonce
	for n.IsZero() {
		if _, err := rand.Read(n[:]); err != nil {
			return nil, fmt.Errorf("request nonce: %w", err)
		}
	}
	return SignRequest(id, Request{Unit: unit, Amount: amount, Memo: memo, Nonce: n, Expiry: expiry})
}

// SignRequest signs r (whose Payee is set to id's key) and returns it.
func SignRequest(id *crypto.Identity, r Request) (*Request, error) {
	payee, err := AccountOf(id.PublicKey())
	if err != nil {
		return nil, err
	}
	r.Payee = payee
	if err := r.validate(); err != nil {
		return nil, err
	}
	body, err := encMode.Marshal(&wireRequestBody{
		Payee: r.Payee[:], Amount: r.Amount, Unit: r.Unit, Memo: r.Memo, Nonce: r.Nonce[:], Expiry: r.Expiry,
	})
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	r.body = body
	r.sig = id.Sign(DomainPayRequest, body)
	return &r, nil
}

// Encode returns the request's CBOR form {1: body, 2: signature}.
func (r *Request) Encode() []byte {
	b, err := encMode.Marshal(&wireRequest{Body: r.body, Sig: r.sig})
	if err != nil {
		panic(fmt.Sprintf("wallet: encode request: %v", err))
	}
	return b
}

// Link returns the request as a "banyan:pay1.…" link, also the text of
// its QR code.
func (r *Request) Link() string {
	return crypto.EncodeCode(LinkPrefix, r.Encode())
}

// Expired reports whether the request can no longer be paid at time now
// (Unix ms).
func (r *Request) Expired(now int64) bool { return now > r.Expiry }

// DecodeRequest parses and verifies an encoded request.
func DecodeRequest(b []byte) (*Request, error) {
	if len(b) > MaxRequestSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadRequest, len(b))
	}
	var w wireRequest
	if err := decMode.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	var wb wireRequestBody
	if err := decMode.Unmarshal(w.Body, &wb); err != nil {
		return nil, fmt.Errorf("%w: body: %v", ErrBadRequest, err)
	}
	r := &Request{Amount: wb.Amount, Unit: wb.Unit, Memo: wb.Memo, Expiry: wb.Expiry, body: w.Body, sig: w.Sig}
	if len(wb.Payee) != len(r.Payee) || len(wb.Nonce) != len(r.Nonce) {
		return nil, fmt.Errorf("%w: payee or nonce has the wrong size", ErrBadRequest)
	}
	copy(r.Payee[:], wb.Payee)
	copy(r.Nonce[:], wb.Nonce)
	if err := r.validate(); err != nil {
		return nil, err
	}
	// One encoding per request: both layers must be canonical.
	if canon, err := encMode.Marshal(&wb); err != nil || !bytes.Equal(canon, w.Body) {
		return nil, fmt.Errorf("%w: body is not in canonical form", ErrBadRequest)
	}
	if !bytes.Equal(r.Encode(), b) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrBadRequest)
	}
	if err := crypto.Verify(r.Payee[:], DomainPayRequest, w.Body, w.Sig); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return r, nil
}

// ParseRequestLink parses a request link. It accepts the code with or
// without "banyan:" (or "banyan://") and surrounding whitespace.
func ParseRequestLink(s string) (*Request, error) {
	if len(s) > MaxLinkSize {
		return nil, fmt.Errorf("%w: link is %d bytes", ErrBadRequest, len(s))
	}
	code, ok := crypto.CutCode(s, requestType)
	if !ok {
		return nil, fmt.Errorf("%w: not a pay1 link", ErrBadRequest)
	}
	b, err := crypto.DecodeCode(code)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return DecodeRequest(b)
}
