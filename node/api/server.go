package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Backend is what the API exposes; the node implements it. Errors that are
// the caller's fault are *StatusError with a 4xx status; anything else is
// reported as 500.
type Backend interface {
	Node(ctx context.Context) (*Node, error)
	Peers(ctx context.Context) ([]Peer, error)
	Groups(ctx context.Context) ([]Group, error)
	CreateGroup(ctx context.Context, name string) (*Group, error)
	JoinGroup(ctx context.Context, invite string) (*Group, error)
	Invite(ctx context.Context, group string) (*Invite, error)
	LeaveGroup(ctx context.Context, group string) error
	Send(ctx context.Context, group, text string) (*Message, error)
	History(ctx context.Context, group string, limit int, before string) (*Page, error)
	MarkRead(ctx context.Context, group, cursor string) error
	SetRetention(ctx context.Context, group string, r SetRetention) (*Group, error)
	Contacts(ctx context.Context) ([]Contact, error)
	AddContact(ctx context.Context, in AddContact) (*Contact, error)
	ContactInvite(ctx context.Context) (*ContactInvite, error)
	ContactQR(ctx context.Context) ([]byte, error)
	AcceptContact(ctx context.Context, contact string) (*Contact, error)
	BlockContact(ctx context.Context, contact string) (*Contact, error)
	SetNickname(ctx context.Context, contact, nickname string) (*Contact, error)
	Nearby(ctx context.Context) ([]Nearby, error)
	SendDM(ctx context.Context, contact, text string) (*DM, error)
	DMs(ctx context.Context, contact string, limit int, before string) (*DMPage, error)
	MarkDMsRead(ctx context.Context, contact string) error
	WalletAcceptCap(ctx context.Context, in WalletAcceptCap) (*Wallet, error)
	// Events reads up to limit entries of the event log after since and
	// returns the events among them and the sequence number read up to.
	Events(ctx context.Context, since uint64, limit int) ([]Event, uint64, error)
	// Notify returns a channel closed when new events may be available.
	Notify() <-chan struct{}
	Wallet(ctx context.Context) (*Wallet, error)
	WalletHistory(ctx context.Context) ([]WalletLine, error)
	// WalletCSV writes the statement as CSV.
	WalletCSV(ctx context.Context, w io.Writer) error
	WalletPay(ctx context.Context, in WalletPay) (*WalletEntry, error)
	WalletRequest(ctx context.Context, in WalletRequestIn) (*WalletRequest, error)
	WalletPayRequest(ctx context.Context, link string) (*WalletEntry, error)
	WalletRefund(ctx context.Context, in WalletRefund) (*WalletEntry, error)
	WalletLimit(ctx context.Context, in WalletLimit) (*WalletEntry, error)
	WalletEnvelope(ctx context.Context, in WalletEnvelopeIn) (*WalletEntry, error)
	WalletClaim(ctx context.Context, envelope string) (*WalletEntry, error)
	WalletFrauds(ctx context.Context) ([]WalletFraud, error)
}

// ServerOptions configures NewServer.
type ServerOptions struct {
	Backend Backend
	Token   string
	Logger  *slog.Logger
	// UI serves the web interface's files on every path outside /v1/;
	// SessionFile keeps browser sessions across restarts (see session.go).
	UI          http.Handler
	SessionFile string
}

// Server serves the local API.
type Server struct {
	b     Backend
	token string
	log   *slog.Logger
	mux   *http.ServeMux
	web   webState
}

// Limits on requests.
const (
	// maxBodySize fits a maximal message even when every byte of it is
	// escaped in JSON (six bytes each).
	maxBodySize  = 128 << 10
	maxPageLimit = 1000
)

