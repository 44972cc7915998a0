package node

import (
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/store"
)

// peerBook keeps discovery's remembered peers in the "peers" table (key:
// peer ID; value: mesh.KnownPeer as JSON).
type peerBook struct{ t *store.Table }

var _ mesh.PeerBook = peerBook{}

func newPeerBook(st *store.Store) (peerBook, error) {
	t, err := st.Table("peers")
	return peerBook{t}, err
}

func (b peerBook) PutPeer(p mesh.KnownPeer) error { return store.PutJSON(b.t, []byte(p.ID), p) }

func (b peerBook) Peers() ([]mesh.KnownPeer, error) {
	ps, err := store.ListJSON[mesh.KnownPeer](b.t, nil)
	out := make([]mesh.KnownPeer, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return out, err
}
