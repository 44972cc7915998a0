package private

import (
	"errors"
	"fmt"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/node/content"
)

// dmType says what a private message carries.
type dmType uint8

// Private message types.
const (
	dmText           dmType = 1 // Text
	dmDelivered      dmType = 2 // Refs arrived
	dmRead           dmType = 3 // Refs were read
	dmContactRequest dmType = 4 // "add me"; Name is the sender's display name
	dmContactAccept  dmType = 5
)

// dmBody is the plaintext inside the ratchet: a CBOR map
// {1: type, 2: id (16 bytes), 3: text, 4: [ids], 5: time (Unix ms), 6: name}.
type dmBody struct {
	Type dmType   `cbor:"1,keyasint"`
	ID   []byte   `cbor:"2,keyasint"`
	Text string   `cbor:"3,keyasint,omitempty"`
	Refs [][]byte `cbor:"4,keyasint,omitempty"`
	Time int64    `cbor:"5,keyasint"`
	Name string   `cbor:"6,keyasint,omitempty"`
}

// maxReceiptRefs bounds the messages one receipt acknowledges.
const maxReceiptRefs = 256

// dmDec decodes what arrives from the network, strictly.
var dmDec = crypto.StrictCBOR(4, maxReceiptRefs)

func (b *dmBody) encode() ([]byte, error) { return cborEnc.Marshal(b) }

func decodeDMBody(raw []byte) (*dmBody, error) {
	var b dmBody
	if err := dmDec.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("private message body: %w", err)
	}
	if len(b.ID) != DMIDSize {
		return nil, errors.New("private message body: bad id")
	}
	if b.Time <= 0 {
		return nil, errors.New("private message body: no time")
	}
	for _, r := range b.Refs {
		if len(r) != DMIDSize {
			return nil, errors.New("private message body: bad reference")
		}
	}
	if b.Name != "" {
		if err := content.CheckName("private message body: name", b.Name, MaxNickname); err != nil {
			return nil, err
		}
	}
	switch b.Type {
	case dmText:
		if err := content.CheckText(b.Text); err != nil {
			return nil, err
		}
	case dmDelivered, dmRead:
		if len(b.Refs) == 0 {
			return nil, errors.New("private message body: receipt without references")
		}
	case dmContactRequest, dmContactAccept:
	default:
		return nil, fmt.Errorf("private message body: unknown type %d", b.Type)
	}
	return &b, nil
}
