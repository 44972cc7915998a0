// Package people is how a person is shown, the same way in every output:
// the command line, the API fields the web interface shows, wallet lines.
// A person is their nickname if this node's user gave them one (a
// contact), else the name they give themselves, marked as unverified and
// with the end of their peer ID, else the end of their peer ID. Names come
// from sources (profiles, contacts), which plug in through Source.
package people

import (
	"encoding/hex"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto"
)

// Names is what a source knows of what a person is called.
type Names struct {
	// Nickname is the name this node's user chose for them: shown as it is.
	Nickname string
	// Claimed is a name they give themselves (in a contact request, in a
	// profile): nobody checked it, so it is shown marked as theirs.
	Claimed string
}

// Source tells what it knows of people's names. A feature that learns
// names (contacts; profiles) is one.
type Source interface {
	Names(p peer.ID) Names
}

// Person is a person as every output shows them.
type Person struct {
	PeerID string `json:"peer_id"`
	// Name is the nickname, else the claimed name, else empty.
	Name string `json:"name,omitempty"`
	// Unverified is true when Name is only what they call themselves.
	Unverified bool `json:"unverified,omitempty"`
	// Short is the end of the peer ID, which tells people apart.
	Short string `json:"short"`
	// Me is true for this node's own user.
	Me bool `json:"me,omitempty"`
	// Label is the one-line form: "alice", "~bob (…KcXv6EYY)",
	// "…KcXv6EYY", or "you". It holds text from the network: escape it
	// for a terminal, show it as text in a page.
	Label string `json:"label"`
}

func (p Person) String() string { return p.Label }

// Short shortens a peer ID for display. Ed25519 peer IDs all start with
// the same "12D3KooW", so the end is what tells them apart.
func Short(id string) string {
	if len(id) <= 8 {
		return id
	}
	return "…" + id[len(id)-8:]
}

// Directory shows people, asking its sources for names. A nil Directory
// knows no names but this: people are shown by their short ID.
type Directory struct {
	self peer.ID

	mu      sync.RWMutex
	sources []Source
}

// New returns a directory for the node whose user is self.
func New(self peer.ID) *Directory { return &Directory{self: self} }

// Add adds a source of names. Sources asked first win: a nickname from any
// source wins over every claimed name.
func (d *Directory) Add(s Source) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sources = append(d.sources, s)
}

// Person shows the person with peer ID p.
func (d *Directory) Person(p peer.ID) Person {
	out := Person{PeerID: p.String(), Short: Short(p.String())}
	if d == nil {
		out.Label = out.Short
		return out
	}
	if p == d.self {
		out.Me, out.Label = true, "you"
		return out
	}
	d.mu.RLock()
	sources := d.sources
	d.mu.RUnlock()
	var claimed string
	for _, s := range sources {
		n := s.Names(p)
		if n.Nickname != "" {
			out.Name, out.Label = n.Nickname, n.Nickname
			return out
		}
		if claimed == "" {
			claimed = n.Claimed
		}
	}
	out.Label = out.Short
	if claimed != "" {
		out.Name, out.Unverified = claimed, true
		out.Label = "~" + claimed + " (" + out.Short + ")"
	}
	return out
}

// Key shows the person whose Ed25519 public key is pub (a wallet
// account), or, for a key that is no person's, its short hex.
func (d *Directory) Key(pub []byte) Person {
	p, err := crypto.PeerIDFromPublicKey(pub)
	if err != nil {
		s := Short(hex.EncodeToString(pub))
		return Person{Short: s, Label: s}
	}
	return d.Person(p)
}
