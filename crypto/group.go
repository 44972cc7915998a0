package crypto

import (
	"crypto/sha256"
	"encoding/binary"
)

// GroupIDSize is the size of a random group ID.
const GroupIDSize = 16

// GroupScope derives the scope of a group's events from its ID and key. The
// scope (and the gossip topic named after it) appears on the wire; because it
// depends on the key, outsiders can neither compute it from a group ID they
// overheard nor link it to one.
func GroupScope(groupID [GroupIDSize]byte, key [KeySize]byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("banyan/group-scope/v1\x00"))
	h.Write(groupID[:])
	h.Write(key[:])
	var s [32]byte
	h.Sum(s[:0])
	return s
}

// GroupAD is the associated data that binds a group ciphertext to the event
// carrying it: the scope, the author and the author's sequence number. A
// ciphertext copied into another event, by another author or at another
// position, no longer opens.
func GroupAD(scope, author []byte, seq uint64) []byte {
	ad := make([]byte, 0, len("banyan/group-msg/v1")+1+len(scope)+len(author)+8)
	ad = append(ad, "banyan/group-msg/v1\x00"...)
	ad = append(ad, scope...)
	ad = append(ad, author...)
	return binary.BigEndian.AppendUint64(ad, seq)
}
