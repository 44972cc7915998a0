package node

import (
	"context"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/store"
)

// routes registers the node's own API:
//
//	GET /v1/node    api.Node
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
		addrs, err := peer.AddrInfoToP2pAddrs(&n.addrInfos()[0])
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			out.Addrs = append(out.Addrs, a.String())
		}
		return out, nil
	}))
	s.Handle("GET /v1/peers", api.Get(s, func(r *http.Request) ([]api.Peer, error) {
		h := n.host
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
	}))
	s.Handle("GET /v1/events", s.Events(stream{n}))
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
