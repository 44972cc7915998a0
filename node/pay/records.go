package pay

import (
	"encoding/binary"
	"fmt"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/store"
	"github.com/banyan-mesh/banyan/wallet"
)

// The wallet keeps four tables of its own:
//
//	envelope-seeds <envelope id:32>       -> JSON EnvelopeSeed, until settled
//	accept-caps    [<payer account:32>]   -> cap (8): accepted unconfirmed from a payer (or anyone)
//	requests       <request id:32>        -> JSON IssuedRequest: the payment requests this node issued
//	chain          "origin"               -> account (32) whose chains began in this store (see head.go)

// EnvelopeSeed is the secret seed of a red envelope this node sent, kept
// until the envelope is settled (the settlement reveals it).
type EnvelopeSeed struct {
	Envelope event.ID `json:"envelope"`
	Unit     string   `json:"unit"`
	Seed     [32]byte `json:"seed"`
	Count    int      `json:"count"`
	Expiry   int64    `json:"expiry"` // Unix ms
	// Group is the group the envelope was announced in, if any.
	Group string `json:"group,omitempty"`
}

// acceptCaps returns the cap for anyone (0 when unset) and the caps for
// given payers.
func (w *Service) acceptCaps() (anyone uint64, payers map[wallet.Account]uint64, err error) {
	payers = map[wallet.Account]uint64{}
	err = w.caps.Scan(store.Range{}, func(k, v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("accept cap of %d bytes", len(v))
		}
		switch len(k) {
		case 0:
			anyone = binary.BigEndian.Uint64(v)
		case 32:
			payers[wallet.Account(k)] = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("accept caps: %w", err)
	}
	return anyone, payers, nil
}

// IssuedRequest is a payment request this node issued. The node receipts
// a payment of a request only if it issued the request.
type IssuedRequest struct {
	ID     wallet.RequestID `json:"id"`
	Link   string           `json:"link"`
	Amount uint64           `json:"amount"`
	Memo   string           `json:"memo,omitempty"`
	Expiry int64            `json:"expiry"` // Unix ms
}

// issued returns the request id if this node issued it.
func (w *Service) issued(id wallet.RequestID) (*IssuedRequest, bool) {
	r, err := store.GetJSON[IssuedRequest](w.requests, id[:])
	if err != nil {
		return nil, false
	}
	return r, true
}
