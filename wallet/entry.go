package wallet

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
)

// KindWalletEntry is the event kind of every wallet entry. The entry type
// (payment, receipt, ...) is a field of the payload.
const KindWalletEntry = event.KindWalletEntry

// Limits on entries.
const (
	// MaxEntrySize bounds an entry payload (the event payload of a wallet
	// event). The largest legal entry, a settlement with MaxShares claims,
	// is about 3.7 KiB.
	MaxEntrySize = 8 << 10
	// MaxMemo bounds a memo, in bytes of UTF-8.
	MaxMemo = 280
	// MaxUnit bounds a unit name, in bytes.
	MaxUnit = 32
	// MaxAmount bounds every amount: 2^53-1 minor units, so that amounts
	// are exact in JSON numbers and no sum of two amounts overflows.
	MaxAmount = 1<<53 - 1
	// MaxShares bounds the number of shares of a red envelope.
	MaxShares = 100
	// MaxEnvelopeTTL bounds how far after its reserve entry an envelope
	// may expire, in milliseconds (30 days).
	MaxEnvelopeTTL = 30 * 24 * 60 * 60 * 1000
)

// Account is a 32-byte account: an Ed25519 public key for a person, or an
// escrow account derived from a red envelope (see Escrow).
type Account [32]byte

// String returns the account in lowercase hex.
func (a Account) String() string { return hex.EncodeToString(a[:]) }

// IsZero reports whether a is the zero account (absent).
func (a Account) IsZero() bool { return a == Account{} }

// AccountOf converts a 32-byte public key to an Account.
func AccountOf(pub []byte) (Account, error) {
	var a Account
	if len(pub) != len(a) {
		return a, fmt.Errorf("account: want %d bytes, got %d", len(a), len(pub))
	}
	copy(a[:], pub)
	return a, nil
}

// ParseAccount parses a hex account.
func ParseAccount(s string) (Account, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return Account{}, fmt.Errorf("account %q: %w", s, err)
	}
	return AccountOf(b)
}

// Nonce identifies a payment request (together with its payee).
type Nonce [16]byte

// String returns the nonce in lowercase hex.
func (n Nonce) String() string { return hex.EncodeToString(n[:]) }

// IsZero reports whether n is the zero nonce (absent).
func (n Nonce) IsZero() bool { return n == Nonce{} }

// Type is the type of a wallet entry. Numbers never change meaning.
type Type uint8

// Entry types. The table in the package documentation gives each type's
// fields and balance effects.
const (
	TypePay      Type = 1 // payment to the counterparty
	TypeReceipt  Type = 2 // acceptance of an incoming transfer (payment, refund, envelope share)
	TypeRefund   Type = 3 // refund of a payment received earlier
	TypeLimit    Type = 4 // credit limit granted by a guarantor
	TypeEnvelope Type = 5 // red envelope: reserve a total for a number of shares
	TypeClaim    Type = 6 // claim of a share of a red envelope
	TypeSettle   Type = 7 // red envelope settlement: reveal the seed, pay the claims, return the rest
)

var typeNames = [...]string{
	TypePay:      "pay",
	TypeReceipt:  "receipt",
	TypeRefund:   "refund",
	TypeLimit:    "limit",
	TypeEnvelope: "envelope",
	TypeClaim:    "claim",
	TypeSettle:   "settle",
}

// String returns the type's lowercase name.
func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// ParseType parses a type name.
func ParseType(s string) (Type, error) {
	for t, n := range typeNames {
		if n != "" && n == s {
			return Type(t), nil
		}
	}
	return 0, fmt.Errorf("unknown entry type %q", s)
}

