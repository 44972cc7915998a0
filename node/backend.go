package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/store"
)

// backend exposes the node through the local API.
type backend struct{ n *Node }

var _ api.Backend = backend{}

func badRequest(err error) error {
	return &api.StatusError{Status: http.StatusBadRequest, Message: err.Error()}
}

func (b backend) group(ref string) (*store.Group, error) {
	g, err := b.n.groups.Find(ref)
	if errors.Is(err, ErrNoGroup) {
		return nil, &api.StatusError{Status: http.StatusNotFound, Message: err.Error()}
	}
	if err != nil {
		return nil, badRequest(err)
	}
	return g, nil
}

func (b backend) Node(ctx context.Context) (_ *api.Node, err error) {
	n := b.n
	out := &api.Node{
		PeerID:    n.host.ID().String(),
		PublicKey: hex.EncodeToString(n.id.PublicKey()),
		Version:   Version,
		Stats:     api.Stats{Accepted: n.stats.Accepted(), Rejected: n.stats.Rejected()},
	}
	if out.EventSeq, err = n.store.LastArrival(); err != nil {
		return nil, err
	}
	addrs, err := peer.AddrInfoToP2pAddrs(&n.addrInfos()[0])
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		out.Addrs = append(out.Addrs, a.String())
	}
	return out, nil
}

func (b backend) Peers(ctx context.Context) ([]api.Peer, error) {
	h := b.n.host
	var out []api.Peer
	for _, p := range h.Network().Peers() {
		ap := api.Peer{PeerID: p.String()}
		for _, c := range h.Network().ConnsToPeer(p) {
			ap.Addrs = append(ap.Addrs, c.RemoteMultiaddr().String())
		}
		if l := h.Peerstore().LatencyEWMA(p); l > 0 {
			ap.Latency = l.Round(time.Microsecond).String()
		}
		out = append(out, ap)
	}
	return out, nil
}

func (b backend) apiGroup(g *store.Group) (*api.Group, error) {
	unread, err := b.n.groups.Unread(g)
	if err != nil {
		return nil, err
	}
	total, err := b.n.store.CountAfter(g.Scope(), store.Cursor{})
	if err != nil {
		return nil, err
	}
	missing, err := b.n.store.Missing(g.Scope())
	if err != nil {
		return nil, err
	}
	peers, mesh := b.n.groups.TopicPeers(g)
	out := &api.Group{
		ID: hex.EncodeToString(g.ID[:]), Name: g.Name, Unread: unread,
		Peers: peers, MeshPeers: mesh, Joined: g.Joined, Messages: total,
		Missing: missing, Quota: g.Quota,
	}
	if g.Retention > 0 {
		out.Retention = g.Retention.String()
	}
	for _, p := range b.n.syncer.Progress() {
		if p.Scope == g.Scope() && p.Expected > 0 {
			out.CatchingUp = &api.CatchUp{Received: p.Received, Expected: p.Expected}
		}
	}
	return out, nil
}

func (b backend) Groups(ctx context.Context) ([]api.Group, error) {
	gs, err := b.n.store.Groups()
	if err != nil {
		return nil, err
	}
	var out []api.Group
	for _, g := range gs {
		ag, err := b.apiGroup(g)
		if err != nil {
			return nil, err
		}
		out = append(out, *ag)
	}
	return out, nil
}

func (b backend) CreateGroup(ctx context.Context, name string) (*api.Group, error) {
	g, err := b.n.groups.Create(name)
	if err != nil {
		return nil, badRequest(err)
	}
	return b.apiGroup(g)
}

func (b backend) JoinGroup(ctx context.Context, invite string) (*api.Group, error) {
	in, err := ParseInvite(invite)
	if err != nil {
		return nil, badRequest(err)
	}
	g, err := b.n.groups.Join(ctx, in)
	if err != nil {
		return nil, err
	}
	return b.apiGroup(g)
}

func (b backend) Invite(ctx context.Context, ref string) (*api.Invite, error) {
	g, err := b.group(ref)
	if err != nil {
		return nil, err
	}
	in := b.n.groups.Invite(g)
	return &api.Invite{Code: in.String(), Link: in.Link()}, nil
}

func (b backend) LeaveGroup(ctx context.Context, ref string) error {
	g, err := b.group(ref)
	if err != nil {
		return err
	}
	return b.n.groups.Leave(g)
}

func (b backend) Send(ctx context.Context, ref, text string) (*api.Message, error) {
	g, err := b.group(ref)
	if err != nil {
		return nil, err
	}
	if err := checkText(text); err != nil {
		return nil, badRequest(err)
	}
	m, err := b.n.groups.Send(ctx, g, text)
	if err != nil {
		return nil, err
	}
	return b.apiMessage(m, nil), nil
}

