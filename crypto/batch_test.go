package crypto_test

import (
	"fmt"
	"testing"

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
	for _, n := range []int{16, 64} {
		b.Run(fmt.Sprintf("of %d", n), func(b *testing.B) {
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
