package events

import "github.com/banyan-mesh/banyan/node/engine"

// AD is the associated data of a post's or an answer's ciphertext.
var AD = ad

// SetAuthorQuota sets the quota of the scopes kept from now on, until the
// test ends.
func SetAuthorQuota(t interface{ Cleanup(func()) }, q engine.Quota) {
	old := authorQuota
	authorQuota = q
	t.Cleanup(func() { authorQuota = old })
}
