package node

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/store"
)

// The peer book keeps discovery's remembered peers in the "peers" table
// (key: peer ID; value: mesh.KnownPeer as JSON), and a copy in memory,
// since discovery reads it every few seconds. It holds at most
// maxKnownPeers, the least recently seen going first, and forgets a peer
// not seen for forgetPeersAfter.
const (
	maxKnownPeers    = 1024
	forgetPeersAfter = 30 * 24 * time.Hour
)

type peerBook struct {
	t   *store.Table
	now func() time.Time

	mu    sync.Mutex
	peers map[peer.ID]mesh.KnownPeer
}

var _ mesh.PeerBook = (*peerBook)(nil)

func newPeerBook(st *store.Store) (*peerBook, error) {
	t, err := st.Table("peers")
	if err != nil {
		return nil, err
	}
	b := &peerBook{t: t, now: time.Now, peers: map[peer.ID]mesh.KnownPeer{}}
	all, err := store.ListJSON[mesh.KnownPeer](t, nil)
	if err != nil {
		return nil, err
	}
	for _, p := range all {
		b.peers[p.ID] = *p
	}
	return b, nil
}

func (b *peerBook) PutPeer(p mesh.KnownPeer) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := store.PutJSON(b.t, []byte(p.ID), p); err != nil {
		return err
	}
	b.peers[p.ID] = p
	for len(b.peers) > maxKnownPeers {
		oldest := p
		for _, q := range b.peers {
			if q.LastSeen.Before(oldest.LastSeen) {
				oldest = q
			}
		}
		if err := b.forget(oldest.ID); err != nil {
			return err
		}
	}
	return nil
}

// forget drops a peer; b.mu is held.
func (b *peerBook) forget(p peer.ID) error {
	delete(b.peers, p)
	return b.t.Delete([]byte(p))
}

func (b *peerBook) Peers() ([]mesh.KnownPeer, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]mesh.KnownPeer, 0, len(b.peers))
	for id, p := range b.peers {
		if b.now().Sub(p.LastSeen) > forgetPeersAfter {
			if err := b.forget(id); err != nil {
				return nil, err
			}
			continue
		}
		out = append(out, p)
	}
	return out, nil
}
