package groupchat

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/content"
	"github.com/banyan-mesh/banyan/node/people"
	"github.com/banyan-mesh/banyan/store"
)

// GroupInfo is a group as the API shows it.
type GroupInfo struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Unread    int       `json:"unread"`
	Peers     int       `json:"peers"`      // connected peers in the group's topic
	MeshPeers int       `json:"mesh_peers"` // of those, peers this node exchanges messages with directly
	Joined    time.Time `json:"joined"`
	Messages  int       `json:"messages"`
	// Missing counts messages this node knows exist (gaps in an author's
	// sequence numbers) but does not have yet.
	Missing int `json:"missing"`
	// CatchingUp is set while a sync is bringing this group's history.
	CatchingUp *CatchUp `json:"catching_up,omitempty"`
	// Retention (a Go duration, "" for forever) and Quota (bytes, 0 for
	// none) bound what this node keeps of the group's history.
	Retention string `json:"retention,omitempty"`
	Quota     int64  `json:"quota,omitempty"`
}

// CatchUp is the progress of a catch-up sync.
type CatchUp struct {
	Received uint64 `json:"received"`
	Expected uint64 `json:"expected"`
}

// SetRetention is the body of PUT /v1/groups/{group}/retention. Retention is
// a Go duration ("720h"); empty or "0" keeps history forever. Quota is in
// bytes; 0 means no quota.
type SetRetention struct {
	Retention string `json:"retention"`
	Quota     int64  `json:"quota"`
}

// CreateGroup is the body of POST /v1/groups.
type CreateGroup struct {
	Name string `json:"name"`
}

// JoinGroup is the body of POST /v1/groups/join.
type JoinGroup struct {
	Invite string `json:"invite"`
}

// InviteInfo is a group invite: a copyable code, the same as a link, and
// the link as a QR code for a terminal.
type InviteInfo struct {
	Code string `json:"code"`
	Link string `json:"link"`
	QR   string `json:"qr"`
}

// SendMessage is the body of POST /v1/groups/{group}/messages.
type SendMessage struct {
	Text string `json:"text"`
}

// MarkReadIn is the body of POST /v1/groups/{group}/read.
type MarkReadIn struct {
	// Cursor marks everything up to and including this message as read;
	// empty marks everything read.
	Cursor string `json:"cursor,omitempty"`
}

// MessageInfo is a group message as the API shows it.
type MessageInfo struct {
	ID        string `json:"id"`
	GroupID   string `json:"group_id"`
	GroupName string `json:"group_name"`
	Author    string `json:"author"` // peer ID
	// By is the author as every output shows people.
	By     people.Person `json:"by"`
	Seq    uint64        `json:"seq"`
	Time   time.Time     `json:"time"`
	Text   string        `json:"text"`
	Mine   bool          `json:"mine"`
	Cursor string        `json:"cursor"`
	// For the node's own messages: "stored" (only here so far) or "held"
	// (HeldBy peers are known to hold it).
	Status string `json:"status,omitempty"`
	HeldBy int    `json:"held_by,omitempty"`
}

// Page is one page of history, oldest first. Next, if set, fetches the
// page before this one.
type Page struct {
	Messages []MessageInfo `json:"messages"`
	Next     string        `json:"next,omitempty"`
}

// StreamType is the type of group messages on the event stream.
const StreamType = "message"