// Entry is the payload of a wallet event. The event itself supplies the
// owner (Author), the chain position (Seq, Prev), the time and the
// signature; the entry holds what the owner signed about the money.
//
// Zero values mean "absent" on the wire: an absent field is not encoded.
type Entry struct {
	Type         Type
	Counterparty Account    // the other party (see the type table)
	Amount       uint64     // minor units
	Unit         string     // unit name; the event's scope is UnitScope(Unit)
	Balance      int64      // the owner's chain balance after this entry
	Memo         string     // free text, at most MaxMemo bytes of UTF-8
	Ref          event.ID   // the entry this one refers to
	Nonce        Nonce      // pay: the nonce of the payment request being paid
	Count        uint64     // envelope: number of shares
	Commit       [32]byte   // envelope: SHA-256 of the seed
	Expiry       int64      // envelope: Unix ms after which it settles; pay: the request's expiry
	Seed         Seed       // settle: the seed, revealed
	Claims       []event.ID // settle: the claim entries paid, ascending
	// Request is, in a payment of a payment request, the request's ID
	// (RequestIDOf its payee, amount, unit, memo, nonce and expiry, which
	// the payment carries too), so that a payment names exactly one request
	// and its amount.
	Request RequestID
	// Group is, in an envelope, the scope of the group it was sent in.
	Group event.Scope
	// Tag is, in a claim, the claimant's group-member tag: a MAC under the
	// envelope's group key (see docs/WALLET.md) that only members can make.
	Tag [32]byte
}

// wireEntry is the CBOR form of an Entry. Keys never change meaning.
type wireEntry struct {
	Type         Type     `cbor:"1,keyasint"`
	Counterparty []byte   `cbor:"2,keyasint,omitempty"`
	Amount       uint64   `cbor:"3,keyasint,omitempty"`
	Unit         string   `cbor:"4,keyasint"`
	Balance      int64    `cbor:"5,keyasint"`
	Memo         string   `cbor:"6,keyasint,omitempty"`
	Ref          []byte   `cbor:"7,keyasint,omitempty"`
	Nonce        []byte   `cbor:"8,keyasint,omitempty"`
	Count        uint64   `cbor:"9,keyasint,omitempty"`
	Commit       []byte   `cbor:"10,keyasint,omitempty"`
	Expiry       int64    `cbor:"11,keyasint,omitempty"`
	Seed         []byte   `cbor:"12,keyasint,omitempty"`
	Claims       [][]byte `cbor:"13,keyasint,omitempty"`
	Request      []byte   `cbor:"14,keyasint,omitempty"`
	Group        []byte   `cbor:"15,keyasint,omitempty"`
	Tag          []byte   `cbor:"16,keyasint,omitempty"`
}

var (
	encMode = crypto.CanonicalCBOR
	decMode = crypto.StrictCBOR(4, MaxShares)
)

// Errors about the form of entries.
var (
	// ErrBadEntry reports an entry payload that is not a well-formed entry.
	ErrBadEntry = errors.New("malformed wallet entry")
	// ErrNotWallet reports an event that is not a wallet entry.
	ErrNotWallet = errors.New("not a wallet event")
	// ErrWrongScope reports a wallet event whose scope is not its unit's.
	ErrWrongScope = errors.New("wallet event in the wrong scope")
)

func badEntry(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadEntry, fmt.Sprintf(format, args...))
}

// UnitScope returns the scope of a unit's wallet entries:
// SHA-256("banyan/wallet-scope/v1" || 0x00 || unit).
func UnitScope(unit string) event.Scope {
	h := sha256.New()
	h.Write([]byte("banyan/wallet-scope/v1\x00"))
	h.Write([]byte(unit))
	var s event.Scope
	h.Sum(s[:0])
	return s
}

// ValidUnit checks a unit name: 1 to MaxUnit bytes of ASCII letters,
// digits, '.', '_' and '-'.
func ValidUnit(unit string) error {
	if len(unit) == 0 || len(unit) > MaxUnit {
		return fmt.Errorf("unit name must be 1 to %d bytes, got %d", MaxUnit, len(unit))
	}
	for i := 0; i < len(unit); i++ {
		c := unit[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("unit name %q: only letters, digits, '.', '_' and '-' are allowed", unit)
		}
	}
	return nil
}