// NewServer returns a server for b.
func NewServer(opts ServerOptions) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{b: opts.Backend, token: opts.Token, log: opts.Logger, mux: http.NewServeMux(), web: newWebState(opts)}
	s.mux.HandleFunc("GET /v1/node", s.node)
	s.mux.HandleFunc("GET /v1/peers", s.peers)
	s.mux.HandleFunc("GET /v1/groups", s.groups)
	s.mux.HandleFunc("POST /v1/groups", s.createGroup)
	s.mux.HandleFunc("POST /v1/groups/join", s.joinGroup)
	s.mux.HandleFunc("GET /v1/groups/{group}/invite", s.invite)
	s.mux.HandleFunc("DELETE /v1/groups/{group}", s.leaveGroup)
	s.mux.HandleFunc("GET /v1/groups/{group}/messages", s.history)
	s.mux.HandleFunc("POST /v1/groups/{group}/messages", s.send)
	s.mux.HandleFunc("POST /v1/groups/{group}/read", s.markRead)
	s.mux.HandleFunc("PUT /v1/groups/{group}/retention", s.setRetention)
	s.mux.HandleFunc("GET /v1/contacts", s.contacts)
	s.mux.HandleFunc("POST /v1/contacts", s.addContact)
	s.mux.HandleFunc("GET /v1/contacts/invite", s.contactInvite)
	s.mux.HandleFunc("GET /v1/contacts/invite.png", s.contactQR)
	s.mux.HandleFunc("POST /v1/contacts/{contact}/accept", s.acceptContact)
	s.mux.HandleFunc("POST /v1/contacts/{contact}/block", s.blockContact)
	s.mux.HandleFunc("PUT /v1/contacts/{contact}/nickname", s.setNickname)
	s.mux.HandleFunc("GET /v1/nearby", s.nearby)
	s.mux.HandleFunc("GET /v1/dm/{contact}", s.dms)
	s.mux.HandleFunc("POST /v1/dm/{contact}", s.sendDM)
	s.mux.HandleFunc("POST /v1/dm/{contact}/read", s.markDMsRead)
	s.mux.HandleFunc("GET /v1/events", s.events)
	s.mux.HandleFunc("GET /v1/wallet", s.wallet)
	s.mux.HandleFunc("GET /v1/wallet/history", s.walletHistory)
	s.mux.HandleFunc("POST /v1/wallet/pay", s.walletPay)
	s.mux.HandleFunc("POST /v1/wallet/requests", s.walletRequest)
	s.mux.HandleFunc("POST /v1/wallet/pay-request", s.walletPayRequest)
	s.mux.HandleFunc("POST /v1/wallet/refund", s.walletRefund)
	s.mux.HandleFunc("POST /v1/wallet/limits", s.walletLimit)
	s.mux.HandleFunc("POST /v1/wallet/envelopes", s.walletEnvelope)
	s.mux.HandleFunc("POST /v1/wallet/envelopes/{id}/claim", s.walletClaim)
	s.mux.HandleFunc("GET /v1/wallet/frauds", s.walletFrauds)
	s.mux.HandleFunc("PUT /v1/wallet/accept-cap", s.walletAcceptCap)
	s.qrRoutes()
	return s
}

// Serve serves on ln until ctx is done, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("api: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	return nil
}

// ServeHTTP checks the bearer token or session cookie, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.front(w, r) { // session.go: browser defences, the UI, sessions
		return
	}
	if !s.authorized(r) {
		writeError(w, &StatusError{Status: http.StatusUnauthorized, Message: "missing or wrong API token (it is in the data directory's api.token)"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodySize)
	s.mux.ServeHTTP(w, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	var se *StatusError
	if !errors.As(err, &se) {
		se = &StatusError{Status: http.StatusInternalServerError, Message: err.Error()}
	}
	writeJSON(w, se.Status, Error{Error: se.Message})
}

func (s *Server) reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		var se *StatusError
		if !errors.As(err, &se) {
			s.log.Error("request failed", "err", err)
		}
		writeError(w, err)
		return
	}
	if v == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &StatusError{Status: http.StatusBadRequest, Message: "bad request body: " + err.Error()}
	}
	return nil
}

func (s *Server) node(w http.ResponseWriter, r *http.Request) {
	n, err := s.b.Node(r.Context())
	s.reply(w, n, err)
}

func (s *Server) peers(w http.ResponseWriter, r *http.Request) {
	p, err := s.b.Peers(r.Context())
	if p == nil {
		p = []Peer{}
	}
	s.reply(w, p, err)
}

func (s *Server) groups(w http.ResponseWriter, r *http.Request) {
	g, err := s.b.Groups(r.Context())
	if g == nil {
		g = []Group{}
	}
	s.reply(w, g, err)
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	var in CreateGroup
	if err := readJSON(r, &in); err != nil {
		writeError(w, err)
		return
	}
	g, err := s.b.CreateGroup(r.Context(), in.Name)
	s.reply(w, g, err)
}

func (s *Server) joinGroup(w http.ResponseWriter, r *http.Request) {
	var in JoinGroup
	if err := readJSON(r, &in); err != nil {
		writeError(w, err)
		return
	}
	g, err := s.b.JoinGroup(r.Context(), in.Invite)
	s.reply(w, g, err)
}

