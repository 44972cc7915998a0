package wallet

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// Seed is a red envelope's secret seed. The sender commits to it in the
// envelope entry (Commitment) and reveals it in the settlement.
type Seed [32]byte

// NewSeed returns a random seed.
func NewSeed() (Seed, error) {
	var s Seed
	for s == (Seed{}) {
		if _, err := rand.Read(s[:]); err != nil {
			return s, fmt.Errorf("seed: %w", err)
		}
	}
	return s, nil
}

// Commitment returns SHA-256(seed), the value an envelope entry commits to.
func Commitment(seed Seed) [32]byte { return sha256.Sum256(seed[:]) }

// Escrow returns the escrow account that holds a red envelope's money
// between its reserve and its settlement:
// SHA-256("banyan/wallet-escrow/v1" || 0x00 || envelope entry ID).
func Escrow(envelope event.ID) Account {
	h := sha256.New()
	h.Write([]byte("banyan/wallet-escrow/v1\x00"))
	h.Write(envelope[:])
	var a Account
	h.Sum(a[:0])
	return a
}

// stream is the deterministic random stream of a seed: the concatenation
// of SHA-256("banyan/red-envelope-split/v1" || 0x00 || seed || u64be(i))
// for i = 0, 1, 2, ..., read as big-endian 64-bit words.
type stream struct {
	seed  Seed
	block [32]byte
	i     uint64
	pos   int
}

func newStream(seed Seed) *stream { return &stream{seed: seed, pos: 32} }

func (s *stream) next() uint64 {
	if s.pos == 32 {
		h := sha256.New()
		h.Write([]byte("banyan/red-envelope-split/v1\x00"))
		h.Write(s.seed[:])
		var ctr [8]byte
		binary.BigEndian.PutUint64(ctr[:], s.i)
		h.Write(ctr[:])
		h.Sum(s.block[:0])
		s.i++
		s.pos = 0
	}
	v := binary.BigEndian.Uint64(s.block[s.pos:])
	s.pos += 8
	return v
}

// uniform returns a uniform value in [0, k), k >= 1, by rejection: words
// below 2^64 mod k are skipped.
func (s *stream) uniform(k uint64) uint64 {
	r := -k % k // 2^64 mod k
	for {
		if x := s.next(); x >= r {
			return x % k
		}
	}
}

// Split divides total minor units into n random shares fixed by the seed:
// every share is at least 1 and the shares sum to total. It needs
// 1 <= n <= MaxShares and n <= total <= MaxAmount.
//
// Algorithm (normative, so that every client computes the same shares):
// choose n-1 distinct cut points in {1, ..., total-1} with Floyd's
// algorithm — for j from total-n+1 to total-1, t = 1 + uniform(j) from the
// seed's stream; add t, or j if t was chosen before — sort them, and return
// the differences between consecutive points of 0, the cuts, total.
func Split(seed Seed, total uint64, n int) ([]uint64, error) {
	if n < 1 || n > MaxShares || uint64(n) > total || total > MaxAmount {
		return nil, fmt.Errorf("cannot split %d into %d shares", total, n)
	}
	s := newStream(seed)
	m := uint64(n - 1)
	chosen := make(map[uint64]bool, m)
	cuts := make([]uint64, 0, m+1)
	for j := total - m; j <= total-1 && m > 0; j++ {
		t := 1 + s.uniform(j)
		if chosen[t] {
			t = j
		}
		chosen[t] = true
		cuts = append(cuts, t)
	}
	slices.Sort(cuts)
	cuts = append(cuts, total)
	shares := make([]uint64, n)
	prev := uint64(0)
	for i, c := range cuts {
		shares[i] = c - prev
		prev = c
	}
	return shares, nil
}