func validMemo(m string) error {
	if len(m) > MaxMemo {
		return fmt.Errorf("memo is %d bytes, at most %d allowed", len(m), MaxMemo)
	}
	if !utf8.ValidString(m) {
		return errors.New("memo is not valid UTF-8")
	}
	return nil
}

// field presence rules per type
type fieldRule uint8

const (
	forbidden fieldRule = iota
	optional
	required
)

type rules struct {
	cp, amount, ref, nonce, count, commit, expiry, seed, claims, request, group, tag fieldRule
}

var typeRules = map[Type]rules{
	TypePay:      {cp: required, amount: required, nonce: optional, expiry: optional, request: optional},
	TypeReceipt:  {cp: required, amount: required, ref: required},
	TypeRefund:   {cp: required, amount: required, ref: required},
	TypeLimit:    {cp: required, amount: optional},
	TypeEnvelope: {amount: required, count: required, commit: required, expiry: required, group: optional},
	TypeClaim:    {cp: required, ref: required, tag: optional},
	TypeSettle:   {amount: optional, ref: required, seed: required, claims: optional},
}

func checkField(name string, r fieldRule, present bool) error {
	switch {
	case r == forbidden && present:
		return badEntry("field %s is not allowed in this entry type", name)
	case r == required && !present:
		return badEntry("field %s is required in this entry type", name)
	}
	return nil
}

// Validate checks the entry's fields on their own: the type is known, each
// field is present exactly when its type allows or requires it, amounts and
// text are within limits. It does not know the event, so the rules that
// involve the author (no payment to oneself) are checked by CheckEvent.
func (en *Entry) Validate() error {
	r, ok := typeRules[en.Type]
	if !ok {
		return badEntry("unknown type %d", en.Type)
	}
	for _, f := range []struct {
		name    string
		rule    fieldRule
		present bool
	}{
		{"counterparty", r.cp, !en.Counterparty.IsZero()},
		{"amount", r.amount, en.Amount != 0},
		{"ref", r.ref, en.Ref != event.ID{}},
		{"nonce", r.nonce, !en.Nonce.IsZero()},
		{"count", r.count, en.Count != 0},
		{"commit", r.commit, en.Commit != [32]byte{}},
		{"expiry", r.expiry, en.Expiry != 0},
		{"seed", r.seed, en.Seed != Seed{}},
		{"claims", r.claims, len(en.Claims) != 0},
		{"request", r.request, en.Request != RequestID{}},
		{"group", r.group, en.Group != event.Scope{}},
		{"tag", r.tag, en.Tag != [32]byte{}},
	} {
		if err := checkField(f.name, f.rule, f.present); err != nil {
			return err
		}
	}
	if err := ValidUnit(en.Unit); err != nil {
		return badEntry("%v", err)
	}
	if err := validMemo(en.Memo); err != nil {
		return badEntry("%v", err)
	}
	if en.Amount > MaxAmount {
		return badEntry("amount %d exceeds %d", en.Amount, uint64(MaxAmount))
	}
	switch en.Type {
	case TypePay:
		// A payment of a request carries the request's nonce, expiry and
		// ID, and the ID must be the one of its own fields: so a payment
		// names exactly one request, amount included. (A nonce alone is an
		// older form: it pays no request; the ledger voids it.)
		hasReq := en.Request != RequestID{}
		if hasReq != (en.Expiry != 0) || hasReq && en.Nonce.IsZero() {
			return badEntry("a payment of a request carries its nonce, expiry and ID together")
		}
		if hasReq && en.Expiry < 0 {
			return badEntry("request expiry %d is negative", en.Expiry)
		}
		if hasReq && RequestIDOf(en.Counterparty, en.Amount, en.Unit, en.Memo, en.Nonce, en.Expiry) != en.Request {
			return badEntry("request ID does not match the payment's payee, amount, unit, memo, nonce and expiry")
		}
	case TypeEnvelope:
		if en.Count > MaxShares {
			return badEntry("envelope of %d shares, at most %d allowed", en.Count, MaxShares)
		}
		if en.Amount < en.Count {
			return badEntry("envelope of %d for %d shares: each share needs at least one minor unit", en.Amount, en.Count)
		}
	case TypeSettle:
		if len(en.Claims) > MaxShares {
			return badEntry("settlement of %d claims, at most %d allowed", len(en.Claims), MaxShares)
		}
		for i := 1; i < len(en.Claims); i++ {
			if bytes.Compare(en.Claims[i-1][:], en.Claims[i][:]) >= 0 {
				return badEntry("settlement claims are not in strictly ascending order")
			}
		}
		for _, c := range en.Claims {
			if c == (event.ID{}) {
				return badEntry("settlement claim is the zero ID")
			}
		}
	}
	return nil
}

