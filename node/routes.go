package node

import (
	"context"
	"encoding/hex"
	"net/http"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/store"
)

// routes registers the node's own API:
//
//	GET /v1/node    api.Node
//	POST /v1/node/check  api.Check
//	GET /v1/peers   []api.Peer
//	GET /v1/events  server-sent events, see api.Event
func (n *Node) routes() {
	s := n.api
	s.Handle("GET /v1/node", api.Get(s, func(r *http.Request) (*api.Node, error) {
		stats, sync := n.engine.Stats(), n.engine.Syncer().Counters()
		out := &api.Node{
			PeerID:    n.host.ID().String(),
			PublicKey: hex.EncodeToString(n.id.PublicKey()),
			Version:   Version,
			Stats: api.Stats{Accepted: stats.Accepted(), Rejected: stats.Rejected(),
				Sync: api.SyncStats{Malformed: sync.Malformed, Refused: sync.Refused, Replaced: sync.Replaced}},
		}
		var err error
		if out.EventSeq, err = n.store.LastArrival(); err != nil {
			return nil, err
		}
		out.Addrs = n.Addrs()
		lsm, vlog := n.store.DiskSize()
		sp := n.store.Space()
		out.Storage = api.Storage{
			Dir: string(n.opts.Home), StoreBytes: lsm + vlog,
			FreeBytes: sp.Free, ReserveBytes: sp.Reserve, Damage: n.store.LastScrub().Found(),
		}
		if sp.Refused != nil {
			out.Storage.WritesRefused = sp.Refused.Error()
		}
		if out.Storage.MailboxBytes, err = n.feats.private.MailboxBytes(); err != nil {
			return nil, err
		}
		sk := n.clock.Skew()
		out.Clock = api.Clock{AheadMS: sk.Ahead.Milliseconds(), Peers: sk.Peers, Warning: sk.Warning}
		out.CatchingUp = n.engine.CatchingUp()
		return out, nil
	}))
	s.Handle("POST /v1/node/check", api.Post(s, func(r *http.Request, req api.CheckRequest) (*api.Check, error) {
		d, err := n.store.Scrub(r.Context())
		if err != nil {
			return nil, err
		}
		ch := &api.Check{Events: d.Events, Removed: d.Removed, Found: d.Found()}
		if req.RepairMarks {
			for _, m := range n.engine.RepairMarks(r.Context()) {
				am := api.MarkRepair{Scope: m.Scope.String(), Seq: m.Seq, Peers: m.Peers}
				if m.Err != nil {
					am.Error = m.Err.Error()
				}
				ch.Marks = append(ch.Marks, am)
			}
		}
		ch.DamagedMarks = n.engine.DamagedMarks()
		return ch, nil
	}))
	s.Handle("GET /v1/peers", api.Get(s, func(r *http.Request) ([]api.Peer, error) {
		h := n.host
		var out []api.Peer
		for _, p := range h.Network().Peers() {
			ap := api.Peer{PeerID: p.String(), Person: n.people.Person(p), Relay: mesh.IsRelay(h, p)}
			for _, c := range h.Network().ConnsToPeer(p) {
				for _, a := range n.listenAddrsOf(p, c) {
					if !slices.Contains(ap.Addrs, a) {
						ap.Addrs = append(ap.Addrs, a)
					}
				}
			}
			if l := h.Peerstore().LatencyEWMA(p); l > 0 {
				ap.Latency = l.Round(time.Microsecond).String()
			}
			out = append(out, ap)
		}
		return out, nil
	}))
	s.Handle("GET /v1/events", s.Events(stream{n}))
	n.settingsRoutes()
}

// listenAddrsOf says where peer p can be reached through connection c: the
// address this node dialled, or, for a peer that called in from a passing
// port, the addresses it says it listens on at that IP.
func (n *Node) listenAddrsOf(p peer.ID, c network.Conn) []string {
	remote := c.RemoteMultiaddr()
	if c.Stat().Direction == network.DirOutbound {
		return []string{remote.String()}
	}
	ip := ipOf(remote)
	var out []string
	for _, a := range n.host.Peerstore().Addrs(p) {
		if ip != "" && ipOf(a) == ip && mesh.Port(a) > 0 && !a.Equal(remote) {
			out = append(out, a.String())
		}
	}
	if len(out) == 0 {
		return []string{remote.String()}
	}
	return out
}

// ipOf returns the IP address of a multiaddr, or "".
func ipOf(a ma.Multiaddr) string {
	for _, code := range []int{ma.P_IP4, ma.P_IP6} {
		if ip, err := a.ValueForProtocol(code); err == nil {
			return ip
		}
	}
	return ""
}

// renderer is a feature that shows some arrivals on the event stream.
type renderer interface {
	Render(a store.Arrival) (api.Event, bool)
}

// stream is the event stream: the arrival log, each entry shown by the
// feature it belongs to.
type stream struct{ n *Node }

func (s stream) Notify() <-chan struct{} { return s.n.store.Notify() }

func (s stream) Events(ctx context.Context, since uint64, limit int) ([]api.Event, uint64, error) {
	arr, err := s.n.store.ArrivalsSince(since, limit)
	if err != nil {
		return nil, since, err
	}
	var out []api.Event
	for _, a := range arr {
		since = a.Seq
		for _, f := range s.n.feats.list() {
			if r, ok := f.(renderer); ok {
				if ev, ok := r.Render(a); ok {
					out = append(out, ev)
					break
				}
			}
		}
	}
	return out, since, nil
}
