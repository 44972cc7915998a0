package moments

import (
	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
)

// KeyPayload seals key for the given DH keys, as the owner of scope does.
func KeyPayload(scope event.Scope, epoch uint64, key [crypto.KeySize]byte, dhKeys [][]byte) ([]byte, error) {
	p := keyPayload{Epoch: epoch}
	for _, dh := range dhKeys {
		s, err := sealKey(dh, scope, epoch, key)
		if err != nil {
			return nil, err
		}
		p.Sealed = append(p.Sealed, s)
	}
	return enc.Marshal(&p)
}

// PostPayload seals a post's text at its position.
func PostPayload(key [crypto.KeySize]byte, scope event.Scope, author []byte, seq, epoch uint64, text string) ([]byte, error) {
	pt, err := enc.Marshal(&postBody{Text: text})
	if err != nil {
		return nil, err
	}
	box, err := crypto.Seal(key, pt, boxAD(scope[:], author, seq, KindPost))
	if err != nil {
		return nil, err
	}
	return enc.Marshal(&sealedPayload{Epoch: epoch, Box: box})
}