// Routes registers the group-chat API:
//
//	GET    /v1/groups                     []GroupInfo
//	POST   /v1/groups                     CreateGroup -> GroupInfo
//	POST   /v1/groups/join                JoinGroup -> GroupInfo
//	GET    /v1/groups/{group}/invite      InviteInfo
//	GET    /v1/groups/{group}/invite.png  the invite link as a QR code (PNG)
//	DELETE /v1/groups/{group}             leave the group
//	GET    /v1/groups/{group}/messages    ?limit=N&before=CURSOR -> Page
//	POST   /v1/groups/{group}/messages    SendMessage -> MessageInfo
//	POST   /v1/groups/{group}/read        MarkReadIn (empty: everything)
//	PUT    /v1/groups/{group}/retention   SetRetention -> GroupInfo
//	.../relays                            see relayRoutes
//
// {group} is a group ID (hex), a unique prefix of it, or a group's unique
// name, URL-escaped.
func (s *Service) Routes(srv *api.Server) {
	srv.Handle("GET /v1/groups", api.Get(srv, func(r *http.Request) ([]GroupInfo, error) {
		all, err := s.groups.list()
		if err != nil {
			return nil, err
		}
		var out []GroupInfo
		for _, g := range all {
			gi, err := s.info(g)
			if err != nil {
				return nil, err
			}
			out = append(out, *gi)
		}
		return out, nil
	}))
	srv.Handle("POST /v1/groups", api.Post(srv, func(r *http.Request, in CreateGroup) (*GroupInfo, error) {
		g, err := s.Create(in.Name)
		if err != nil {
			return nil, api.BadRequest(err)
		}
		return s.info(g)
	}))
	srv.Handle("POST /v1/groups/join", api.Post(srv, func(r *http.Request, in JoinGroup) (*GroupInfo, error) {
		inv, err := ParseInvite(in.Invite)
		if err != nil {
			return nil, api.BadRequest(err)
		}
		g, err := s.Join(r.Context(), inv)
		if err != nil {
			return nil, err
		}
		return s.info(g)
	}))
	srv.Handle("GET /v1/groups/{group}/invite", api.Get(srv, func(r *http.Request) (*InviteInfo, error) {
		g, err := s.group(r)
		if err != nil {
			return nil, err
		}
		in := s.Invite(g)
		qr, err := api.QRText(in.Link())
		if err != nil {
			return nil, err
		}
		return &InviteInfo{Code: in.String(), Link: in.Link(), QR: qr}, nil
	}))
	srv.Handle("GET /v1/groups/{group}/invite.png", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g, err := s.group(r)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		api.WriteQR(w, s.Invite(g).Link())
	}))
	srv.Handle("DELETE /v1/groups/{group}", api.Get(srv, func(r *http.Request) (api.Empty, error) {
		g, err := s.group(r)
		if err != nil {
			return api.Empty{}, err
		}
		return api.Empty{}, s.Leave(g)
	}))
	srv.Handle("GET /v1/groups/{group}/messages", api.Get(srv, func(r *http.Request) (*Page, error) {
		limit, err := api.Limit(r)
		if err != nil {
			return nil, err
		}
		g, err := s.group(r)
		if err != nil {
			return nil, err
		}
		c, err := store.ParseCursor(r.URL.Query().Get("before"))
		if err != nil {
			return nil, api.BadRequest(err)
		}
		msgs, next, err := s.History(g, c, limit)
		if err != nil {
			return nil, err
		}
		marks, err := s.store.SyncedMarks(g.Scope())
		if err != nil {
			return nil, err
		}
		p := &Page{Messages: make([]MessageInfo, 0, len(msgs)), Next: next.String()}
		for _, m := range msgs {
			p.Messages = append(p.Messages, *s.messageInfo(m, marks))
		}
		return p, nil
	}))
	srv.Handle("POST /v1/groups/{group}/messages", api.Post(srv, func(r *http.Request, in SendMessage) (*MessageInfo, error) {
		g, err := s.group(r)
		if err != nil {
			return nil, err
		}
		if err := content.CheckText(in.Text); err != nil {
			return nil, api.BadRequest(err)
		}
		m, err := s.Send(r.Context(), g, in.Text)
		if err != nil {
			return nil, err
		}
		return s.messageInfo(m, nil), nil
	}))
	srv.Handle("POST /v1/groups/{group}/read", api.Post(srv, func(r *http.Request, in MarkReadIn) (api.Empty, error) {
		g, err := s.group(r)
		if err != nil {
			return api.Empty{}, err
		}
		c, err := store.ParseCursor(in.Cursor)
		if err != nil {
			return api.Empty{}, api.BadRequest(err)
		}
		return api.Empty{}, s.MarkRead(g, c)
	}))
	srv.Handle("PUT /v1/groups/{group}/retention", api.Post(srv, func(r *http.Request, in SetRetention) (*GroupInfo, error) {
		g, err := s.group(r)
		if err != nil {
			return nil, err
		}
		var keep time.Duration
		if in.Retention != "" {
			if keep, err = time.ParseDuration(in.Retention); err != nil {
				return nil, api.BadRequest(fmt.Errorf("retention %q: %w (examples: 720h for 30 days, 0 for forever)", in.Retention, err))
			}
		}
		if err := s.SetRetention(g, keep, in.Quota); err != nil {
			return nil, api.BadRequest(err)
		}
		if g, err = s.groups.get(g.ID); err != nil {
			return nil, err
		}
		return s.info(g)
	}))
	s.relayRoutes(srv)
}

