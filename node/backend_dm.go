package node

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/store"
)

func (b backend) contact(ref string) (*store.Contact, error) {
	c, err := b.n.dms.Find(ref)
	if errors.Is(err, ErrNoContact) {
		return nil, &api.StatusError{Status: http.StatusNotFound, Message: err.Error()}
	}
	if err != nil {
		return nil, badRequest(err)
	}
	return c, nil
}

func (b backend) apiContact(c *store.Contact) *api.Contact {
	out := &api.Contact{
		PeerID: c.ID.String(), Nickname: c.Nickname, State: c.State, Added: c.Added,
		Online: b.n.host.Network().Connectedness(c.ID) == network.Connected,
	}
	if unread, err := b.n.dms.Unread(c); err == nil {
		out.Unread = len(unread)
	}
	return out
}

func (b backend) Contacts(ctx context.Context) ([]api.Contact, error) {
	cs, err := b.n.store.Contacts()
	if err != nil {
		return nil, err
	}
	var out []api.Contact
	for _, c := range cs {
		out = append(out, *b.apiContact(c))
	}
	return out, nil
}

func (b backend) AddContact(ctx context.Context, in api.AddContact) (*api.Contact, error) {
	var c *store.Contact
	switch {
	case in.Code != "" && in.PeerID != "":
		return nil, badRequest(errors.New("give a contact code or a peer ID, not both"))
	case in.Code != "":
		code, err := ParseContactCode(in.Code)
		if err != nil {
			return nil, badRequest(err)
		}
		if c, err = b.n.dms.Add(ctx, code); err != nil {
			return nil, badRequest(err)
		}
	case in.PeerID != "":
		p, err := peer.Decode(in.PeerID)
		if err != nil {
			return nil, badRequest(err)
		}
		if c, err = b.n.dms.AddNearby(ctx, p); err != nil {
			return nil, badRequest(err)
		}
	default:
		return nil, badRequest(errors.New("give a contact code (or a nearby peer ID)"))
	}
	return b.apiContact(c), nil
}

func (b backend) ContactInvite(ctx context.Context) (*api.ContactInvite, error) {
	code := b.n.dms.Code()
	qr, err := qrcode.New(code.Link(), qrcode.Low)
	if err != nil {
		return nil, err
	}
	return &api.ContactInvite{Code: code.String(), Link: code.Link(), QR: qr.ToSmallString(false)}, nil
}

func (b backend) ContactQR(ctx context.Context) ([]byte, error) {
	return qrcode.Encode(b.n.dms.Code().Link(), qrcode.Medium, 512)
}

func (b backend) AcceptContact(ctx context.Context, ref string) (*api.Contact, error) {
	c, err := b.contact(ref)
	if err != nil {
		return nil, err
	}
	if c.State == store.ContactBlocked {
		return nil, badRequest(errors.New("this contact is blocked"))
	}
	if c, err = b.n.dms.Accept(ctx, c); err != nil {
		return nil, err
	}
	return b.apiContact(c), nil
}

func (b backend) BlockContact(ctx context.Context, ref string) (*api.Contact, error) {
	c, err := b.contact(ref)
	if err != nil {
		return nil, err
	}
	if c, err = b.n.dms.Block(c); err != nil {
		return nil, err
	}
	return b.apiContact(c), nil
}

func (b backend) SetNickname(ctx context.Context, ref, nick string) (*api.Contact, error) {
	c, err := b.contact(ref)
	if err != nil {
		return nil, err
	}
	if c, err = b.n.dms.SetNickname(c, nick); err != nil {
		return nil, badRequest(err)
	}
	return b.apiContact(c), nil
}

func (b backend) Nearby(ctx context.Context) ([]api.Nearby, error) {
	var out []api.Nearby
	for _, p := range b.n.host.Network().Peers() {
		_, err := b.n.store.Contact(p)
		out = append(out, api.Nearby{PeerID: p.String(), IsContact: err == nil})
	}
	return out, nil
}

func (b backend) SendDM(ctx context.Context, ref, text string) (*api.DM, error) {
	c, err := b.contact(ref)
	if err != nil {
		return nil, err
	}
	if err := checkText(text); err != nil {
		return nil, badRequest(err)
	}
	m, err := b.n.dms.Send(ctx, c, text)
	if err != nil {
		return nil, badRequest(err)
	}
	return b.apiDM(m, nil), nil
}

func (b backend) DMs(ctx context.Context, ref string, limit int, before string) (*api.DMPage, error) {
	c, err := b.contact(ref)
	if err != nil {
		return nil, err
	}
	var t time.Time
	if before != "" {
		if t, err = time.Parse(time.RFC3339Nano, before); err != nil {
			return nil, badRequest(errors.New("before must be a time from a previous page's next"))
		}
	}
	ms, err := b.n.store.DMs(c.ID, t, limit)
	if err != nil {
		return nil, err
	}
	marks := map[event.Scope]map[peer.ID]uint64{}
	p := &api.DMPage{Messages: make([]api.DM, 0, len(ms))}
	for _, m := range ms {
		p.Messages = append(p.Messages, *b.apiDM(m, marks))
	}
	if len(ms) == limit {
		p.Next = ms[0].Time.Format(time.RFC3339Nano)
	}
	return p, nil
}

func (b backend) MarkDMsRead(ctx context.Context, ref string) error {
	c, err := b.contact(ref)
	if err != nil {
		return err
	}
	return b.n.dms.MarkRead(c)
}

// apiDM converts a private message; marks caches the mailboxes' sync marks
// (nil to skip the carrier count).
func (b backend) apiDM(m *store.DM, marks map[event.Scope]map[peer.ID]uint64) *api.DM {
	out := &api.DM{ID: hex.EncodeToString(m.ID[:]), PeerID: m.Peer.String(), Out: m.Out, Text: m.Text, Time: m.Time, Status: m.Status}
	if !m.Out || m.Status != statusStored || marks == nil || len(m.Envelope) != event.IDSize {
		return out
	}
	env, err := b.n.store.Event(event.ID(m.Envelope))
	if err != nil {
		return out
	}
	scope := env.ScopeID()
	if marks[scope] == nil {
		if marks[scope], err = b.n.store.SyncedMarks(scope); err != nil {
			return out
		}
	}
	if arrival, _, err := b.n.store.ArrivalOf(env.ID); err == nil {
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
