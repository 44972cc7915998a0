package groupchat

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/node/content"
)

// Invite carries everything needed to join a group: its ID, name and key,
// and where the inviter can be reached.
//
// Text form: "banyan:" (optional) + "g1." + base64url(CBOR map), where the
// map is {1: group id (16 bytes), 2: name, 3: key (32 bytes), 4: inviter
// peer ID (bytes), 5: [inviter multiaddr bytes...]}.
type Invite struct {
	GroupID [crypto.GroupIDSize]byte
	Name    string
	Key     [crypto.KeySize]byte
	Inviter peer.AddrInfo
}

type inviteWire struct {
	GroupID []byte   `cbor:"1,keyasint"`
	Name    string   `cbor:"2,keyasint"`
	Key     []byte   `cbor:"3,keyasint"`
	Inviter []byte   `cbor:"4,keyasint"`
	Addrs   [][]byte `cbor:"5,keyasint"`
}

const (
	invitePrefix   = "g1."
	maxInviteLen   = 4096
	maxInviteAddrs = 16
	// MaxGroupName is the longest group name, in bytes of UTF-8.
	MaxGroupName = 128
)

// inviteDec decodes what arrives from the network, strictly.
var inviteDec = crypto.StrictCBOR(4, maxInviteAddrs)

// String encodes the invite as a copyable code.
func (in *Invite) String() string {
	w := inviteWire{GroupID: in.GroupID[:], Name: in.Name, Key: in.Key[:], Inviter: []byte(in.Inviter.ID)}
	for _, a := range in.Inviter.Addrs {
		if len(w.Addrs) == maxInviteAddrs {
			break
		}
		w.Addrs = append(w.Addrs, a.Bytes())
	}
	b, err := cborEnc.Marshal(&w)
	if err != nil {
		panic(fmt.Sprintf("groupchat: encode invite: %v", err))
	}
	return crypto.EncodeCode(invitePrefix, b)
}

// Link returns the invite as a banyan: link.
func (in *Invite) Link() string { return crypto.LinkScheme + in.String() }

var errBadInvite = errors.New("not a banyan group invite (it should look like banyan:g1.… or g1.…; copy the whole code)")

// ParseInvite decodes an invite code or link.
func ParseInvite(s string) (*Invite, error) {
	code, ok := crypto.CutCode(s, invitePrefix)
	if !ok || len(invitePrefix)+len(code) > maxInviteLen {
		return nil, errBadInvite
	}
	b, err := crypto.DecodeCode(code)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadInvite, err)
	}
	var w inviteWire
	if err := inviteDec.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadInvite, err)
	}
	if len(w.GroupID) != crypto.GroupIDSize || len(w.Key) != crypto.KeySize {
		return nil, fmt.Errorf("%w: bad group id or key length", errBadInvite)
	}
	if err := checkGroupName(w.Name); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadInvite, err)
	}
	in := &Invite{Name: w.Name}
	copy(in.GroupID[:], w.GroupID)
	copy(in.Key[:], w.Key)
	if len(w.Inviter) > 0 {
		id, err := peer.IDFromBytes(w.Inviter)
		if err == nil {
			// Every Banyan node's peer ID holds its Ed25519 key.
			_, err = crypto.PublicKeyFromPeerID(id)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: inviter: %v", errBadInvite, err)
		}
		in.Inviter.ID = id
		for _, ab := range w.Addrs {
			a, err := ma.NewMultiaddrBytes(ab)
			if err != nil {
				return nil, fmt.Errorf("%w: address: %v", errBadInvite, err)
			}
			in.Inviter.Addrs = append(in.Inviter.Addrs, a)
		}
	}
	return in, nil
}

func checkGroupName(name string) error { return content.CheckName("group name", name, MaxGroupName) }
