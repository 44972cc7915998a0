// Package crypto holds Banyan's cryptographic primitives: the Ed25519 identity
// and its key file, domain-separated signing, and the symmetric encryption of
// group content. Every signature and every ciphertext in Banyan is made here,
// so that one verifier and one set of domain prefixes are used everywhere.
// It also holds the encodings of what is signed and shared: canonical and
// strict CBOR, and the text form of the codes people copy (code.go).
package crypto
