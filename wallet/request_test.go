package wallet_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/wallet"
)

func sampleRequest(t testing.TB) *wallet.Request {
	t.Helper()
	r, err := wallet.SignRequest(ident(t, 9), wallet.Request{
		Amount: 350, Unit: testUnit, Memo: "2 loaves", Nonce: wallet.Nonce{0x42, 1}, Expiry: t0 + 3_600_000,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRequestLink(t *testing.T) {
	r := sampleRequest(t)
	link := r.Link()
	if !strings.HasPrefix(link, "banyan:pay1.") {
		t.Fatalf("link %q", link)
	}
	for _, s := range []string{link, "  " + link + "\n", strings.TrimPrefix(link, "banyan:"), "banyan://" + strings.TrimPrefix(link, "banyan:")} {
		got, err := wallet.ParseRequestLink(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if got.Payee != acct(ident(t, 9)) || got.Amount != 350 || got.Unit != testUnit || got.Memo != "2 loaves" ||
			got.Nonce != r.Nonce || got.Expiry != r.Expiry || got.Link() != link {
			t.Fatalf("parsed %+v", got)
		}
	}
	if r.Expired(r.Expiry) || !r.Expired(r.Expiry+1) {
		t.Fatal("expiry")
	}
	n, err := wallet.NewRequest(ident(t, 9), testUnit, 1, "", t0)
	if err != nil || n.Nonce.IsZero() {
		t.Fatalf("NewRequest %v", err)
	}
	if m, _ := wallet.NewRequest(ident(t, 9), testUnit, 1, "", t0); m.Nonce == n.Nonce {
		t.Fatal("nonce repeats")
	}
}

func TestRequestRejects(t *testing.T) {
	r := sampleRequest(t)
	enc := r.Encode()
	var w struct {
		Body []byte `cbor:"1,keyasint"`
		Sig  []byte `cbor:"2,keyasint"`
	}
	if err := cbor.Unmarshal(enc, &w); err != nil {
		t.Fatal(err)
	}
	em, _ := cbor.CoreDetEncOptions().EncMode()
	reenc := func(body, sig []byte) []byte {
		b, err := em.Marshal(map[int][]byte{1: body, 2: sig})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	badSig := bytes.Clone(w.Sig)
	badSig[0] ^= 1
	otherSigner := ident(t, 8).Sign(wallet.DomainPayRequest, w.Body)
	otherDomain := ident(t, 9).Sign(crypto.DomainEvent, w.Body)
	var body map[int]any
	cbor.Unmarshal(w.Body, &body)
	withBody := func(k int, v any) []byte {
		m := map[int]any{}
		for a, b := range body {
			m[a] = b
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, _ := em.Marshal(m)
		return reenc(b, ident(t, 9).Sign(wallet.DomainPayRequest, b))
	}
	cases := map[string][]byte{
		"bad signature": reenc(w.Body, badSig),
		"other signer":  reenc(w.Body, otherSigner),
		"other domain":  reenc(w.Body, otherDomain),
		"zero amount":   withBody(2, uint64(0)),
		"zero nonce":    withBody(5, make([]byte, 16)),
		"short nonce":   withBody(5, make([]byte, 15)),
		"no expiry":     withBody(6, nil),
		"bad unit":      withBody(3, "a b"),
		"unknown key":   withBody(9, uint64(1)),
		"empty memo":    withBody(4, ""),
		"trailing":      append(bytes.Clone(enc), 0),
		"too large":     make([]byte, wallet.MaxRequestSize+1),
		"empty":         {},
	}
	for name, b := range cases {
		if _, err := wallet.DecodeRequest(b); !errors.Is(err, wallet.ErrBadRequest) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, s := range []string{"", "banyan:g1.abc", "banyan:pay1.!!!", "banyan:pay1." + base64.RawURLEncoding.EncodeToString(enc) + "A", strings.Repeat("a", wallet.MaxLinkSize+1)} {
		if _, err := wallet.ParseRequestLink(s); !errors.Is(err, wallet.ErrBadRequest) {
			t.Errorf("link %.40q: %v", s, err)
		}
	}
	if _, err := wallet.SignRequest(ident(t, 9), wallet.Request{Amount: 1, Unit: testUnit, Expiry: 1}); !errors.Is(err, wallet.ErrBadRequest) {
		t.Errorf("zero nonce signed: %v", err)
	}
}