func (s *Server) invite(w http.ResponseWriter, r *http.Request) {
	in, err := s.b.Invite(r.Context(), r.PathValue("group"))
	s.reply(w, in, err)
}

func (s *Server) leaveGroup(w http.ResponseWriter, r *http.Request) {
	s.reply(w, nil, s.b.LeaveGroup(r.Context(), r.PathValue("group")))
}

// limit reads the ?limit= of a page request (default 50).
func (s *Server) limit(w http.ResponseWriter, r *http.Request) (int, bool) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 50, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxPageLimit {
		writeError(w, &StatusError{Status: http.StatusBadRequest, Message: fmt.Sprintf("limit must be a number from 1 to %d", maxPageLimit)})
		return 0, false
	}
	return n, true
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	limit, ok := s.limit(w, r)
	if !ok {
		return
	}
	p, err := s.b.History(r.Context(), r.PathValue("group"), limit, r.URL.Query().Get("before"))
	s.reply(w, p, err)
}

func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	var in SendMessage
	if err := readJSON(r, &in); err != nil {
		writeError(w, err)
		return
	}
	m, err := s.b.Send(r.Context(), r.PathValue("group"), in.Text)
	s.reply(w, m, err)
}

func (s *Server) markRead(w http.ResponseWriter, r *http.Request) {
	var in MarkRead
	if r.ContentLength != 0 {
		if err := readJSON(r, &in); err != nil {
			writeError(w, err)
			return
		}
	}
	s.reply(w, nil, s.b.MarkRead(r.Context(), r.PathValue("group"), in.Cursor))
}

func (s *Server) setRetention(w http.ResponseWriter, r *http.Request) {
	var in SetRetention
	if err := readJSON(r, &in); err != nil {
		writeError(w, err)
		return
	}
	g, err := s.b.SetRetention(r.Context(), r.PathValue("group"), in)
	s.reply(w, g, err)
}

func (s *Server) contacts(w http.ResponseWriter, r *http.Request) {
	c, err := s.b.Contacts(r.Context())
	if c == nil {
		c = []Contact{}
	}
	s.reply(w, c, err)
}

func (s *Server) addContact(w http.ResponseWriter, r *http.Request) {
	var in AddContact
	if err := readJSON(r, &in); err != nil {
		writeError(w, err)
		return
	}
	c, err := s.b.AddContact(r.Context(), in)
	s.reply(w, c, err)
}

func (s *Server) contactInvite(w http.ResponseWriter, r *http.Request) {
	c, err := s.b.ContactInvite(r.Context())
	s.reply(w, c, err)
}