// group resolves the {group} of a request.
func (s *Service) group(r *http.Request) (*Group, error) {
	g, err := s.groups.find(r.PathValue("group"))
	if errors.Is(err, ErrNoGroup) {
		return nil, api.NotFound(err)
	}
	if err != nil {
		return nil, api.BadRequest(err)
	}
	return g, nil
}

func (s *Service) info(g *Group) (*GroupInfo, error) {
	unread, err := s.Unread(g)
	if err != nil {
		return nil, err
	}
	total, err := s.store.CountAfter(g.Scope(), store.Cursor{})
	if err != nil {
		return nil, err
	}
	missing, err := s.store.Missing(g.Scope())
	if err != nil {
		return nil, err
	}
	peers, mesh := s.TopicPeers(g)
	out := &GroupInfo{
		ID: hex.EncodeToString(g.ID[:]), Name: g.Name, Unread: unread,
		Peers: peers, MeshPeers: mesh, Joined: g.Joined, Messages: total,
		Missing: missing, Quota: g.Quota,
	}
	if g.Retention > 0 {
		out.Retention = g.Retention.String()
	}
	for _, p := range s.syncer.Progress() {
		if p.Scope == g.Scope() && p.Expected > 0 {
			out.CatchingUp = &CatchUp{Received: p.Received, Expected: p.Expected}
		}
	}
	return out, nil
}

// messageInfo converts a message for the API. marks, the scope's sync
// marks (nil to skip), give the delivery status of the node's own messages.
func (s *Service) messageInfo(m *Message, marks map[peer.ID]uint64) *MessageInfo {
	out := &MessageInfo{
		ID:        m.Event.ID.String(),
		GroupID:   hex.EncodeToString(m.Group.ID[:]),
		GroupName: m.Group.Name,
		By:        s.people.Key(m.Event.Author),
		Seq:       m.Event.Seq,
		Time:      time.UnixMilli(m.Event.Time).UTC(),
		Text:      m.Text,
		Mine:      m.Event.SameAuthor(s.id.PublicKey()),
		Cursor:    store.CursorOf(m.Event).String(),
	}
	out.Author = out.By.PeerID
	if out.Author == "" {
		out.Author = hex.EncodeToString(m.Event.Author)
	}
	if out.Mine && marks != nil {
		out.Status = "stored"
		if arrival, _, err := s.store.ArrivalOf(m.Event.ID); err == nil {
			for _, seq := range marks {
				if seq >= arrival {
					out.HeldBy++
				}
			}
		}
		if out.HeldBy > 0 {
			out.Status = "held"
		}
	}
	return out
}

// Render shows a stored group message on the event stream.
func (s *Service) Render(a store.Arrival) (api.Event, bool) {
	if a.Event == nil {
		return api.Event{}, false
	}
	g, ok := s.ByScope(a.Event.ScopeID())
	if !ok {
		return api.Event{}, false
	}
	m, err := s.Open(g, a.Event)
	if err != nil {
		return api.Event{}, false
	}
	return api.Event{Seq: a.Seq, Type: StreamType, Data: s.messageInfo(m, nil)}, true
}
