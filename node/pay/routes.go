package pay

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/people"
	"github.com/banyan-mesh/banyan/store"
	"github.com/banyan-mesh/banyan/wallet"
)

// Wallet is this node's account in its unit of mutual credit. Amounts are
// integers in minor units.
type Wallet struct {
	Unit      string `json:"unit"`
	Account   string `json:"account"`
	Balance   int64  `json:"balance"`
	Spendable int64  `json:"spendable"`
	Limit     uint64 `json:"limit"`
	Frozen    bool   `json:"frozen"`
	// Guarantor is true when this node's grants count.
	Guarantor bool `json:"guarantor,omitempty"`
	// Unreceipted counts incoming transfers not yet spendable.
	Unreceipted int `json:"unreceipted,omitempty"`
	// AcceptCap bounds what is accepted from a payer whose recent spending
	// is unconfirmed (0: no bound); AcceptCaps are caps for given payers.
	AcceptCap  uint64            `json:"accept_cap,omitempty"`
	AcceptCaps map[string]uint64 `json:"accept_caps,omitempty"`
	// CapPeople shows the payers of AcceptCaps, by the same keys.
	CapPeople map[string]people.Person `json:"cap_people,omitempty"`
	// CatchingUp is set while the node does not know its own chain's
	// head: it writes nothing until it has synced with a peer.
	CatchingUp bool `json:"catching_up,omitempty"`
	// Disagree lists the connected peers that define the unit with other
	// guarantors: their balances and this node's differ.
	Disagree []UnitPeer `json:"disagree,omitempty"`
}

// UnitInfo is the unit's definition (GET /v1/wallet/unit).
type UnitInfo struct {
	Unit       string          `json:"unit"`
	Guarantors []people.Person `json:"guarantors"`
	DefinedBy  people.Person   `json:"defined_by"`
	Defined    time.Time       `json:"defined"`
	// Code passes the definition on: a node that adopts it counts credit
	// alike.
	Code string `json:"code"`
	// Next is a definition adopted for the next start, if any.
	Next *UnitInfo `json:"next,omitempty"`
	// Disagree lists the connected peers that define the unit otherwise.
	Disagree []UnitPeer `json:"disagree,omitempty"`
	// BadAnswers counts peers' answers that were not a valid definition.
	BadAnswers uint64 `json:"bad_answers,omitempty"`
}

// UnitPeer is a peer that defines the unit with other guarantors.
type UnitPeer struct {
	Peer       people.Person   `json:"peer"`
	Guarantors []people.Person `json:"guarantors"`
}

// AdoptUnit adopts a unit definition (POST /v1/wallet/unit).
type AdoptUnit struct {
	Code string `json:"code"`
}

// AcceptCap is the body of PUT /v1/wallet/accept-cap: Payer empty sets the
// cap for anyone without one of their own.
type AcceptCap struct {
	Payer string `json:"payer,omitempty"`
	Cap   uint64 `json:"cap"`
}

// Line is one line of a wallet statement.
type Line struct {
	Time         time.Time `json:"time"`
	Entry        string    `json:"entry"`
	Author       string    `json:"author"`
	Seq          uint64    `json:"seq"`
	Type         string    `json:"type"`
	Counterparty string    `json:"counterparty,omitempty"`
	Amount       int64     `json:"amount"`
	Balance      int64     `json:"balance"`
	Memo         string    `json:"memo,omitempty"`
	Ref          string    `json:"ref,omitempty"`
	Status       string    `json:"status"`
	Reason       string    `json:"reason,omitempty"`
	// Text says what the entry did, as a person would ("bob paid you
	// 250"); With is the other side, unless that is a red envelope.
	Text string         `json:"text"`
	With *people.Person `json:"with,omitempty"`
}

