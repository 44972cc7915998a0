package private

import (
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/content"
	"github.com/banyan-mesh/banyan/node/people"
	"github.com/banyan-mesh/banyan/store"
)

// ContactInfo is a contact as the API shows it. {contact} in routes is a
// peer ID or a unique nickname.
type ContactInfo struct {
	PeerID string `json:"peer_id"`
	// Person is the contact as every output shows people.
	Person   people.Person `json:"person"`
	Nickname string        `json:"nickname,omitempty"`
	Name     string        `json:"name,omitempty"` // the name they gave themselves
	// State is "requested" (waiting for them), "pending" (waiting for this
	// user to accept), "accepted" or "blocked".
	State  string    `json:"state"`
	Unread int       `json:"unread"`
	Online bool      `json:"online"`
	Added  time.Time `json:"added"`
}

// AddContact is the body of POST /v1/contacts: a contact code or link, or
// the peer ID of a nearby peer.
type AddContact struct {
	Code   string `json:"code,omitempty"`
	PeerID string `json:"peer_id,omitempty"`
}

// SetNickname is the body of PUT /v1/contacts/{contact}/nickname.
type SetNickname struct {
	Nickname string `json:"nickname"`
}

// CodeInfo is this node's contact code: text, link and a terminal QR code.
type CodeInfo struct {
	Code string `json:"code"`
	Link string `json:"link"`
	QR   string `json:"qr"` // terminal rendering of the QR code
}

// Nearby is a connected peer that could be added as a contact.
type Nearby struct {
	PeerID    string        `json:"peer_id"`
	Person    people.Person `json:"person"`
	IsContact bool          `json:"is_contact"`
}

// SendMessage is the body of POST /v1/dm/{contact}.
type SendMessage struct {
	Text string `json:"text"`
}

// DMInfo is a private message as the API shows it.
type DMInfo struct {
	ID     string `json:"id"`
	PeerID string `json:"peer_id"`
	// With is the other end of the conversation, as every output shows
	// people.
	With people.Person `json:"with"`
	Out  bool          `json:"out"`
	Text string        `json:"text"`
	Time time.Time     `json:"time"`
	// Status of an outgoing message: "stored" (only here), "held" (HeldBy
	// peers carry it for the recipient), "delivered", "read".
	Status string `json:"status,omitempty"`
	HeldBy int    `json:"held_by,omitempty"`
}

// DMPage is a page of a conversation, oldest first; Next fetches older.
type DMPage struct {
	Messages []DMInfo `json:"messages"`
	Next     string   `json:"next,omitempty"`
}

// StreamType is the type of private messages on the event stream.
const StreamType = "dm"

