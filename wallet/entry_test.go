package wallet_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/wallet"
)

var (
	cpA  = wallet.Account{0xaa, 1}
	refA = event.ID{0xee, 1}
)

// sampleEntries is one valid entry of each type.
func sampleEntries() map[string]wallet.Entry {
	return map[string]wallet.Entry{
		"pay":          {Type: wallet.TypePay, Counterparty: cpA, Amount: 1250, Unit: testUnit, Balance: -1250, Memo: "taxi to town"},
		"pay-request":  {Type: wallet.TypePay, Counterparty: cpA, Amount: 5, Unit: testUnit, Balance: 7, Nonce: wallet.Nonce{1, 2, 3}},
		"receipt":      {Type: wallet.TypeReceipt, Counterparty: cpA, Amount: 5, Unit: testUnit, Balance: 5, Ref: refA},
		"refund":       {Type: wallet.TypeRefund, Counterparty: cpA, Amount: 2, Unit: testUnit, Balance: 3, Ref: refA, Memo: "sorry"},
		"limit":        {Type: wallet.TypeLimit, Counterparty: cpA, Amount: 500, Unit: testUnit},
		"limit-revoke": {Type: wallet.TypeLimit, Counterparty: cpA, Unit: testUnit, Balance: -3},
		"envelope":     {Type: wallet.TypeEnvelope, Amount: 888, Count: 8, Commit: wallet.Commitment(wallet.Seed{8}), Expiry: t0 + 60_000, Unit: testUnit, Balance: -888, Memo: "恭喜发财"},
		"claim":        {Type: wallet.TypeClaim, Counterparty: cpA, Ref: refA, Unit: testUnit},
		"settle":       {Type: wallet.TypeSettle, Ref: refA, Seed: wallet.Seed{8}, Claims: []event.ID{{1}, {2}, {3}}, Amount: 100, Unit: testUnit, Balance: -788},
		"settle-none":  {Type: wallet.TypeSettle, Ref: refA, Seed: wallet.Seed{8}, Unit: testUnit},
		"pay-request-id": {Type: wallet.TypePay, Counterparty: cpA, Amount: 5, Unit: testUnit, Balance: 7, Memo: "rice",
			Nonce: wallet.Nonce{1, 2, 3}, Expiry: t0 + 60_000, Request: wallet.RequestIDOf(cpA, 5, testUnit, "rice", wallet.Nonce{1, 2, 3}, t0+60_000)},
		"envelope-group": {Type: wallet.TypeEnvelope, Amount: 10, Count: 2, Commit: wallet.Commitment(wallet.Seed{9}), Expiry: t0 + 60_000, Unit: testUnit, Balance: -10, Group: event.Scope{0x9a, 1}},
		"claim-tag":      {Type: wallet.TypeClaim, Counterparty: cpA, Ref: refA, Unit: testUnit, Tag: [32]byte{0x7a, 1}},
	}
}