// Entry is an entry this node wrote.
type Entry struct {
	ID     string `json:"id"`
	Seq    uint64 `json:"seq"`
	Type   string `json:"type"`
	Amount uint64 `json:"amount,omitempty"`
	To     string `json:"to,omitempty"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Balance is this node's balance after the entry.
	Balance int64 `json:"balance"`
	// Accepted is set, for a payment of a request paid with a wait, once
	// the payee has receipted it; Pending when the wait ended first.
	Accepted bool `json:"accepted,omitempty"`
	Pending  bool `json:"pending,omitempty"`
	// Text says what the entry did, as a person would; With is the other
	// side, unless that is a red envelope.
	Text string         `json:"text"`
	With *people.Person `json:"with,omitempty"`
	// Envelope, for a red envelope or a claim of one, says until when it
	// can be claimed and what happens to what is not.
	Envelope *EnvelopeStatus `json:"envelope,omitempty"`
}

// PayIn is the body of POST /v1/wallet/pay.
type PayIn struct {
	To     string `json:"to"`
	Amount uint64 `json:"amount"`
	Memo   string `json:"memo,omitempty"`
}

// RequestIn is the body of POST /v1/wallet/requests.
type RequestIn struct {
	Amount  uint64 `json:"amount"`
	Memo    string `json:"memo,omitempty"`
	ExpiryS int64  `json:"expiry_s,omitempty"`
}

// Request is a payment request to this node.
type Request struct {
	Link    string    `json:"link"`
	QR      string    `json:"qr"`
	Amount  uint64    `json:"amount"`
	Unit    string    `json:"unit"`
	Memo    string    `json:"memo,omitempty"`
	Expires time.Time `json:"expires"`
}

// PayRequestIn is the body of POST /v1/wallet/pay-request. With WaitS the
// answer waits up to that many seconds for the payee to accept the
// payment; if the payee accepts another payment of the request, the
// answer is 409.
type PayRequestIn struct {
	Link  string `json:"link"`
	WaitS int64  `json:"wait_s,omitempty"`
}

// MaxRequestWait bounds PayRequestIn.WaitS.
const MaxRequestWait = 5 * time.Minute

// RefundIn is the body of POST /v1/wallet/refund. Amount 0 refunds what is
// left of the payment.
type RefundIn struct {
	Entry  string `json:"entry"`
	Amount uint64 `json:"amount,omitempty"`
}

// LimitIn is the body of POST /v1/wallet/limits.
type LimitIn struct {
	Account string `json:"account"`
	Limit   uint64 `json:"limit"`
}

// EnvelopeIn is the body of POST /v1/wallet/envelopes.
type EnvelopeIn struct {
	Group string `json:"group"`
	Total uint64 `json:"total"`
	Count int    `json:"count"`
}

// Fraud reports an account that forked its chain.
type Fraud struct {
	Account   string        `json:"account"`
	Person    people.Person `json:"person"`
	Seq       uint64        `json:"seq"`
	Balance   int64         `json:"balance"`
	Limit     uint64        `json:"limit"`
	Shortfall uint64        `json:"shortfall"`
	Affected  []Affected    `json:"affected,omitempty"`
	Proofs    int           `json:"proofs"`
}

// FraudProofs are the fraud proofs against one account, as text that anyone
// can check alone (banyan wallet verify-proof).
type FraudProofs struct {
	Account string       `json:"account"`
	Proofs  []FraudProof `json:"proofs"`
}

// FraudProof is one proof: where the account forked, and the proof text
// ("banyan:fraud1.…").
type FraudProof struct {
	Seq        uint64 `json:"seq"`
	BrokenLink bool   `json:"broken_link,omitempty"`
	Text       string `json:"text"`
}

// Affected is an account credited by a forked account after the fork.
type Affected struct {
	Account string        `json:"account"`
	Person  people.Person `json:"person"`
	Amount  uint64        `json:"amount"`
}

// maxQRLink bounds the link a QR code is drawn for on request; request
// links are a few hundred bytes.
const maxQRLink = 2048

// StreamType is the type of wallet entries on the event stream.
const StreamType = "wallet"

// Routes registers the wallet API:
//
//	GET    /v1/wallet                       Wallet (balance, spendable, limit, frozen)
//	GET    /v1/wallet/history               []Line, or ?csv=1 for CSV
//	POST   /v1/wallet/pay                   PayIn -> Entry
//	POST   /v1/wallet/requests              RequestIn -> Request (link, QR)
//	GET    /v1/wallet/requests/qr.png?link=L  a payment request link as a QR code (PNG)
//	POST   /v1/wallet/pay-request           PayRequestIn -> Entry
//	POST   /v1/wallet/refund                RefundIn -> Entry
//	POST   /v1/wallet/limits                LimitIn -> Entry (guarantors)
//	POST   /v1/wallet/envelopes             EnvelopeIn -> Entry (a red envelope)
//	GET    /v1/wallet/envelopes/{id}        EnvelopeStatus
//	POST   /v1/wallet/envelopes/{id}/claim  -> Entry
//	GET    /v1/wallet/frauds                []Fraud
//	GET    /v1/wallet/frauds/{account}/proof FraudProofs (404 if none)
//	PUT    /v1/wallet/accept-cap            AcceptCap -> Wallet
//
// An entry or envelope ID may be given as a unique prefix of at least 6
// hex digits.
func (w *Service) Routes(srv *api.Server) {
	srv.Handle("GET /v1/wallet", api.Get(srv, func(r *http.Request) (*Wallet, error) { return w.info(), nil }))
	srv.Handle("GET /v1/wallet/unit", api.Get(srv, func(r *http.Request) (*UnitInfo, error) { return w.unitInfo(), nil }))
	srv.Handle("POST /v1/wallet/unit", api.Post(srv, func(r *http.Request, in AdoptUnit) (*UnitInfo, error) {
		def, err := wallet.ParseUnitLink(in.Code)
		if err != nil {
			return nil, api.BadRequest(fmt.Errorf("%w: copy the whole code, starting with banyan:unit1.", err))
		}
		if err := w.Adopt(def); err != nil {
			return nil, err
		}
		return w.unitInfo(), nil
	}))
	srv.Handle("PUT /v1/wallet/accept-cap", api.Post(srv, func(r *http.Request, in AcceptCap) (*Wallet, error) {
		var payer *wallet.Account
		if in.Payer != "" {
			a, err := w.resolve(in.Payer)
			if err != nil {
				return nil, api.BadRequest(err)
			}
			payer = &a
		}
		if err := w.SetAcceptCap(payer, in.Cap); err != nil {
			return nil, err
		}
		return w.info(), nil
	}))
	srv.Handle("GET /v1/wallet/history", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if csv := r.URL.Query().Get("csv"); csv != "" && csv != "0" && csv != "false" {
			var buf strings.Builder
			if err := wallet.WriteCSV(&buf, w.Unit(), w.ledger.Statement(w.me)); err != nil {
				api.WriteError(rw, err)
				return
			}
			rw.Header().Set("Content-Type", "text/csv; charset=utf-8")
			rw.Write([]byte(buf.String()))
			return
		}
		api.Get(srv, func(r *http.Request) ([]Line, error) { return w.history(), nil }).ServeHTTP(rw, r)
	}))
	srv.Handle("POST /v1/wallet/pay", api.Post(srv, func(r *http.Request, in PayIn) (*Entry, error) {
		if in.To == "" {
			return nil, api.BadRequest(errors.New("say whom to pay: a contact, a peer ID or a hex account"))
		}
		if err := checkAmount("amount", in.Amount); err != nil {
			return nil, err
		}
		if a, err := w.resolve(in.To); err == nil && a == w.me {
			return nil, api.BadRequest(errors.New("that is you: you cannot pay yourself"))
		}
		return w.entry(w.Pay(r.Context(), in.To, in.Amount, in.Memo))
	}))
	srv.Handle("POST /v1/wallet/requests", api.Post(srv, func(r *http.Request, in RequestIn) (*Request, error) {
		if err := checkAmount("amount", in.Amount); err != nil {
			return nil, err
		}
		if in.ExpiryS < 0 {
			return nil, api.BadRequest(errors.New("expiry_s must not be negative"))
		}
		req, err := w.Request(in.Amount, in.Memo, time.Duration(in.ExpiryS)*time.Second)
		if err != nil {
			return nil, walletErr(err)
		}
		link := req.Link()
		qr, err := qrcode.New(link, qrcode.Low)
		if err != nil {
			return nil, err
		}
		return &Request{
			Link: link, QR: qr.ToSmallString(false), Amount: req.Amount, Unit: req.Unit, Memo: req.Memo,
			Expires: time.UnixMilli(req.Expiry).UTC(),
		}, nil
	}))
	srv.Handle("GET /v1/wallet/requests/qr.png", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		link := r.URL.Query().Get("link")
		// Only payment request links: this route draws what it is given.
		if _, err := wallet.ParseRequestLink(link); err != nil || len(link) > maxQRLink {
			api.WriteError(rw, api.Errorf(http.StatusBadRequest, "link must be a payment request link (banyan:pay1.…)"))
			return
		}
		api.WriteQR(rw, link)
	}))
	srv.Handle("POST /v1/wallet/pay-request", api.Post(srv, func(r *http.Request, in PayRequestIn) (*Entry, error) {
		if in.Link == "" {
			return nil, api.BadRequest(errors.New("give the payment request link (banyan:pay1.…)"))
		}
		wait := time.Duration(in.WaitS) * time.Second
		if in.WaitS < 0 || wait > MaxRequestWait {
			return nil, api.BadRequest(fmt.Errorf("wait_s must be 0 to %d", int64(MaxRequestWait/time.Second)))
		}
		e, err := w.PayRequest(r.Context(), in.Link)
		if err != nil || wait == 0 {
			return w.entry(e, err)
		}
		accepted, err := w.AwaitRequest(r.Context(), e, wait)
		if err != nil {
			return nil, walletErr(err)
		}
		out, err := w.entry(e, nil)
		if err == nil {
			out.Accepted, out.Pending = accepted, !accepted
		}
		return out, err
	}))
	srv.Handle("POST /v1/wallet/refund", api.Post(srv, func(r *http.Request, in RefundIn) (*Entry, error) {
		id, err := w.findEntry(in.Entry, nil)
		if err != nil {
			return nil, err
		}
		if info, ok := w.ledger.Entry(id); ok && (info.Entry.Type != wallet.TypePay || info.Entry.Counterparty != w.me) {
			return nil, api.BadRequest(fmt.Errorf("entry %s is not a payment to you: only a payment you received can be refunded", shortEntry(id.String())))
		}
		if in.Amount > wallet.MaxAmount {
			return nil, checkAmount("amount", in.Amount)
		}
		return w.entry(w.Refund(r.Context(), id, in.Amount))
	}))
	srv.Handle("POST /v1/wallet/limits", api.Post(srv, func(r *http.Request, in LimitIn) (*Entry, error) {
		if in.Account == "" {
			return nil, api.BadRequest(errors.New("say whose limit to set: a contact, a peer ID or a hex account"))
		}
		if in.Limit > wallet.MaxAmount {
			return nil, api.BadRequest(fmt.Errorf("limit must be at most %d minor units", uint64(wallet.MaxAmount)))
		}
		if !slices.Contains(w.ledger.Config().Guarantors, w.me) {
			return nil, api.BadRequest(fmt.Errorf("you are not a guarantor of the unit %q, so a credit limit you grant would not count: only the guarantors every node names with --wallet-guarantor can grant credit", w.Unit()))
		}
		if a, err := w.resolve(in.Account); err == nil && a == w.me {
			return nil, api.BadRequest(errors.New("that is you: a guarantor cannot grant credit to themselves; another guarantor can"))
		}
		return w.entry(w.Grant(r.Context(), in.Account, in.Limit))
	}))
	srv.Handle("POST /v1/wallet/envelopes", api.Post(srv, func(r *http.Request, in EnvelopeIn) (*Entry, error) {
		groupID, _, err := w.groups.Lookup(in.Group)
		if err != nil {
			return nil, err
		}
		if err := checkAmount("total", in.Total); err != nil {
			return nil, err
		}
		if in.Count < 1 || in.Count > wallet.MaxShares || uint64(in.Count) > in.Total {
			return nil, api.BadRequest(fmt.Errorf("count must be 1 to %d shares, and at most the total", wallet.MaxShares))
		}
		return w.entry(w.SendEnvelope(r.Context(), groupID, in.Total, in.Count))
	}))
	srv.Handle("GET /v1/wallet/envelopes/{id}", api.Get(srv, func(r *http.Request) (*EnvelopeStatus, error) {
		id, err := w.findEntry(r.PathValue("id"), w.isEnvelope)
		if err != nil {
			return nil, err
		}
		return w.envelopeStatus(id)
	}))
	srv.Handle("POST /v1/wallet/envelopes/{id}/claim", api.Post(srv, func(r *http.Request, _ api.Empty) (*Entry, error) {
		id, err := w.findEntry(r.PathValue("id"), w.isEnvelope)
		if err != nil {
			return nil, err
		}
		if env, ok := w.ledger.Envelope(id); ok && env.Sender == w.me {
			return nil, api.BadRequest(errors.New("that is your own red envelope: the others claim its shares, and what they do not claim comes back to you"))
		}
		e, err := w.Claim(r.Context(), id)
		if errors.Is(err, errEnvelopeUnknown) {
			return nil, api.NotFound(err)
		}
		return w.entry(e, err)
	}))
	srv.Handle("GET /v1/wallet/frauds", api.Get(srv, func(r *http.Request) ([]Fraud, error) {
		l := w.ledger
		var out []Fraud
		for _, a := range l.FrozenAccounts() {
			rep, ok := l.ForkReport(a)
			if !ok {
				continue
			}
			f := Fraud{Account: a.String(), Person: w.people.Key(a[:]), Seq: rep.Seq, Balance: rep.Balance, Limit: rep.Limit, Shortfall: rep.Shortfall, Proofs: len(rep.Proofs)}
			for _, af := range rep.Affected {
				f.Affected = append(f.Affected, Affected{Account: af.Account.String(), Person: w.people.Key(af.Account[:]), Amount: af.Amount})
			}
			out = append(out, f)
		}
		return out, nil
	}))
	srv.Handle("GET /v1/wallet/frauds/{account}/proof", api.Get(srv, func(r *http.Request) (*FraudProofs, error) {
		a, err := w.resolve(r.PathValue("account"))
		if err != nil {
			return nil, api.BadRequest(err)
		}
		rep, ok := w.ledger.ForkReport(a)
		if !ok {
			return nil, api.NotFound(fmt.Errorf("no fraud proof against %s here", a))
		}
		out := &FraudProofs{Account: a.String()}
		for _, p := range rep.Proofs {
			info, err := p.Info()
			if err != nil {
				return nil, err
			}
			out.Proofs = append(out.Proofs, FraudProof{Seq: info.Seq, BrokenLink: info.BrokenLink, Text: p.Text()})
		}
		return out, nil
	}))
}

// walletErr turns the wallet's refusals into 4xx (400, or 409 for a
// conflict with what someone else did first) and 503 while the node is
// catching up; anything else stays 500.
func walletErr(err error) error {
	var ie *WalletInputError
	if errors.As(err, &ie) {
		if ie.status != 0 {
			return api.Errorf(ie.status, "%s", ie.Err.Error())
		}
		return api.BadRequest(ie.Err)
	}
	return err
}

func checkAmount(what string, v uint64) error {
	if v == 0 || v > wallet.MaxAmount {
		return api.BadRequest(fmt.Errorf("%s must be a positive integer in minor units (1 to %d)", what, uint64(wallet.MaxAmount)))
	}
	return nil
}

func (w *Service) entry(e *event.Event, err error) (*Entry, error) {
	if err != nil {
		return nil, walletErr(err)
	}
	out := &Entry{ID: e.ID.String(), Seq: e.Seq, Balance: w.ledger.Balance(w.me)}
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
		out.Text, out.With = w.say(info)
		switch info.Entry.Type {
		case wallet.TypeEnvelope:
			out.Envelope, _ = w.envelopeStatus(e.ID)
		case wallet.TypeClaim:
			out.Envelope, _ = w.envelopeStatus(info.Entry.Ref)
		}
	}
	return out, nil
}

func (w *Service) info() *Wallet {
	acct := w.ledger.Account(w.me)
	out := &Wallet{
		Unit: w.Unit(), Account: w.me.String(), Balance: acct.Balance, Spendable: acct.Spendable,
		Limit: acct.Limit, Frozen: acct.Frozen, Unreceipted: len(w.ledger.Unreceipted(w.me)),
		CatchingUp: !w.HeadKnown(),
	}
	for _, g := range w.ledger.Config().Guarantors {
		if g == w.me {
			out.Guarantor = true
		}
	}
	out.Disagree = w.unitPeers()
	pol := w.Policy()
	out.AcceptCap = pol.DefaultCap
	if len(pol.Caps) > 0 {
		out.AcceptCaps, out.CapPeople = map[string]uint64{}, map[string]people.Person{}
		for a, c := range pol.Caps {
			out.AcceptCaps[a.String()] = c
			out.CapPeople[a.String()] = w.people.Key(a[:])
		}
	}
	return out
}

func (w *Service) persons(as []wallet.Account) []people.Person {
	out := make([]people.Person, 0, len(as))
	for _, a := range as {
		out = append(out, w.people.Key(a[:]))
	}
	return out
}

func (w *Service) unitPeers() []UnitPeer {
	var out []UnitPeer
	for _, d := range w.units.disagreements() {
		out = append(out, UnitPeer{Peer: w.people.Person(d.Peer), Guarantors: w.persons(d.Guarantors)})
	}
	return out
}

func (w *Service) defInfo(d *wallet.UnitDef) *UnitInfo {
	return &UnitInfo{
		Unit: d.Unit, Guarantors: w.persons(d.Guarantors), DefinedBy: w.people.Key(d.Author[:]),
		Defined: time.UnixMilli(d.Time).UTC(), Code: d.Link(),
	}
}

func (w *Service) unitInfo() *UnitInfo {
	out := w.defInfo(w.units.def)
	w.units.mu.Lock()
	next := w.units.adopted
	w.units.mu.Unlock()
	if next != nil && !next.Same(w.units.def) {
		out.Next = w.defInfo(next)
	}
	out.Disagree = w.unitPeers()
	w.units.mu.Lock()
	out.BadAnswers = w.units.malformed
	w.units.mu.Unlock()
	return out
}

func (w *Service) history() []Line {
	lines := w.ledger.Statement(w.me)
	out := make([]Line, 0, len(lines))
	for _, l := range lines {
		al := Line{
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
		if info, ok := w.ledger.Entry(l.ID); ok {
			al.Text, al.With = w.say(info)
		}
		out = append(out, al)
	}
	return out
}

// Render shows, on the event stream, a wallet entry written by this node
// or moving money to or from it.
func (w *Service) Render(a store.Arrival) (api.Event, bool) {
	if a.Event == nil || a.Event.ScopeID() != w.scope {
		return api.Event{}, false
	}
	info, ok := w.ledger.Entry(a.Event.ID)
	if !ok {
		// Stored, but not added to the ledger yet (the stream can read an
		// arrival a moment before the engine hands it to the wallet): show
		// it from the entry itself, as pending.
		en, err := wallet.CheckEvent(a.Event)
		if err != nil {
			return api.Event{}, false
		}
		author, _ := wallet.AccountOf(a.Event.Author)
		info = wallet.EntryInfo{ID: a.Event.ID, Author: author, Seq: a.Event.Seq, Time: a.Event.Time, Entry: *en, Status: wallet.StatusPending}
	}
	if info.Author != w.me && info.Entry.Counterparty != w.me {
		return api.Event{}, false
	}
	line := &Line{
		Time: time.UnixMilli(info.Time).UTC(), Entry: a.Event.ID.String(), Author: info.Author.String(), Seq: info.Seq,
		Type: info.Entry.Type.String(), Amount: int64(info.Entry.Amount), Balance: w.ledger.Balance(w.me),
		Memo: info.Entry.Memo, Status: info.Status.String(),
	}
	if !info.Entry.Counterparty.IsZero() {
		line.Counterparty = info.Entry.Counterparty.String()
	}
	if info.Reason != nil {
		line.Reason = info.Reason.Error()
	}
	line.Text, line.With = w.say(info)
	return api.Event{Seq: a.Seq, Type: StreamType, Data: line}, true
}