// Delta is the change the entry makes to its owner's chain balance:
// minus the amount for payments, refunds and envelopes, plus the amount for
// receipts and settlements (the returned remainder), zero otherwise.
func (en *Entry) Delta() int64 { return delta(en.Type, en.Amount) }

func delta(t Type, amount uint64) int64 {
	switch t {
	case TypePay, TypeRefund, TypeEnvelope:
		return -int64(amount)
	case TypeReceipt, TypeSettle:
		return int64(amount)
	}
	return 0
}

// IsDebit reports whether the entry takes money out of its owner's
// account, and so is bounded by the owner's credit limit.
func (en *Entry) IsDebit() bool { return isDebit(en.Type) }

func isDebit(t Type) bool { return t == TypePay || t == TypeRefund || t == TypeEnvelope }

// refs returns the IDs the entry refers to.
func (en *Entry) refs() []event.ID {
	var out []event.ID
	if en.Ref != (event.ID{}) {
		out = append(out, en.Ref)
	}
	return append(out, en.Claims...)
}

func (en *Entry) wire() *wireEntry {
	w := &wireEntry{
		Type:    en.Type,
		Amount:  en.Amount,
		Unit:    en.Unit,
		Balance: en.Balance,
		Memo:    en.Memo,
		Count:   en.Count,
		Expiry:  en.Expiry,
	}
	if !en.Counterparty.IsZero() {
		w.Counterparty = bytes.Clone(en.Counterparty[:])
	}
	if en.Ref != (event.ID{}) {
		w.Ref = bytes.Clone(en.Ref[:])
	}
	if !en.Nonce.IsZero() {
		w.Nonce = bytes.Clone(en.Nonce[:])
	}
	if en.Commit != ([32]byte{}) {
		w.Commit = bytes.Clone(en.Commit[:])
	}
	if en.Seed != (Seed{}) {
		w.Seed = bytes.Clone(en.Seed[:])
	}
	for _, c := range en.Claims {
		w.Claims = append(w.Claims, bytes.Clone(c[:]))
	}
	if en.Request != (RequestID{}) {
		w.Request = bytes.Clone(en.Request[:])
	}
	if en.Group != (event.Scope{}) {
		w.Group = bytes.Clone(en.Group[:])
	}
	if en.Tag != ([32]byte{}) {
		w.Tag = bytes.Clone(en.Tag[:])
	}
	return w
}

// Encode validates the entry and returns its canonical CBOR form.
func (en *Entry) Encode() ([]byte, error) {
	if err := en.Validate(); err != nil {
		return nil, err
	}
	b, err := encMode.Marshal(en.wire())
	if err != nil {
		return nil, fmt.Errorf("encode entry: %w", err)
	}
	if len(b) > MaxEntrySize {
		return nil, badEntry("entry is %d bytes, at most %d allowed", len(b), MaxEntrySize)
	}
	return b, nil
}

func fixed(dst []byte, src []byte, name string) error {
	if src == nil {
		return nil
	}
	if len(src) != len(dst) {
		return badEntry("%s is %d bytes, want %d", name, len(src), len(dst))
	}
	copy(dst, src)
	return nil
}

