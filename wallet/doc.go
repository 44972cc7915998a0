// Package wallet is Banyan's offline wallet: signed IOUs of a village unit
// of mutual credit, kept on per-person hash chains, with credit limits,
// payment requests, receipts, refunds, red envelopes and fraud proofs. It
// is pure logic: no network, no storage, no clock.
//
// # Entries are events
//
// A wallet entry is an event.Event of kind KindWalletEntry in the unit's
// scope UnitScope(unit). The event supplies the chain: Author is the owner,
// Seq the position (from 1), Prev the ID of the owner's previous entry,
// Time the owner's clock, and the signature covers it all. The payload is
// an Entry in canonical CBOR with integer keys:
//
//	key field         type
//	1   type          uint (Type)
//	2   counterparty  bstr 32
//	3   amount        uint, minor units, <= 2^53-1
//	4   unit          tstr, 1-32 of [A-Za-z0-9._-]
//	5   balance       int, the owner's chain balance after the entry
//	6   memo          tstr, <= 280 bytes UTF-8
//	7   ref           bstr 32, an entry ID
//	8   nonce         bstr 16, the nonce of the payment request paid
//	9   count         uint, envelope shares, 1-100
//	10  commit        bstr 32, SHA-256 of the envelope seed
//	11  expiry        int, Unix ms (an envelope's, or the request's)
//	12  seed          bstr 32, the revealed envelope seed
//	13  claims        array of bstr 32, ascending, <= 100
//	14  request       bstr 32, the ID of the request paid (RequestIDOf)
//	15  group         bstr 32, the scope of an envelope's group
//	16  tag           bstr 32, a claim's group-member tag
//
// Absent fields are not encoded; which fields each type requires or
// forbids, and what it does to balances:
//
//	type      fields                          chain delta   transfer when effective
//	pay       cp, amount, [nonce expiry req]  -amount       author -> cp
//	receipt   cp, amount, ref                 +amount       none (backs the credit)
//	refund    cp, amount, ref                 -amount       author -> cp
//	limit     cp, [amount]                    0             none (sets cp's limit)
//	envelope  amount, count, commit, expiry,  -amount       author -> Escrow(entry)
//	          [group]
//	claim     cp, ref, [tag]                  0             none
//	settle    ref, seed, [claims], [amount]   +amount       Escrow -> claimants, rest -> author
//
// # Ledger
//
// A Ledger derives a unit's state from a set of events: Add is idempotent
// and the state (statuses, balances, limits, fraud proofs, StateHash) is a
// function of the set alone. Entries whose predecessors are missing wait as
// pending. Each entry is invalid (its chain is broken: it and its
// descendants never count), void (on a valid chain, without effect) or ok.
// Balances are sums of the transfers of ok entries, so they always sum to
// zero. Every debit is bounded by the author's credit limit against its
// spendable balance: its chain's effective debits and receipted credits.
//
// Every "first one wins" rule (one settlement per envelope, refunds up to
// the payment, one receipt per transfer, one claim per claimant, one
// payment per request) is decided per branch of its author's chain, never
// by entry times.
//
// Two entries of one author at one position are a fork: the ledger makes a
// FraudProof (verifiable alone), freezes the account (Build and
// CheckPayment refuse it) and keeps every branch's debts: no branch voids
// what another counted.
//
// The design, guarantees and threats are documented in docs/WALLET.md.
package wallet