// Routes registers the private-messaging API:
//
//	GET    /v1/contacts                    []ContactInfo
//	POST   /v1/contacts                    AddContact -> ContactInfo (sends a contact request)
//	GET    /v1/contacts/invite             CodeInfo (this node's code)
//	GET    /v1/contacts/invite.png         the code as a QR code (PNG)
//	POST   /v1/contacts/{contact}/accept   -> ContactInfo
//	POST   /v1/contacts/{contact}/block    -> ContactInfo
//	POST   /v1/contacts/{contact}/unblock  -> ContactInfo
//	DELETE /v1/contacts/{contact}          remove the contact and the conversation
//	PUT    /v1/contacts/{contact}/nickname SetNickname -> ContactInfo
//	GET    /v1/nearby                      []Nearby (connected peers, to add)
//	GET    /v1/dm/{contact}                ?limit=N&before=TIME -> DMPage
//	POST   /v1/dm/{contact}                SendMessage -> DMInfo
//	POST   /v1/dm/{contact}/read           mark the conversation read
func (s *Service) Routes(srv *api.Server) {
	srv.Handle("GET /v1/contacts", api.Get(srv, func(r *http.Request) ([]ContactInfo, error) {
		cs, err := s.rec.allContacts()
		if err != nil {
			return nil, err
		}
		var out []ContactInfo
		for _, c := range cs {
			out = append(out, *s.contactInfo(c))
		}
		return out, nil
	}))
	srv.Handle("POST /v1/contacts", api.Post(srv, func(r *http.Request, in AddContact) (*ContactInfo, error) {
		var c *Contact
		switch {
		case in.Code != "" && in.PeerID != "":
			return nil, api.BadRequest(errors.New("give a contact code or a peer ID, not both"))
		case in.Code != "":
			code, err := ParseContactCode(in.Code)
			if err != nil {
				return nil, api.BadRequest(err)
			}
			if c, err = s.Add(r.Context(), code); err != nil {
				return nil, api.BadRequest(err)
			}
		case in.PeerID != "":
			p, err := peer.Decode(in.PeerID)
			if err != nil {
				return nil, api.BadRequest(err)
			}
			if c, err = s.AddNearby(r.Context(), p); err != nil {
				return nil, api.BadRequest(err)
			}
		default:
			return nil, api.BadRequest(errors.New("give a contact code (or a nearby peer ID)"))
		}
		return s.contactInfo(c), nil
	}))
	srv.Handle("GET /v1/contacts/invite", api.Get(srv, func(r *http.Request) (*CodeInfo, error) {
		code := s.Code()
		qr, err := qrcode.New(code.Link(), qrcode.Low)
		if err != nil {
			return nil, err
		}
		return &CodeInfo{Code: code.String(), Link: code.Link(), QR: qr.ToSmallString(false)}, nil
	}))
	srv.Handle("GET /v1/contacts/invite.png", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.WriteQR(w, s.Code().Link())
	}))
	srv.Handle("POST /v1/contacts/{contact}/accept", api.Post(srv, func(r *http.Request, _ api.Empty) (*ContactInfo, error) {
		c, err := s.contactOf(r)
		if err != nil {
			return nil, err
		}
		if c.State == ContactBlocked {
			return nil, api.BadRequest(errors.New("this contact is blocked: unblock them first (banyan contact unblock)"))
		}
		if c, err = s.Accept(r.Context(), c); err != nil {
			return nil, err
		}
		return s.contactInfo(c), nil
	}))
	srv.Handle("POST /v1/contacts/{contact}/block", api.Post(srv, func(r *http.Request, _ api.Empty) (*ContactInfo, error) {
		c, err := s.contactOf(r)
		if err != nil {
			return nil, err
		}
		if c, err = s.Block(c); err != nil {
			return nil, err
		}
		return s.contactInfo(c), nil
	}))
	srv.Handle("POST /v1/contacts/{contact}/unblock", api.Post(srv, func(r *http.Request, _ api.Empty) (*ContactInfo, error) {
		c, err := s.contactOf(r)
		if err != nil {
			return nil, err
		}
		if c, err = s.Unblock(c); err != nil {
			return nil, err
		}
		return s.contactInfo(c), nil
	}))
	srv.Handle("DELETE /v1/contacts/{contact}", api.Get(srv, func(r *http.Request) (api.Empty, error) {
		c, err := s.contactOf(r)
		if err != nil {
			return api.Empty{}, err
		}
		return api.Empty{}, s.Remove(c)
	}))
	srv.Handle("PUT /v1/contacts/{contact}/nickname", api.Post(srv, func(r *http.Request, in SetNickname) (*ContactInfo, error) {
		c, err := s.contactOf(r)
		if err != nil {
			return nil, err
		}
		if c, err = s.SetNickname(c, in.Nickname); err != nil {
			return nil, api.BadRequest(err)
		}
		return s.contactInfo(c), nil
	}))
	srv.Handle("GET /v1/nearby", api.Get(srv, func(r *http.Request) ([]Nearby, error) {
		var out []Nearby
		for _, p := range s.host.Network().Peers() {
			_, err := s.rec.contact(p)
			out = append(out, Nearby{PeerID: p.String(), Person: s.people.Person(p), IsContact: err == nil})
		}
		return out, nil
	}))
	srv.Handle("GET /v1/dm/{contact}", api.Get(srv, func(r *http.Request) (*DMPage, error) {
		limit, err := api.Limit(r)
		if err != nil {
			return nil, err
		}
		c, err := s.contactOf(r)
		if err != nil {
			return nil, err
		}
		var t time.Time
		if before := r.URL.Query().Get("before"); before != "" {
			if t, err = time.Parse(time.RFC3339Nano, before); err != nil {
				return nil, api.BadRequest(errors.New("before must be a time from a previous page's next"))
			}
		}
		ms, err := s.rec.conversation(c.ID, t, limit)
		if err != nil {
			return nil, err
		}
		marks := map[event.Scope]map[peer.ID]uint64{}
		p := &DMPage{Messages: make([]DMInfo, 0, len(ms))}
		for _, m := range ms {
			p.Messages = append(p.Messages, *s.dmInfo(m, marks))
		}
		if len(ms) == limit {
			p.Next = ms[0].Time.Format(time.RFC3339Nano)
		}
		return p, nil
	}))
	srv.Handle("POST /v1/dm/{contact}", api.Post(srv, func(r *http.Request, in SendMessage) (*DMInfo, error) {
		c, err := s.contactOf(r)
		if err != nil {
			return nil, err
		}
		if err := content.CheckText(in.Text); err != nil {
			return nil, api.BadRequest(err)
		}
		m, err := s.Send(r.Context(), c, in.Text)
		if err != nil {
			return nil, api.BadRequest(err)
		}
		return s.dmInfo(m, nil), nil
	}))
	srv.Handle("POST /v1/dm/{contact}/read", api.Post(srv, func(r *http.Request, _ api.Empty) (api.Empty, error) {
		c, err := s.contactOf(r)
		if err != nil {
			return api.Empty{}, err
		}
		return api.Empty{}, s.MarkRead(c)
	}))
}

