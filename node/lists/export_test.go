package lists

import "github.com/banyan-mesh/banyan/node/engine"

// OpenOp opens a stored list operation, for tests that merge by hand.
var OpenOp = openOp

// AD is the associated data of a list operation's ciphertext.
var AD = ad

// EncodeOp encodes a valid operation's plaintext.
var EncodeOp = encodeOp

// SetAuthorQuota sets the quota of the scopes kept from now on, until the
// test ends.
func SetAuthorQuota(t interface{ Cleanup(func()) }, q engine.Quota) {
	old := authorQuota
	authorQuota = q
	t.Cleanup(func() { authorQuota = old })
}