func (s *Server) contactQR(w http.ResponseWriter, r *http.Request) {
	png, err := s.b.ContactQR(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(png)
}

func (s *Server) acceptContact(w http.ResponseWriter, r *http.Request) {
	c, err := s.b.AcceptContact(r.Context(), r.PathValue("contact"))
	s.reply(w, c, err)
}

func (s *Server) blockContact(w http.ResponseWriter, r *http.Request) {
	c, err := s.b.BlockContact(r.Context(), r.PathValue("contact"))
	s.reply(w, c, err)
}

func (s *Server) setNickname(w http.ResponseWriter, r *http.Request) {
	var in SetNickname
	if err := readJSON(r, &in); err != nil {
		writeError(w, err)
		return
	}
	c, err := s.b.SetNickname(r.Context(), r.PathValue("contact"), in.Nickname)
	s.reply(w, c, err)
}

func (s *Server) nearby(w http.ResponseWriter, r *http.Request) {
	n, err := s.b.Nearby(r.Context())
	if n == nil {
		n = []Nearby{}
	}
	s.reply(w, n, err)
}

func (s *Server) dms(w http.ResponseWriter, r *http.Request) {
	limit, ok := s.limit(w, r)
	if !ok {
		return
	}
	p, err := s.b.DMs(r.Context(), r.PathValue("contact"), limit, r.URL.Query().Get("before"))
	s.reply(w, p, err)
}

func (s *Server) sendDM(w http.ResponseWriter, r *http.Request) {
	var in SendMessage
	if err := readJSON(r, &in); err != nil {
		writeError(w, err)
		return
	}
	m, err := s.b.SendDM(r.Context(), r.PathValue("contact"), in.Text)
	s.reply(w, m, err)
}

func (s *Server) markDMsRead(w http.ResponseWriter, r *http.Request) {
	s.reply(w, nil, s.b.MarkDMsRead(r.Context(), r.PathValue("contact")))
}

func (s *Server) walletAcceptCap(w http.ResponseWriter, r *http.Request) {
	var in WalletAcceptCap
	if err := readJSON(r, &in); err != nil {
		writeError(w, err)
		return
	}
	out, err := s.b.WalletAcceptCap(r.Context(), in)
	s.reply(w, out, err)
}

// events streams server-sent events. Each carries its sequence number as
// the SSE id, so a reconnecting client (Last-Event-ID, or ?since=) misses
// nothing, even across node restarts: the stream is read from the store's
// arrival log, not from memory.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	since, err := strconv.ParseUint(cmpOr(r.Header.Get("Last-Event-ID"), r.URL.Query().Get("since"), "0"), 10, 64)
	if err != nil {
		writeError(w, &StatusError{Status: http.StatusBadRequest, Message: "since/Last-Event-ID must be an event sequence number"})
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, errors.New("streaming unsupported"))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	ctx := r.Context()
	keepalive := time.NewTicker(30 * time.Second)
	defer keepalive.Stop()
	for {
		// Take the notification channel before reading, so an arrival
		// between the read and the wait is not missed.
		wake := s.b.Notify()
		evs, next, err := s.b.Events(ctx, since, 256)
		if err != nil {
			s.log.Warn("event stream", "err", err)
			return
		}
		for _, ev := range evs {
			b, err := json.Marshal(ev)
			if err != nil {
				return
			}
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, b); err != nil {
				return
			}
		}
		if len(evs) > 0 {
			flusher.Flush()
		}
		if next > since {
			since = next
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-keepalive.C:
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func (s *Server) wallet(w http.ResponseWriter, r *http.Request) {
	v, err := s.b.Wallet(r.Context())
	s.reply(w, v, err)
}

func (s *Server) walletHistory(w http.ResponseWriter, r *http.Request) {
	if csv := r.URL.Query().Get("csv"); csv != "" && csv != "0" && csv != "false" {
		var buf strings.Builder
		if err := s.b.WalletCSV(r.Context(), &buf); err != nil {
			s.reply(w, nil, err)
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		io.WriteString(w, buf.String())
		return
	}
	v, err := s.b.WalletHistory(r.Context())
	if v == nil {
		v = []WalletLine{}
	}
	s.reply(w, v, err)
}

// walletPost reads a JSON body into in and replies with do's result.
func walletPost[In, Out any](s *Server, w http.ResponseWriter, r *http.Request, do func(In) (Out, error)) {
	var in In
	if err := readJSON(r, &in); err != nil {
		writeError(w, err)
		return
	}
	v, err := do(in)
	s.reply(w, v, err)
}

func (s *Server) walletPay(w http.ResponseWriter, r *http.Request) {
	walletPost(s, w, r, func(in WalletPay) (*WalletEntry, error) { return s.b.WalletPay(r.Context(), in) })
}

func (s *Server) walletRequest(w http.ResponseWriter, r *http.Request) {
	walletPost(s, w, r, func(in WalletRequestIn) (*WalletRequest, error) { return s.b.WalletRequest(r.Context(), in) })
}

func (s *Server) walletPayRequest(w http.ResponseWriter, r *http.Request) {
	walletPost(s, w, r, func(in WalletPayRequest) (*WalletEntry, error) { return s.b.WalletPayRequest(r.Context(), in.Link) })
}

func (s *Server) walletRefund(w http.ResponseWriter, r *http.Request) {
	walletPost(s, w, r, func(in WalletRefund) (*WalletEntry, error) { return s.b.WalletRefund(r.Context(), in) })
}

func (s *Server) walletLimit(w http.ResponseWriter, r *http.Request) {
	walletPost(s, w, r, func(in WalletLimit) (*WalletEntry, error) { return s.b.WalletLimit(r.Context(), in) })
}

func (s *Server) walletEnvelope(w http.ResponseWriter, r *http.Request) {
	walletPost(s, w, r, func(in WalletEnvelopeIn) (*WalletEntry, error) { return s.b.WalletEnvelope(r.Context(), in) })
}

func (s *Server) walletClaim(w http.ResponseWriter, r *http.Request) {
	v, err := s.b.WalletClaim(r.Context(), r.PathValue("id"))
	s.reply(w, v, err)
}

func (s *Server) walletFrauds(w http.ResponseWriter, r *http.Request) {
	v, err := s.b.WalletFrauds(r.Context())
	if v == nil {
		v = []WalletFraud{}
	}
	s.reply(w, v, err)
}
