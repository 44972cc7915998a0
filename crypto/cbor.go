package crypto

import "github.com/fxamacker/cbor/v2"

// Everything Banyan signs, or reads from the network, is CBOR: encoded in
// one canonical form, so that a structure has exactly one encoding, and
// decoded strictly, so that a peer cannot make a node parse more than it
// expects.

// CanonicalCBOR encodes in the core deterministic form of RFC 8949.
var CanonicalCBOR = func() cbor.EncMode {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

// StrictCBOR returns a decoder for input from the network: no duplicate map
// keys, indefinite lengths, tags or unknown fields, at most maxNested levels
// of nesting, maxArray elements in an array and 16 pairs in a map.
func StrictCBOR(maxNested, maxArray int) cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		MaxNestedLevels:   max(maxNested, 4),
		MaxArrayElements:  max(maxArray, 16),
		MaxMapPairs:       16,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}