// DecodeEntry parses an entry payload. It accepts only the canonical
// encoding of a valid entry, so that every entry has exactly one encoding.
func DecodeEntry(b []byte) (*Entry, error) {
	if len(b) > MaxEntrySize {
		return nil, badEntry("entry is %d bytes, at most %d allowed", len(b), MaxEntrySize)
	}
	var w wireEntry
	if err := decMode.Unmarshal(b, &w); err != nil {
		return nil, badEntry("%v", err)
	}
	en := &Entry{
		Type:    w.Type,
		Amount:  w.Amount,
		Unit:    w.Unit,
		Balance: w.Balance,
		Memo:    w.Memo,
		Count:   w.Count,
		Expiry:  w.Expiry,
	}
	for _, f := range []struct {
		dst  []byte
		src  []byte
		name string
	}{
		{en.Counterparty[:], w.Counterparty, "counterparty"},
		{en.Ref[:], w.Ref, "ref"},
		{en.Nonce[:], w.Nonce, "nonce"},
		{en.Commit[:], w.Commit, "commit"},
		{en.Seed[:], w.Seed, "seed"},
		{en.Request[:], w.Request, "request"},
		{en.Group[:], w.Group, "group"},
		{en.Tag[:], w.Tag, "tag"},
	} {
		if err := fixed(f.dst, f.src, f.name); err != nil {
			return nil, err
		}
	}
	if w.Claims != nil {
		en.Claims = make([]event.ID, len(w.Claims))
		for i, c := range w.Claims {
			if err := fixed(en.Claims[i][:], c, "claim"); err != nil {
				return nil, err
			}
		}
	}
	canon, err := en.Encode()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(canon, b) {
		return nil, badEntry("not in canonical form")
	}
	return en, nil
}

// CheckEvent checks that e is a wallet entry and returns its entry: the
// kind is KindWalletEntry, the payload is a valid entry, the scope is the
// entry unit's scope, and the counterparty is not the author. It is the
// edge validation for wallet events; the signature was checked by
// event.Decode.
func CheckEvent(e *event.Event) (*Entry, error) {
	if e.Kind != KindWalletEntry {
		return nil, fmt.Errorf("%w: kind %d", ErrNotWallet, e.Kind)
	}
	en, err := DecodeEntry(e.Payload)
	if err != nil {
		return nil, err
	}
	if err := checkInEvent(&e.Body, en); err != nil {
		return nil, err
	}
	return en, nil
}

// checkInEvent checks the rules that tie an entry to its event.
func checkInEvent(b *event.Body, en *Entry) error {
	if scope := UnitScope(en.Unit); !bytes.Equal(b.Scope, scope[:]) {
		return fmt.Errorf("%w: scope %x is not the scope of unit %q", ErrWrongScope, b.Scope, en.Unit)
	}
	if !en.Counterparty.IsZero() && bytes.Equal(en.Counterparty[:], b.Author) {
		return badEntry("the counterparty is the author")
	}
	if en.Type == TypeEnvelope && (en.Expiry <= b.Time || uint64(en.Expiry)-uint64(b.Time) > MaxEnvelopeTTL) {
		return badEntry("envelope expiry must be after the entry's time and at most %d ms later", MaxEnvelopeTTL)
	}
	return nil
}

// MarshalText encodes the account as hex (for JSON).
func (a Account) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText parses a hex account.
func (a *Account) UnmarshalText(b []byte) error {
	x, err := ParseAccount(string(b))
	if err != nil {
		return err
	}
	*a = x
	return nil
}

// MarshalText encodes the nonce as hex (for JSON).
func (n Nonce) MarshalText() ([]byte, error) { return []byte(n.String()), nil }

// UnmarshalText parses a hex nonce.
func (n *Nonce) UnmarshalText(b []byte) error {
	x, err := hex.DecodeString(string(b))
	if err != nil || len(x) != len(n) {
		return fmt.Errorf("nonce %q: want %d hex bytes", b, len(n))
	}
	copy(n[:], x)
	return nil
}

// MarshalText encodes the type as its name (for JSON).
func (t Type) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText parses a type name.
func (t *Type) UnmarshalText(b []byte) error {
	x, err := ParseType(string(b))
	if err != nil {
		return err
	}
	*t = x
	return nil
}
