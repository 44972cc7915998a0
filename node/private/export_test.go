package private

import (
	"crypto/rand"
	"time"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/crypto/ratchet"
)

// MailFrom seals a private message to s as the stranger from would write
// it: a contact request carrying name (typ "request") or a text.
func (s *Service) MailFrom(from *crypto.Identity, typ, name, text string) (*event.Event, error) {
	conv, err := ratchet.NewConversation(ratchet.NewKeys(from), s.keys.Bundle(), nil)
	if err != nil {
		return nil, err
	}
	id := make([]byte, DMIDSize)
	rand.Read(id)
	body := &dmBody{Type: dmText, ID: id, Text: text, Time: time.Now().UnixMilli(), Name: name}
	if typ == "request" {
		body.Type, body.Text = dmContactRequest, ""
	}
	pt, err := body.encode()
	if err != nil {
		return nil, err
	}
	sealed, err := conv.Encrypt(pt)
	if err != nil {
		return nil, err
	}
	eph, err := crypto.NewIdentity()
	if err != nil {
		return nil, err
	}
	scope := MailboxScope(s.mail.own)
	return event.Sign(eph, event.Body{Scope: scope[:], Seq: 1, Time: time.Now().UnixMilli(), Kind: event.KindSealed, Payload: sealed})
}

// HoldDeliveries stops the opening of mail until release is called.
func (s *Service) HoldDeliveries() (release func()) {
	s.mu.Lock()
	return s.mu.Unlock
}

// PendingReceipts counts the receipts waiting to be sent.
func (s *Service) PendingReceipts() int {
	s.receipts.mu.Lock()
	defer s.receipts.mu.Unlock()
	n := 0
	for _, pr := range s.receipts.pending {
		n += len(pr.delivered) + len(pr.read)
	}
	return n
}

// DelayReceipts has every receipt queued from now on wait d.
func (s *Service) DelayReceipts(d time.Duration) {
	s.receipts.mu.Lock()
	defer s.receipts.mu.Unlock()
	s.receipts.minWait, s.receipts.maxWait = d, d
}