// contactOf resolves the {contact} of a request.
func (s *Service) contactOf(r *http.Request) (*Contact, error) {
	c, err := s.Find(r.PathValue("contact"))
	if errors.Is(err, ErrNoContact) {
		return nil, api.NotFound(err)
	}
	if err != nil {
		return nil, api.BadRequest(err)
	}
	return c, nil
}

func (s *Service) contactInfo(c *Contact) *ContactInfo {
	out := &ContactInfo{
		PeerID: c.ID.String(), Person: s.people.Person(c.ID), Nickname: c.Nickname, Name: c.Name, State: c.State, Added: c.Added,
		Online: s.host.Network().Connectedness(c.ID) == network.Connected,
	}
	if unread, err := s.Unread(c); err == nil {
		out.Unread = len(unread)
	}
	return out
}

// dmInfo converts a private message; marks caches the mailboxes' sync
// marks (nil to skip the carrier count).
func (s *Service) dmInfo(m *DM, marks map[event.Scope]map[peer.ID]uint64) *DMInfo {
	out := &DMInfo{ID: hex.EncodeToString(m.ID[:]), PeerID: m.Peer.String(), With: s.people.Person(m.Peer), Out: m.Out, Text: m.Text, Time: m.Time, Status: m.Status}
	if !m.Out || m.Status != StatusStored || marks == nil || len(m.Envelope) != event.IDSize {
		return out
	}
	st := s.rec.st
	env, err := st.Event(event.ID(m.Envelope))
	if err != nil {
		return out
	}
	scope := env.ScopeID()
	if marks[scope] == nil {
		if marks[scope], err = st.SyncedMarks(scope); err != nil {
			return out
		}
	}
	if arrival, _, err := st.ArrivalOf(env.ID); err == nil {
		for _, seq := range marks[scope] {
			if seq >= arrival {
				out.HeldBy++
			}
		}
	}
	if out.HeldBy > 0 {
		out.Status = "held"
	}
	return out
}

// Render shows a private message written or updated on the event stream.
func (s *Service) Render(a store.Arrival) (api.Event, bool) {
	if a.Table != s.rec.dms.Name() {
		return api.Event{}, false
	}
	m, err := decodeDM(a.Value)
	if err != nil {
		return api.Event{}, false
	}
	return api.Event{Seq: a.Seq, Type: StreamType, Data: s.dmInfo(m, nil)}, true
}
