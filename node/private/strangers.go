package private

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/node/content"
)

// Strangers are people who wrote to this node without being contacts:
// their first message makes a pending contact that waits for the user.
// What they can make this node keep is bounded: at most maxStrangers wait
// at once (the newest is refused, not an older one pushed out, so a flood
// cannot erase a real request), a stranger's messages count toward
// maxStrangerMessages, and a request not accepted within strangerTTL is
// forgotten with its messages. Strangers get no receipts, and what they
// call themselves never becomes a name the user's commands resolve.
const (
	maxStrangers        = 100
	maxStrangerMessages = 20
	strangerTTL         = DefaultMailboxTTL
)

// admitStranger reports whether a new stranger may wait for the user.
func (s *Service) admitStranger() bool {
	cs, err := s.rec.allContacts()
	if err != nil {
		return false
	}
	n := 0
	for _, c := range cs {
		if c.State == ContactPending {
			n++
		}
	}
	return n < maxStrangers
}

// strangerFull reports whether a stranger has written all it may.
func (s *Service) strangerFull(p peer.ID) bool {
	ms, err := s.rec.conversation(p, time.Time{}, maxStrangerMessages)
	return err != nil || len(ms) >= maxStrangerMessages
}

// expireStrangers forgets requests nobody accepted in time.
func (s *Service) expireStrangers() {
	cs, err := s.rec.allContacts()
	if err != nil {
		s.log.Warn("contacts", "err", err)
		return
	}
	cutoff := s.now().Add(-strangerTTL)
	for _, c := range cs {
		if c.State == ContactPending && c.Added.Before(cutoff) {
			s.mu.Lock()
			err := s.rec.deleteContact(c.ID)
			s.mu.Unlock()
			if err != nil {
				s.log.Warn("forget an old request", "peer", c.ID, "err", err)
			}
		}
	}
}

// claimedName returns the name someone gave themselves, if it is a valid
// name.
func claimedName(name string) string {
	if content.CheckName("name", name, MaxNickname) != nil {
		return ""
	}
	return name
}