func (b backend) History(ctx context.Context, ref string, limit int, before string) (*api.Page, error) {
	g, err := b.group(ref)
	if err != nil {
		return nil, err
	}
	c, err := store.ParseCursor(before)
	if err != nil {
		return nil, badRequest(err)
	}
	msgs, next, err := b.n.groups.History(g, c, limit)
	if err != nil {
		return nil, err
	}
	marks, err := b.n.store.SyncedMarks(g.Scope())
	if err != nil {
		return nil, err
	}
	p := &api.Page{Messages: make([]api.Message, 0, len(msgs)), Next: next.String()}
	for _, m := range msgs {
		p.Messages = append(p.Messages, *b.apiMessage(m, marks))
	}
	return p, nil
}

func (b backend) MarkRead(ctx context.Context, ref, cursor string) error {
	g, err := b.group(ref)
	if err != nil {
		return err
	}
	c, err := store.ParseCursor(cursor)
	if err != nil {
		return badRequest(err)
	}
	return b.n.groups.MarkRead(g, c)
}

func (b backend) Events(ctx context.Context, since uint64, limit int) ([]api.Event, uint64, error) {
	arr, err := b.n.store.ArrivalsSince(since, limit)
	if err != nil {
		return nil, since, err
	}
	var out []api.Event
	for _, a := range arr {
		since = a.Seq
		if a.DM != nil {
			out = append(out, api.Event{Seq: a.Seq, Type: "dm", DM: b.apiDM(a.DM, nil)})
			continue
		}
		if w := b.n.wallet; w != nil && a.Event.ScopeID() == w.scope {
			if line, ok := b.walletEvent(a.Event); ok {
				out = append(out, api.Event{Seq: a.Seq, Type: "wallet", Wallet: line})
			}
			continue
		}
		g, ok := b.n.groups.ByScope(a.Event.ScopeID())
		if !ok {
			continue
		}
		m, err := b.n.groups.Open(g, a.Event)
		if err != nil {
			continue
		}
		out = append(out, api.Event{Seq: a.Seq, Type: "message", Message: b.apiMessage(m, nil)})
	}
	return out, since, nil
}

func (b backend) Notify() <-chan struct{} { return b.n.store.Notify() }

func (b backend) SetRetention(ctx context.Context, ref string, r api.SetRetention) (*api.Group, error) {
	g, err := b.group(ref)
	if err != nil {
		return nil, err
	}
	var keep time.Duration
	if r.Retention != "" {
		if keep, err = time.ParseDuration(r.Retention); err != nil {
			return nil, badRequest(fmt.Errorf("retention %q: %w (examples: 720h for 30 days, 0 for forever)", r.Retention, err))
		}
	}
	if err := b.n.groups.SetRetention(g, keep, r.Quota); err != nil {
		return nil, badRequest(err)
	}
	if g, err = b.group(ref); err != nil {
		return nil, err
	}
	return b.apiGroup(g)
}

// apiMessage converts a message for the API. marks, the scope's sync marks
// (nil to skip), give the delivery status of the node's own messages.
func (b backend) apiMessage(m *Message, marks map[peer.ID]uint64) *api.Message {
	author := hex.EncodeToString(m.Event.Author)
	if p, err := crypto.PeerIDFromPublicKey(m.Event.Author); err == nil {
		author = p.String()
	}
	out := &api.Message{
		ID:        m.Event.ID.String(),
		GroupID:   hex.EncodeToString(m.Group.ID[:]),
		GroupName: m.Group.Name,
		Author:    author,
		Seq:       m.Event.Seq,
		Time:      time.UnixMilli(m.Event.Time).UTC(),
		Text:      m.Text,
		Mine:      m.Event.SameAuthor(b.n.id.PublicKey()),
		Cursor:    store.CursorOf(m.Event).String(),
	}
	if out.Mine && marks != nil {
		out.Status = "stored"
		if arrival, _, err := b.n.store.ArrivalOf(m.Event.ID); err == nil {
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

// walletEvent describes a wallet entry for the event stream, if it was
// written by this node or moves money to or from it.
func (b backend) walletEvent(e *event.Event) (*api.WalletLine, bool) {
	w := b.n.wallet
	info, ok := w.ledger.Entry(e.ID)
	if !ok || (info.Author != w.me && info.Entry.Counterparty != w.me) {
		return nil, false
	}
	line := &api.WalletLine{
		Time: time.UnixMilli(info.Time).UTC(), Entry: e.ID.String(), Author: info.Author.String(), Seq: info.Seq,
		Type: info.Entry.Type.String(), Amount: int64(info.Entry.Amount), Balance: w.ledger.Balance(w.me),
		Memo: info.Entry.Memo, Status: info.Status.String(),
	}
	if !info.Entry.Counterparty.IsZero() {
		line.Counterparty = info.Entry.Counterparty.String()
	}
	if info.Reason != nil {
		line.Reason = info.Reason.Error()
	}
	return line, true
}
