package crypto_test

import (
	"testing"

	"github.com/banyan-mesh/banyan/crypto"
)

func TestLocalKey(t *testing.T) {
	a, _ := crypto.IdentityFromSeed(make([]byte, 32))
	b, _ := crypto.NewIdentity()
	ka, _ := a.LocalKey("diary")
	again, _ := a.LocalKey("diary")
	other, _ := a.LocalKey("other")
	kb, _ := b.LocalKey("diary")
	if ka != again {
		t.Fatal("the same identity and label gave two keys")
	}
	if ka == other || ka == kb || ka == [32]byte{} {
		t.Fatal("keys for other labels or identities are the same")
	}
}
