package pay

import (
	"fmt"
	"time"

	"github.com/banyan-mesh/banyan/node/people"
	"github.com/banyan-mesh/banyan/wallet"
)

// What wallet entries say, as a person would say them: "paid bob 250",
// "bob paid you 250", "claimed 37 from alice's red envelope". Names are
// shown as node/people shows every person. The text holds names from the
// network: a terminal escapes it, a page shows it as text.

// envelopeWhen says until when a red envelope can be claimed, as the app
// says times to come: "Sat 5 Dec, 21:48", with the year when it is not
// this one.
func envelopeWhen(expiry int64) string {
	t := time.UnixMilli(expiry).Local()
	if t.Year() != time.Now().Year() {
		return t.Format("Mon 2 Jan 2006, 15:04")
	}
	return t.Format("Mon 2 Jan, 15:04")
}

// person shows an account, or nil for an escrow (a red envelope's money).
func (w *Service) person(a wallet.Account) *people.Person {
	if a.IsZero() {
		return nil
	}
	p := w.people.Key(a[:])
	return &p
}

// say tells what an entry did, from this person's side, and who the other
// side is (nil when it is no person: a red envelope).
func (w *Service) say(info wallet.EntryInfo) (string, *people.Person) {
	en := info.Entry
	mine := info.Author == w.me
	other := w.person(info.Author)
	if mine {
		other = w.person(en.Counterparty)
	}
	name := func() string {
		if other == nil {
			return "someone"
		}
		return other.Label
	}
	switch en.Type {
	case wallet.TypePay:
		if mine {
			return fmt.Sprintf("paid %s %d", name(), en.Amount), other
		}
		return fmt.Sprintf("%s paid you %d", name(), en.Amount), other
	case wallet.TypeRefund:
		if mine {
			return fmt.Sprintf("refunded %s %d", name(), en.Amount), other
		}
		return fmt.Sprintf("%s refunded you %d", name(), en.Amount), other
	case wallet.TypeReceipt:
		if mine {
			return fmt.Sprintf("accepted %d from %s", en.Amount, name()), other
		}
		return fmt.Sprintf("%s accepted your %d", name(), en.Amount), other
	case wallet.TypeLimit:
		if mine {
			return fmt.Sprintf("gave %s a credit limit of %d", name(), en.Amount), other
		}
		return fmt.Sprintf("%s gave you a credit limit of %d", name(), en.Amount), other
	case wallet.TypeEnvelope:
		who := "you"
		if !mine {
			who = name()
		}
		return fmt.Sprintf("%s put %d in a red envelope of %d shares, claimable until %s; what is not claimed by then goes back to %s",
			who, en.Amount, en.Count, envelopeWhen(en.Expiry), who), nil
	case wallet.TypeClaim:
		env, ok := w.ledger.Envelope(en.Ref)
		if !mine {
			return fmt.Sprintf("%s claimed a share of your red envelope", name()), other
		}
		switch {
		case !ok:
			return fmt.Sprintf("claimed a share of %s's red envelope", name()), other
		case env.Settled && env.Shares[w.me] > 0:
			return fmt.Sprintf("claimed %d from %s's red envelope", env.Shares[w.me], name()), other
		case env.Settled:
			return fmt.Sprintf("claimed a share of %s's red envelope, too late: it was all dealt", name()), other
		}
		return fmt.Sprintf("claimed a share of %s's red envelope; shares are dealt once all %d are claimed, or at %s",
			name(), env.Count, envelopeWhen(env.Expiry)), other
	case wallet.TypeSettle:
		env, ok := w.ledger.Envelope(en.Ref)
		if mine {
			return fmt.Sprintf("dealt your red envelope: %d shares claimed, %d back to you", len(en.Claims), en.Amount), nil
		}
		sender := w.person(info.Author)
		if ok && env.Shares[w.me] > 0 {
			return fmt.Sprintf("got %d from %s's red envelope", env.Shares[w.me], sender.Label), sender
		}
		return fmt.Sprintf("%s dealt a red envelope", sender.Label), sender
	}
	return en.Type.String(), other
}
