package pay

import (
	"fmt"
	"strings"
	"time"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/people"
	"github.com/banyan-mesh/banyan/wallet"
)

// EnvelopeStatus is a red envelope as its sender and claimers see it:
// until when it can be claimed, and what happens to what nobody claims.
type EnvelopeStatus struct {
	ID      string        `json:"id"`
	Sender  people.Person `json:"sender"`
	Total   uint64        `json:"total"`
	Count   int           `json:"count"`
	Claimed int           `json:"claimed"`
	Expires time.Time     `json:"expires"`
	Settled bool          `json:"settled"`
	// YourClaim is set when this node claimed a share; YourShare is the
	// share once the envelope is dealt.
	YourClaim bool   `json:"your_claim,omitempty"`
	YourShare uint64 `json:"your_share,omitempty"`
	// Returned is what went back to the sender when it was dealt.
	Returned uint64 `json:"returned,omitempty"`
	// Note says in words where the envelope stands and what comes next.
	Note string `json:"note"`
}

// envelopeStatus describes the red envelope id.
func (w *Service) envelopeStatus(id event.ID) (*EnvelopeStatus, error) {
	info, ok := w.ledger.Envelope(id)
	if !ok {
		return nil, api.NotFound(fmt.Errorf("%s: %w", id, errEnvelopeUnknown))
	}
	st := &EnvelopeStatus{
		ID: id.String(), Sender: w.people.Key(info.Sender[:]), Total: info.Total, Count: info.Count,
		Claimed: w.claimed(id, info), Expires: time.UnixMilli(info.Expiry).UTC(), Settled: info.Settled,
		YourShare: info.Shares[w.me], Returned: info.Returned,
	}
	for _, c := range info.Claims {
		if ci, ok := w.ledger.Entry(c); ok && ci.Author == w.me {
			st.YourClaim = true
		}
	}
	owner, back := st.Sender.Label+"'s node", "back to "+st.Sender.Label
	if st.Sender.Me {
		owner, back = "this node", "back to you"
	}
	when := envelopeWhen(info.Expiry)
	switch expired := time.Now().UnixMilli() >= info.Expiry; {
	case st.Settled && st.YourShare > 0:
		st.Note = fmt.Sprintf("Dealt: %d of %d shares were claimed; yours is %d. %d went %s.", st.Claimed, st.Count, st.YourShare, st.Returned, back)
	case st.Settled:
		st.Note = fmt.Sprintf("Dealt: %d of %d shares were claimed; %d went %s.", st.Claimed, st.Count, st.Returned, back)
	case expired:
		st.Note = fmt.Sprintf("Expired at %s with %d of %d shares claimed: %s deals them when it is online, and what nobody claimed goes %s.",
			when, st.Claimed, st.Count, owner, back)
	default:
		st.Note = fmt.Sprintf("%d of %d shares claimed. The shares are dealt once all are claimed, or at %s; what nobody has claimed by then goes %s.",
			st.Claimed, st.Count, when, back)
	}
	return st, nil
}

// claimed counts the shares of an envelope claimed so far: one per member
// of its group who claimed, at most its count, as a settlement pays them.
func (w *Service) claimed(id event.ID, info wallet.EnvelopeInfo) int {
	env, _ := w.ledger.Entry(id)
	seen := map[wallet.Account]bool{}
	for _, c := range info.Claims {
		ci, ok := w.ledger.Entry(c)
		if ok && ci.Status == wallet.StatusOK && !seen[ci.Author] && w.memberClaim(env.Entry.Group, id, ci) {
			seen[ci.Author] = true
		}
	}
	return min(len(seen), info.Count)
}

// findEntry resolves an entry of the unit by its ID or a unique prefix of
// it (at least 6 hex digits); keep, if set, says which entries count.
func (w *Service) findEntry(ref string, keep func(event.ID) bool) (event.ID, error) {
	ref = strings.ToLower(strings.TrimSpace(ref))
	if id, err := event.ParseID(ref); err == nil {
		return id, nil
	}
	if !event.IsIDPrefix(ref) {
		return event.ID{}, api.BadRequest(fmt.Errorf("%q is not an entry ID: give the ID, or its first %d characters or more, from the history", ref, event.MinPrefix))
	}
	var found []event.ID
	err := w.store.ScopeItems(w.scope, nil, nil, func(_ uint64, id event.ID) {
		if strings.HasPrefix(id.String(), ref) && (keep == nil || keep(id)) {
			found = append(found, id)
		}
	})
	switch {
	case err != nil:
		return event.ID{}, err
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return event.ID{}, api.BadRequest(fmt.Errorf("%q is the start of %d entries: give more of the ID", ref, len(found)))
	}
	return event.ID{}, api.NotFound(fmt.Errorf("no entry starts with %q here (yet): see 'banyan wallet history'", ref))
}

// isEnvelope reports whether id is a red envelope.
func (w *Service) isEnvelope(id event.ID) bool {
	_, ok := w.ledger.Envelope(id)
	return ok
}
