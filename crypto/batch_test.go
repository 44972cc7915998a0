package crypto_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"filippo.io/edwards25519"

	"github.com/banyan-mesh/banyan/crypto"
)

type signed struct{ pub, msg, sig []byte }

func signedSet(t testing.TB, n int) []signed {
	t.Helper()
	out := make([]signed, n)
	for i := range out {
		id, err := crypto.NewIdentity()
		if err != nil {
			t.Fatal(err)
		}
		msg := fmt.Appendf(nil, "message %d", i)
		out[i] = signed{pub: id.PublicKey(), msg: msg, sig: id.Sign(crypto.DomainEvent, msg)}
	}
	return out
}

// A batch says which signatures are bad, exactly as Verify does: a
// tampered message, a signature of another domain, a small-order key, a
// short signature; and all good when all are.
func TestBatchAgreesWithVerify(t *testing.T) {
	set := signedSet(t, 40)
	small := make([]byte, 32) // the identity point: small order
	small[0] = 1
	cases := map[int]func(s *signed, d *crypto.Domain){
		3:  func(s *signed, _ *crypto.Domain) { s.msg = append([]byte("x"), s.msg...) },
		9:  func(_ *signed, d *crypto.Domain) { *d = crypto.DomainPayRequest },
		17: func(s *signed, _ *crypto.Domain) { s.pub = small },
		30: func(s *signed, _ *crypto.Domain) { s.sig = s.sig[:63] },
	}
	for _, spoil := range []bool{false, true} {
		b := crypto.NewBatch(len(set))
		var want []error
		for i, s := range set {
			d := crypto.DomainEvent
			if f := cases[i]; spoil && f != nil {
				f(&s, &d)
			}
			b.Add(s.pub, d, s.msg, s.sig)
			want = append(want, crypto.Verify(s.pub, d, s.msg, s.sig))
		}
		got := b.Verify()
		for i := range set {
			if (got[i] == nil) != (want[i] == nil) {
				t.Errorf("spoiled %v, signature %d: batch says %v, Verify says %v", spoil, i, got[i], want[i])
			}
			if _, bad := cases[i]; spoil && bad && got[i] == nil {
				t.Errorf("bad signature %d accepted", i)
			}
		}
	}
	if errs := crypto.NewBatch(0).Verify(); len(errs) != 0 {
		t.Errorf("an empty batch: %v", errs)
	}
}

// BenchmarkVerifyBatch reports the cost per signature of a batch, to set
// beside BenchmarkVerify's one by one.
func BenchmarkVerifyBatch(b *testing.B) {
	set := signedSet(b, 64)
	// As in a sync of a group's history: 64 signatures by 8 authors.
	var authors []*crypto.Identity
	for range 8 {
		id, err := crypto.NewIdentity()
		if err != nil {
			b.Fatal(err)
		}
		authors = append(authors, id)
	}
	var few []signed
	for i := range 64 {
		id, msg := authors[i%8], fmt.Appendf(nil, "message %d", i)
		few = append(few, signed{pub: id.PublicKey(), msg: msg, sig: id.Sign(crypto.DomainEvent, msg)})
	}
	for _, c := range []struct {
		name string
		set  []signed
		n    int
	}{{"of 16", set, 16}, {"of 64", set, 64}, {"of 16 by 8 authors", few, 16}, {"of 64 by 8 authors", few, 64}} {
		set, n := c.set, c.n
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				v := crypto.NewBatch(n)
				for _, s := range set[:n] {
					v.Add(s.pub, crypto.DomainEvent, s.msg, s.sig)
				}
				for _, err := range v.Verify() {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sig")
		})
	}
}

// With few authors, as in a sync batch, signatures by one key share a term
// of the batch equation. The batch still refuses exactly what Verify
// refuses: among others, two signatures by one key whose errors cancel in
// a plain sum (R moved by +P in one, -P in the other) and two signatures
// swapped between messages of the same key.
func TestBatchOfFewAuthorsAgreesWithVerify(t *testing.T) {
	var ids []*crypto.Identity
	for range 3 {
		id, err := crypto.NewIdentity()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	set := make([]signed, 48)
	for i := range set {
		id := ids[i%len(ids)]
		msg := fmt.Appendf(nil, "message %d", i)
		set[i] = signed{pub: id.PublicKey(), msg: msg, sig: id.Sign(crypto.DomainEvent, msg)}
	}
	moveR := func(sig []byte, p *edwards25519.Point) []byte {
		r, err := new(edwards25519.Point).SetBytes(sig[:32])
		if err != nil {
			t.Fatal(err)
		}
		out := bytes.Clone(sig)
		copy(out, r.Add(r, p).Bytes())
		return out
	}
	p := edwards25519.NewGeneratorPoint()
	minusP := new(edwards25519.Point).Negate(p)
	spoilers := []func(s []signed){
		func(s []signed) { s[4].sig = bytes.Clone(s[4].sig); s[4].sig[40] ^= 1 },
		func(s []signed) { s[0].sig, s[3].sig = s[3].sig, s[0].sig },
		func(s []signed) { s[1].sig, s[4].sig = moveR(s[1].sig, p), moveR(s[4].sig, minusP) },
		func(s []signed) { s[2].msg = []byte("another message") },
		func(s []signed) { s[5].pub = s[6].pub },
	}
	for round, spoil := range append([]func([]signed){nil}, spoilers...) {
		s := slices.Clone(set)
		if spoil != nil {
			spoil(s)
		}
		b := crypto.NewBatch(len(s))
		bad := 0
		var want []error
		for _, x := range s {
			b.Add(x.pub, crypto.DomainEvent, x.msg, x.sig)
			err := crypto.Verify(x.pub, crypto.DomainEvent, x.msg, x.sig)
			if err != nil {
				bad++
			}
			want = append(want, err)
		}
		if spoil != nil && bad == 0 {
			t.Fatalf("spoiler %d spoiled nothing: the test proves nothing", round)
		}
		for i, err := range b.Verify() {
			if (err == nil) != (want[i] == nil) {
				t.Errorf("spoiler %d, signature %d: batch says %v, Verify says %v", round, i, err, want[i])
			}
		}
	}
}
