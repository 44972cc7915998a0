package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/wallet"
)

// walletErr turns the wallet's refusals into 400s; anything else stays 500.
func walletErr(err error) error {
	var ie *WalletInputError
	if errors.As(err, &ie) {
		return badRequest(ie.Err)
	}
	return err
}

func checkAmount(what string, v uint64) error {
	if v == 0 || v > wallet.MaxAmount {
		return badRequest(fmt.Errorf("%s must be a positive integer in minor units (1 to %d)", what, uint64(wallet.MaxAmount)))
	}
	return nil
}

func (b backend) walletEntry(e *event.Event, err error) (*api.WalletEntry, error) {
	if err != nil {
		return nil, walletErr(err)
	}
	w := b.n.wallet
	out := &api.WalletEntry{ID: e.ID.String(), Seq: e.Seq, Balance: w.ledger.Balance(w.me)}
	if info, ok := w.ledger.Entry(e.ID); ok {
		out.Type = info.Entry.Type.String()
		out.Amount = info.Entry.Amount
		if !info.Entry.Counterparty.IsZero() {
			out.To = info.Entry.Counterparty.String()
		}
		out.Status = info.Status.String()
		if info.Reason != nil {
			out.Reason = info.Reason.Error()
		}
	}
	return out, nil
}

func (b backend) Wallet(ctx context.Context) (*api.Wallet, error) {
	w := b.n.wallet
	info := w.ledger.Account(w.me)
	out := &api.Wallet{
		Unit: w.Unit(), Account: w.me.String(), Balance: info.Balance, Spendable: info.Spendable,
		Limit: info.Limit, Frozen: info.Frozen, Unreceipted: len(w.ledger.Unreceipted(w.me)),
	}
	for _, g := range w.ledger.Config().Guarantors {
		if g == w.me {
			out.Guarantor = true
		}
	}
	pol := w.Policy()
	out.AcceptCap = pol.DefaultCap
	if len(pol.Caps) > 0 {
		out.AcceptCaps = map[string]uint64{}
		for a, c := range pol.Caps {
			out.AcceptCaps[a.String()] = c
		}
	}
	return out, nil
}

func (b backend) WalletAcceptCap(ctx context.Context, in api.WalletAcceptCap) (*api.Wallet, error) {
	var payer *wallet.Account
	if in.Payer != "" {
		a, err := b.n.wallet.resolve(in.Payer)
		if err != nil {
			return nil, badRequest(err)
		}
		payer = &a
	}
	if err := b.n.wallet.SetAcceptCap(payer, in.Cap); err != nil {
		return nil, err
	}
	return b.Wallet(ctx)
}

func (b backend) WalletHistory(ctx context.Context) ([]api.WalletLine, error) {
	w := b.n.wallet
	lines := w.ledger.Statement(w.me)
	out := make([]api.WalletLine, 0, len(lines))
	for _, l := range lines {
		al := api.WalletLine{
			Time: time.UnixMilli(l.Time).UTC(), Entry: l.ID.String(), Author: l.Author.String(), Seq: l.Seq,
			Type: l.Type.String(), Amount: l.Amount, Balance: l.Balance, Memo: l.Memo,
			Status: l.Status.String(), Reason: l.Reason,
		}
		if !l.Counterparty.IsZero() {
			al.Counterparty = l.Counterparty.String()
		}
		if l.Ref != (event.ID{}) {
			al.Ref = l.Ref.String()
		}
		out = append(out, al)
	}
	return out, nil
}

func (b backend) WalletCSV(ctx context.Context, out io.Writer) error {
	w := b.n.wallet
	return wallet.WriteCSV(out, w.Unit(), w.ledger.Statement(w.me))
}

func (b backend) WalletPay(ctx context.Context, in api.WalletPay) (*api.WalletEntry, error) {
	if in.To == "" {
		return nil, badRequest(errors.New("say whom to pay: a contact, a peer ID or a hex account"))
	}
	if err := checkAmount("amount", in.Amount); err != nil {
		return nil, err
	}
	return b.walletEntry(b.n.wallet.Pay(ctx, in.To, in.Amount, in.Memo))
}

