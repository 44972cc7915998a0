package private

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/banyan-mesh/banyan/crypto"
)

// ContactCode is what a person shows to be added as a contact: their
// signed DM key bundle and where their node can be reached.
//
// Text form: "banyan:" (optional) + "c1." + base64url(CBOR map) with
// {1: bundle (bytes), 2: peer ID (bytes), 3: [multiaddr bytes...],
// 4: display name}.
type ContactCode struct {
	Bundle []byte
	Peer   peer.AddrInfo
	Name   string
}

type contactWire struct {
	Bundle []byte   `cbor:"1,keyasint"`
	Peer   []byte   `cbor:"2,keyasint"`
	Addrs  [][]byte `cbor:"3,keyasint,omitempty"`
	Name   string   `cbor:"4,keyasint,omitempty"`
}

const (
	contactPrefix  = "c1."
	maxCodeAddrs   = 16
	maxContactCode = 4096
	maxBundleSize  = 512
	// MaxNickname is the longest contact nickname or display name, in bytes.
	MaxNickname = 64
)

var cborEnc = crypto.CanonicalCBOR

// contactDec decodes what arrives from the network, strictly.
var contactDec = crypto.StrictCBOR(4, maxCodeAddrs)

// String encodes the code.
func (c *ContactCode) String() string {
	w := contactWire{Bundle: c.Bundle, Peer: []byte(c.Peer.ID), Name: c.Name}
	for _, a := range c.Peer.Addrs {
		if len(w.Addrs) == maxCodeAddrs {
			break
		}
		w.Addrs = append(w.Addrs, a.Bytes())
	}
	b, err := cborEnc.Marshal(&w)
	if err != nil {
		panic(fmt.Sprintf("private: encode contact code: %v", err))
	}
	return crypto.EncodeCode(contactPrefix, b)
}

// Link returns the code as a banyan: link.
func (c *ContactCode) Link() string { return crypto.LinkScheme + c.String() }

var errBadContactCode = errors.New("not a banyan contact code (it should look like banyan:c1.… or c1.…; copy the whole code)")

// ParseContactCode decodes a contact code or link. It checks the form, not
// the bundle's signature (the DM service does).
func ParseContactCode(s string) (*ContactCode, error) {
	code, ok := crypto.CutCode(s, contactPrefix)
	if !ok || len(contactPrefix)+len(code) > maxContactCode {
		return nil, errBadContactCode
	}
	b, err := crypto.DecodeCode(code)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadContactCode, err)
	}
	var w contactWire
	if err := contactDec.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadContactCode, err)
	}
	if len(w.Bundle) == 0 || len(w.Bundle) > maxBundleSize || len(w.Name) > MaxNickname {
		return nil, fmt.Errorf("%w: bad bundle or name length", errBadContactCode)
	}
	id, err := peer.IDFromBytes(w.Peer)
	if err != nil {
		return nil, fmt.Errorf("%w: peer: %v", errBadContactCode, err)
	}
	c := &ContactCode{Bundle: w.Bundle, Name: w.Name, Peer: peer.AddrInfo{ID: id}}
	for _, ab := range w.Addrs {
		a, err := ma.NewMultiaddrBytes(ab)
		if err != nil {
			return nil, fmt.Errorf("%w: address: %v", errBadContactCode, err)
		}
		c.Peer.Addrs = append(c.Peer.Addrs, a)
	}
	return c, nil
}