func TestEntryRoundTrip(t *testing.T) {
	for name, en := range sampleEntries() {
		b, err := en.Encode()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := wallet.DecodeEntry(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(*got, en) {
			t.Fatalf("%s: got %+v, want %+v", name, *got, en)
		}
	}
	// A known encoding, so that the wire form cannot drift unnoticed.
	en := wallet.Entry{Type: wallet.TypeLimit, Counterparty: wallet.Account{1}, Amount: 10, Unit: "u", Balance: -1}
	b, _ := en.Encode()
	want := "a5" + "0104" + "025820" + "01" + strings.Repeat("00", 31) + "030a" + "046175" + "0520"
	if got := hexs(b); got != want {
		t.Fatalf("encoding\n got %s\nwant %s", got, want)
	}
}

func hexs(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}

func TestEntryRejects(t *testing.T) {
	base := sampleEntries()
	mod := func(name string, f func(*wallet.Entry)) wallet.Entry {
		en := base[name]
		en.Claims = append([]event.ID(nil), en.Claims...)
		f(&en)
		return en
	}
	cases := map[string]wallet.Entry{
		"unknown type":        mod("pay", func(e *wallet.Entry) { e.Type = 99 }),
		"pay without amount":  mod("pay", func(e *wallet.Entry) { e.Amount = 0 }),
		"pay without payee":   mod("pay", func(e *wallet.Entry) { e.Counterparty = wallet.Account{} }),
		"pay with ref":        mod("pay", func(e *wallet.Entry) { e.Ref = refA }),
		"receipt without ref": mod("receipt", func(e *wallet.Entry) { e.Ref = event.ID{} }),
		"receipt with nonce":  mod("receipt", func(e *wallet.Entry) { e.Nonce = wallet.Nonce{1} }),
		"limit with seed":     mod("limit", func(e *wallet.Entry) { e.Seed = wallet.Seed{1} }),
		"claim with amount":   mod("claim", func(e *wallet.Entry) { e.Amount = 1 }),
		"envelope no commit":  mod("envelope", func(e *wallet.Entry) { e.Commit = [32]byte{} }),
		"envelope no expiry":  mod("envelope", func(e *wallet.Entry) { e.Expiry = 0 }),
		"envelope with cp":    mod("envelope", func(e *wallet.Entry) { e.Counterparty = cpA }),
		"envelope too many":   mod("envelope", func(e *wallet.Entry) { e.Count = wallet.MaxShares + 1; e.Amount = 1000 }),
		"envelope too small":  mod("envelope", func(e *wallet.Entry) { e.Count = 10; e.Amount = 9 }),
		"settle no seed":      mod("settle", func(e *wallet.Entry) { e.Seed = wallet.Seed{} }),
		"settle unsorted":     mod("settle", func(e *wallet.Entry) { e.Claims[0], e.Claims[1] = e.Claims[1], e.Claims[0] }),
		"settle duplicate":    mod("settle", func(e *wallet.Entry) { e.Claims[1] = e.Claims[0] }),
		"settle zero claim":   mod("settle", func(e *wallet.Entry) { e.Claims[0] = event.ID{} }),
		"settle too many": mod("settle", func(e *wallet.Entry) {
			e.Claims = nil
			for i := range wallet.MaxShares + 1 {
				e.Claims = append(e.Claims, event.ID{byte(i >> 8), byte(i)})
			}
		}),
		"amount too large": mod("pay", func(e *wallet.Entry) { e.Amount = wallet.MaxAmount + 1 }),
		"memo too long":    mod("pay", func(e *wallet.Entry) { e.Memo = strings.Repeat("x", wallet.MaxMemo+1) }),
		"memo not utf-8":   mod("pay", func(e *wallet.Entry) { e.Memo = "\xff" }),
		"no unit":          mod("pay", func(e *wallet.Entry) { e.Unit = "" }),
		"unit with space":  mod("pay", func(e *wallet.Entry) { e.Unit = "village hours" }),
		"unit too long":    mod("pay", func(e *wallet.Entry) { e.Unit = strings.Repeat("h", wallet.MaxUnit+1) }),
	}
	for name, en := range cases {
		if _, err := en.Encode(); !errors.Is(err, wallet.ErrBadEntry) {
			t.Errorf("%s: Encode error %v", name, err)
		}
	}
	if _, err := wallet.DecodeEntry(make([]byte, wallet.MaxEntrySize+1)); !errors.Is(err, wallet.ErrBadEntry) {
		t.Errorf("oversized: %v", err)
	}
}

// TestDecodeRejectsNonCanonical feeds the decoder encodings of valid
// entries that are not the canonical one, or that carry extra structure.
func TestDecodeRejectsNonCanonical(t *testing.T) {
	type anyMap = map[any]any
	good := anyMap{uint64(1): uint64(1), uint64(2): cpA[:], uint64(3): uint64(5), uint64(4): testUnit, uint64(5): int64(-5)}
	enc := func(m anyMap) []byte {
		b, err := cbor.CoreDetEncOptions().EncMode()
		if err != nil {
			t.Fatal(err)
		}
		out, err := b.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if _, err := wallet.DecodeEntry(enc(good)); err != nil {
		t.Fatalf("good: %v", err)
	}
	with := func(k uint64, v any) anyMap {
		m := anyMap{}
		for a, b := range good {
			m[a] = b
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	goodBytes := enc(good)
	cases := map[string][]byte{
		"unknown key":         enc(with(99, uint64(1))),
		"zero amount present": enc(with(3, uint64(0))),
		"empty memo present":  enc(with(6, "")),
		"short counterparty":  enc(with(2, cpA[:31])),
		"long nonce":          enc(with(8, make([]byte, 17))),
		"no balance":          enc(with(5, nil)),
		"no type":             enc(with(1, nil)),
		"balance as text":     enc(with(5, "-5")),
		"indefinite map":      append(append([]byte{0xbf}, goodBytes[1:]...), 0xff),
		"non-shortest int":    bytes.Replace(goodBytes, []byte{0x03, 0x05}, []byte{0x03, 0x18, 0x05}, 1),
		"trailing bytes":      append(bytes.Clone(goodBytes), 0),
		"tagged":              append([]byte{0xc0}, goodBytes...),
		"empty":               {},
		"array":               {0x80},
	}
	for name, b := range cases {
		if _, err := wallet.DecodeEntry(b); !errors.Is(err, wallet.ErrBadEntry) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestUnitScope(t *testing.T) {
	want := sha256.Sum256([]byte("banyan/wallet-scope/v1\x00hours"))
	if s := wallet.UnitScope("hours"); s != event.Scope(want) {
		t.Fatalf("scope %s", s)
	}
	if wallet.UnitScope("a") == wallet.UnitScope("b") {
		t.Fatal("scopes collide")
	}
}

func TestCheckEvent(t *testing.T) {
	id := ident(t, 1)
	sign := func(b event.Body) *event.Event {
		e, err := event.Sign(id, b)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	scope := wallet.UnitScope(testUnit)
	payload := func(en wallet.Entry) []byte {
		b, err := en.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pay := wallet.Entry{Type: wallet.TypePay, Counterparty: cpA, Amount: 1, Unit: testUnit, Balance: -1}
	ok := sign(event.Body{Scope: scope[:], Seq: 1, Time: t0, Kind: wallet.KindWalletEntry, Payload: payload(pay)})
	if _, err := wallet.CheckEvent(ok); err != nil {
		t.Fatal(err)
	}
	other := wallet.UnitScope("other")
	self := pay
	self.Counterparty = acct(id)
	env := sampleEntries()["envelope"]
	env.Expiry = t0
	longEnv := sampleEntries()["envelope"]
	longEnv.Expiry = t0 + wallet.MaxEnvelopeTTL + 1
	cases := map[string]struct {
		e    *event.Event
		want error
	}{
		"wrong kind":        {sign(event.Body{Scope: scope[:], Seq: 1, Time: t0, Kind: event.KindGroupMessage, Payload: payload(pay)}), wallet.ErrNotWallet},
		"wrong scope":       {sign(event.Body{Scope: other[:], Seq: 1, Time: t0, Kind: wallet.KindWalletEntry, Payload: payload(pay)}), wallet.ErrWrongScope},
		"pay to self":       {sign(event.Body{Scope: scope[:], Seq: 1, Time: t0, Kind: wallet.KindWalletEntry, Payload: payload(self)}), wallet.ErrBadEntry},
		"expired envelope":  {sign(event.Body{Scope: scope[:], Seq: 1, Time: t0, Kind: wallet.KindWalletEntry, Payload: payload(env)}), wallet.ErrBadEntry},
		"envelope too long": {sign(event.Body{Scope: scope[:], Seq: 1, Time: t0, Kind: wallet.KindWalletEntry, Payload: payload(longEnv)}), wallet.ErrBadEntry},
		"payload not entry": {sign(event.Body{Scope: scope[:], Seq: 1, Time: t0, Kind: wallet.KindWalletEntry, Payload: []byte("hi")}), wallet.ErrBadEntry},
	}
	for name, c := range cases {
		if _, err := wallet.CheckEvent(c.e); !errors.Is(err, c.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	l, _ := wallet.NewLedger(wallet.Config{Unit: "other"})
	if _, err := l.Add(ok); !errors.Is(err, wallet.ErrWrongScope) {
		t.Errorf("add to another unit's ledger: %v", err)
	}
	if _, err := wallet.NewLedger(wallet.Config{Unit: "bad unit"}); err == nil {
		t.Error("ledger with a bad unit name")
	}
}

func TestTextForms(t *testing.T) {
	type doc struct {
		A wallet.Account
		N wallet.Nonce
		T wallet.Type
		S wallet.Status
	}
	in := doc{wallet.Account{1, 2}, wallet.Nonce{3}, wallet.TypeSettle, wallet.StatusVoid}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"T":"settle","S":"void"`) || !strings.Contains(string(b), `"A":"0102`) {
		t.Fatalf("json %s", b)
	}
	var out struct {
		A wallet.Account
		N wallet.Nonce
		T wallet.Type
	}
	if err := json.Unmarshal(b, &out); err != nil || out.A != in.A || out.N != in.N || out.T != in.T {
		t.Fatalf("round trip %+v %v", out, err)
	}
	for _, bad := range []string{`{"A":"zz"}`, `{"N":"01"}`, `{"T":"gift"}`} {
		if err := json.Unmarshal([]byte(bad), &out); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