func (b backend) WalletRequest(ctx context.Context, in api.WalletRequestIn) (*api.WalletRequest, error) {
	if err := checkAmount("amount", in.Amount); err != nil {
		return nil, err
	}
	if in.ExpiryS < 0 {
		return nil, badRequest(errors.New("expiry_s must not be negative"))
	}
	r, err := b.n.wallet.Request(in.Amount, in.Memo, time.Duration(in.ExpiryS)*time.Second)
	if err != nil {
		return nil, walletErr(err)
	}
	link := r.Link()
	qr, err := qrcode.New(link, qrcode.Low)
	if err != nil {
		return nil, err
	}
	return &api.WalletRequest{
		Link: link, QR: qr.ToSmallString(false), Amount: r.Amount, Unit: r.Unit, Memo: r.Memo,
		Expires: time.UnixMilli(r.Expiry).UTC(),
	}, nil
}

func (b backend) WalletPayRequest(ctx context.Context, link string) (*api.WalletEntry, error) {
	if link == "" {
		return nil, badRequest(errors.New("give the payment request link (banyan:pay1.…)"))
	}
	return b.walletEntry(b.n.wallet.PayRequest(ctx, link))
}

func (b backend) WalletRefund(ctx context.Context, in api.WalletRefund) (*api.WalletEntry, error) {
	id, err := event.ParseID(in.Entry)
	if err != nil {
		return nil, badRequest(fmt.Errorf("entry %q: %w (give the payment's entry ID from the history)", in.Entry, err))
	}
	if in.Amount > wallet.MaxAmount {
		return nil, checkAmount("amount", in.Amount)
	}
	return b.walletEntry(b.n.wallet.Refund(ctx, id, in.Amount))
}

func (b backend) WalletLimit(ctx context.Context, in api.WalletLimit) (*api.WalletEntry, error) {
	if in.Account == "" {
		return nil, badRequest(errors.New("say whose limit to set: a contact, a peer ID or a hex account"))
	}
	if in.Limit > wallet.MaxAmount {
		return nil, badRequest(fmt.Errorf("limit must be at most %d minor units", uint64(wallet.MaxAmount)))
	}
	return b.walletEntry(b.n.wallet.Grant(ctx, in.Account, in.Limit))
}

func (b backend) WalletEnvelope(ctx context.Context, in api.WalletEnvelopeIn) (*api.WalletEntry, error) {
	g, err := b.group(in.Group)
	if err != nil {
		return nil, err
	}
	if err := checkAmount("total", in.Total); err != nil {
		return nil, err
	}
	if in.Count < 1 || in.Count > wallet.MaxShares || uint64(in.Count) > in.Total {
		return nil, badRequest(fmt.Errorf("count must be 1 to %d shares, and at most the total", wallet.MaxShares))
	}
	return b.walletEntry(b.n.wallet.SendEnvelope(ctx, g, in.Total, in.Count))
}

func (b backend) WalletClaim(ctx context.Context, envelope string) (*api.WalletEntry, error) {
	id, err := event.ParseID(envelope)
	if err != nil {
		return nil, badRequest(fmt.Errorf("envelope %q: %w (give the ID from the announcement)", envelope, err))
	}
	e, err := b.n.wallet.Claim(ctx, id)
	if errors.Is(err, errEnvelopeUnknown) {
		return nil, &api.StatusError{Status: http.StatusNotFound, Message: err.Error()}
	}
	return b.walletEntry(e, err)
}

func (b backend) WalletFrauds(ctx context.Context) ([]api.WalletFraud, error) {
	l := b.n.wallet.ledger
	var out []api.WalletFraud
	for _, a := range l.FrozenAccounts() {
		r, ok := l.ForkReport(a)
		if !ok {
			continue
		}
		f := api.WalletFraud{Account: a.String(), Seq: r.Seq, Balance: r.Balance, Limit: r.Limit, Shortfall: r.Shortfall, Proofs: len(r.Proofs)}
		for _, af := range r.Affected {
			f.Affected = append(f.Affected, api.WalletAffected{Account: af.Account.String(), Amount: af.Amount})
		}
		out = append(out, f)
	}
	return out, nil
}