// rankKey orders a settlement's claims:
// SHA-256("banyan/red-envelope-rank/v1" || 0x00 || seed || claim ID).
func rankKey(seed Seed, claim event.ID) [32]byte {
	h := sha256.New()
	h.Write([]byte("banyan/red-envelope-rank/v1\x00"))
	h.Write(seed[:])
	h.Write(claim[:])
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// Assign gives the shares of Split(seed, total, n) to claims: the claims
// are ranked by rankKey(seed, claim ID), the claim of rank i receives share
// i, and shares beyond the number of claims are unclaimed. The result does
// not depend on the order of claims. It returns the share of each claim (in
// the order given) and the unclaimed remainder.
func Assign(seed Seed, total uint64, n int, claims []event.ID) (shares []uint64, remainder uint64, err error) {
	if len(claims) > n {
		return nil, 0, fmt.Errorf("%d claims for %d shares", len(claims), n)
	}
	split, err := Split(seed, total, n)
	if err != nil {
		return nil, 0, err
	}
	type ranked struct {
		key [32]byte
		i   int
	}
	rs := make([]ranked, len(claims))
	for i, c := range claims {
		rs[i] = ranked{rankKey(seed, c), i}
	}
	slices.SortFunc(rs, func(a, b ranked) int {
		if c := bytes.Compare(a.key[:], b.key[:]); c != 0 {
			return c
		}
		return a.i - b.i
	})
	shares = make([]uint64, len(claims))
	for rank, r := range rs {
		shares[r.i] = split[rank]
	}
	for _, v := range split[len(claims):] {
		remainder += v
	}
	return shares, remainder, nil
}

// RankClaims returns the claims ordered by rankKey(seed, claim ID), the
// order in which Assign gives out shares. A claimant cannot aim for a
// place: the seed stays secret until the settlement.
func RankClaims(seed Seed, claims []event.ID) []event.ID {
	out := slices.Clone(claims)
	slices.SortFunc(out, func(a, b event.ID) int {
		ka, kb := rankKey(seed, a), rankKey(seed, b)
		if c := bytes.Compare(ka[:], kb[:]); c != 0 {
			return c
		}
		return bytes.Compare(a[:], b[:])
	})
	return slices.Compact(out)
}

// ClaimTagLabel and ClaimTagData are what a claim's group-member tag is a
// MAC of: the label names the purpose, the data binds the tag to one
// envelope and one claimant, so that it cannot be copied into another
// claim. The MAC itself (keyed by the group's key) is computed by whoever
// holds the key; see docs/WALLET.md.
const ClaimTagLabel = "envelope-claim"

// ClaimTagData returns envelope ID || claimant account.
func ClaimTagData(envelope event.ID, claimant Account) []byte {
	return append(append(make([]byte, 0, 64), envelope[:]...), claimant[:]...)
}

// SelectClaims picks the claims a settlement of n shares pays from
// candidate claims of one envelope (claim ID -> claimant): one per
// claimant, the first n in the order of RankClaims, listed ascending by
// ID as a settlement lists them. It depends only on the set of candidates
// and the seed — not on claim times, not on the order claims arrived in —
// and a claimant cannot aim for a place without knowing the seed.
func SelectClaims(seed Seed, n int, claims map[event.ID]Account) []event.ID {
	ids := make([]event.ID, 0, len(claims))
	for id := range claims {
		ids = append(ids, id)
	}
	seen := make(map[Account]bool, len(claims))
	var out []event.ID
	for _, id := range RankClaims(seed, ids) {
		if len(out) == n {
			break
		}
		if a := claims[id]; !seen[a] {
			seen[a] = true
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(a, b event.ID) int { return bytes.Compare(a[:], b[:]) })
	return out
}

// ClaimTag is the member tag of a claim of envelope by claimant in a group
// whose key is groupKey: HMAC-SHA256(k, ClaimTagData(envelope, claimant))
// with k = HKDF-SHA256(groupKey, no salt, "banyan/group-mac/v1" || 0x00 ||
// ClaimTagLabel, 32 bytes). Nodes compute it through the group feature,
// which holds the key; this is the definition, for tests and other
// implementations.
func ClaimTag(groupKey [32]byte, envelope event.ID, claimant Account) [32]byte {
	k, err := hkdf.Key(sha256.New, groupKey[:], nil, "banyan/group-mac/v1\x00"+ClaimTagLabel, 32)
	if err != nil {
		panic(fmt.Sprintf("wallet: claim tag key: %v", err)) // 32 bytes of SHA-256 always derive
	}
	h := hmac.New(sha256.New, k)
	h.Write(ClaimTagData(envelope, claimant))
	var tag [32]byte
	h.Sum(tag[:0])
	return tag
}
