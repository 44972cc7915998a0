package pay

import (
	"context"
	"net/http"
	"net/url"

	"github.com/banyan-mesh/banyan/node/api"
)

// Client is the wallet part of the API client.
type Client struct{ c *api.Client }

// NewClient returns the wallet calls of c.
func NewClient(c *api.Client) Client { return Client{c} }

// Wallet returns this node's wallet account.
func (c Client) Wallet(ctx context.Context) (*Wallet, error) {
	var v Wallet
	return &v, c.c.Do(ctx, http.MethodGet, "/v1/wallet", nil, &v)
}

// Unit returns the unit's definition.
func (c Client) Unit(ctx context.Context) (*UnitInfo, error) {
	var v UnitInfo
	return &v, c.c.Do(ctx, http.MethodGet, "/v1/wallet/unit", nil, &v)
}

// AdoptUnit keeps the unit definition of a code for the node's next start.
func (c Client) AdoptUnit(ctx context.Context, code string) (*UnitInfo, error) {
	var v UnitInfo
	return &v, c.c.Do(ctx, http.MethodPost, "/v1/wallet/unit", AdoptUnit{Code: code}, &v)
}

// History returns this node's statement.
func (c Client) History(ctx context.Context) ([]Line, error) {
	var v []Line
	return v, c.c.Do(ctx, http.MethodGet, "/v1/wallet/history", nil, &v)
}

// CSV returns this node's statement as CSV.
func (c Client) CSV(ctx context.Context) ([]byte, error) {
	return c.c.Bytes(ctx, "/v1/wallet/history?csv=1")
}

// Pay pays an account or contact.
func (c Client) Pay(ctx context.Context, in PayIn) (*Entry, error) {
	var v Entry
	return &v, c.c.Do(ctx, http.MethodPost, "/v1/wallet/pay", in, &v)
}

// Request makes a payment request to this node.
func (c Client) Request(ctx context.Context, in RequestIn) (*Request, error) {
	var v Request
	return &v, c.c.Do(ctx, http.MethodPost, "/v1/wallet/requests", in, &v)
}

// PayRequest pays a payment request link.
func (c Client) PayRequest(ctx context.Context, link string) (*Entry, error) {
	return c.PayRequestWait(ctx, PayRequestIn{Link: link})
}

// PayRequestWait pays a payment request link and, with WaitS, waits for
// the payee's decision (409 if it accepted another payment).
func (c Client) PayRequestWait(ctx context.Context, in PayRequestIn) (*Entry, error) {
	var v Entry
	return &v, c.c.Do(ctx, http.MethodPost, "/v1/wallet/pay-request", in, &v)
}

// Refund refunds a payment received.
func (c Client) Refund(ctx context.Context, in RefundIn) (*Entry, error) {
	var v Entry
	return &v, c.c.Do(ctx, http.MethodPost, "/v1/wallet/refund", in, &v)
}

// Limit grants an account a credit limit (guarantors only).
func (c Client) Limit(ctx context.Context, in LimitIn) (*Entry, error) {
	var v Entry
	return &v, c.c.Do(ctx, http.MethodPost, "/v1/wallet/limits", in, &v)
}

// Envelope sends a red envelope to a group.
func (c Client) Envelope(ctx context.Context, in EnvelopeIn) (*Entry, error) {
	var v Entry
	return &v, c.c.Do(ctx, http.MethodPost, "/v1/wallet/envelopes", in, &v)
}

// EnvelopeStatus describes a red envelope: until when it can be claimed,
// how far it is claimed, and what happens to what is not.
func (c Client) EnvelopeStatus(ctx context.Context, envelope string) (*EnvelopeStatus, error) {
	var v EnvelopeStatus
	return &v, c.c.Do(ctx, http.MethodGet, "/v1/wallet/envelopes/"+url.PathEscape(envelope), nil, &v)
}

// Claim claims a share of a red envelope.
func (c Client) Claim(ctx context.Context, envelope string) (*Entry, error) {
	var v Entry
	return &v, c.c.Do(ctx, http.MethodPost, "/v1/wallet/envelopes/"+url.PathEscape(envelope)+"/claim", nil, &v)
}

// Frauds lists the accounts that forked their chains.
func (c Client) Frauds(ctx context.Context) ([]Fraud, error) {
	var v []Fraud
	return v, c.c.Do(ctx, http.MethodGet, "/v1/wallet/frauds", nil, &v)
}

// FraudProofs returns the fraud proofs against an account, as text.
func (c Client) FraudProofs(ctx context.Context, account string) (*FraudProofs, error) {
	var v FraudProofs
	return &v, c.c.Do(ctx, http.MethodGet, "/v1/wallet/frauds/"+url.PathEscape(account)+"/proof", nil, &v)
}

// AcceptCap sets what the node accepts from an unconfirmed payer (or, with
// no payer, from anyone without a cap of their own).
func (c Client) AcceptCap(ctx context.Context, in AcceptCap) (*Wallet, error) {
	var out Wallet
	return &out, c.c.Do(ctx, http.MethodPut, "/v1/wallet/accept-cap", in, &out)
}
