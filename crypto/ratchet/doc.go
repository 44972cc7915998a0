// Package ratchet is Banyan's end-to-end encryption of private messages: a
// Double Ratchet session (in the style of Signal's specification) started
// by an X3DH-like agreement that needs no reply and no server, carried in a
// "sealed sender" box that hides who sent it. The wire format is specified
// in docs/PROTOCOL.md; this comment explains the design and its limits.
//
// # Keys
//
// Each identity has one static X25519 key pair for private messages. The
// private key is derived from the Ed25519 identity (NewKeys): it is
// HKDF-SHA256 of the identity's signature over the empty message in the
// domain "banyan/dm-static/v1". Ed25519 signatures are deterministic, so the
// key needs no second key file and comes back with a restored identity. That
// signature is never published. The public half cannot be computed from the
// Ed25519 key, so it is published in a Bundle: identity key, DH key, and the
// identity's signature over the DH key (domain "banyan/dm-bundle/v1").
// Contacts exchange bundles (in invite codes); every received bundle is
// verified before use.
//
// # Starting a session
//
// The initiator (Alice) needs only the responder's (Bob's) bundle. She makes
// an ephemeral key pair EK (the session's "base key") and computes
//
//	SK = HKDF-SHA256(DH(A, B) || DH(EK, B), info = label, both identity keys, both DH keys, EK)
//
// where A and B are the static keys. B also serves as Bob's first ratchet
// key, as a signed prekey does in Signal. There are no one-time prekeys:
// Bob may be offline, and nobody can hand them out for him. Until Alice
// receives a reply, her messages are "prekey messages" that carry EK;
// Bob's side is created by the first one he can decrypt. The sealed box
// around each message carries Alice's bundle, so Bob learns A.
//
// # The ratchet
//
// Each message key comes from a symmetric chain (HMAC-SHA256 with the
// constants 0x01 for the message key and 0x02 for the next chain key); each
// new ratchet key from the peer starts new chains through the root key
// (HKDF-SHA256, the root key as salt, the X25519 output as input). A message
// key is expanded by HKDF into an XChaCha20-Poly1305 key, used for one
// message with a random nonce (so that a session restored from an old copy
// cannot encrypt two plaintexts under one key and nonce). The header
// (ratchet key, previous chain length PN, message number N) and, for prekey
// messages, EK, are not encrypted (the sealed box hides them from carriers);
// they are bound as associated data together with both identity keys
// (sender first) and the caller's associated data.
//
// Messages may arrive out of order or not at all: the keys of messages
// passed over are kept, at most MaxSkip per chain for one incoming message
// and MaxSkippedKeys in all (the oldest are forgotten). A message that would
// skip more is rejected without changing the session. A used key is deleted,
// so a duplicate is rejected, with ErrReplay when that is recognisable.
//
// A Session keeps up to MaxStates ratchet states with one peer. Several
// exist when both sides started a session at the same time, or when one
// side lost its state and started again. Messages are decrypted by
// whichever state they belong to, and the state that last decrypted a
// message through its chains is the one used to send, so both sides settle
// on one state as soon as one replies to the other. The base keys of the
// last 16 dropped states are remembered so that their first messages cannot
// revive them.
//
// # Sealed sender
//
// Every message travels in a box sealed to the recipient's static DH key
// with a fresh ephemeral X25519 key (HKDF-SHA256, XChaCha20-Poly1305). Inside
// are the sender's bundle, the ratchet message, and the sender's Ed25519
// signature over the recipient's DH key and the ratchet message (domain
// "banyan/dm-seal/v1"), so the recipient authenticates the sender and a
// message cannot be re-sent to someone else under the sender's name. A
// carrier sees a version byte, a random-looking key and ciphertext whose
// length is rounded up to a multiple of SealPadding.
//
// # Use
//
// Make Keys once per identity. To send, wrap the stored session (or nil)
// with NewConversation and call Encrypt; to receive, call Receive with a
// lookup of stored sessions. Persist the session returned or changed after
// every message, before acknowledging it, and serialise the use of each
// session: a session restored from a stale copy reuses message keys.
//
// # Properties
//
//   - Confidentiality and authenticity of content against carriers, relays
//     and anyone without the keys of one of the two parties.
//   - Forward secrecy: a used message key is deleted, chain keys only move
//     forward, and ratchet private keys are replaced at every DH ratchet
//     step, so a stolen session state does not decrypt earlier messages.
//   - Post-compromise security against a passive attacker who stole a
//     session state (not the identity): once the victim has sent a message
//     and received the peer's reply to it, the victim's next messages, and
//     the peer's answers to those, are out of the attacker's reach, because
//     they use ratchet keys made after the theft.
//   - Sender anonymity towards carriers: no identity is in the clear.
//
// # Limits
//
//   - No one-time prekeys: everything a side sends before its first reply
//     arrives is encrypted under keys derivable from the recipient's static
//     DH key (that is, from the recipient's identity key) and the sender's
//     ratchet key. Whoever later steals the recipient's identity can read
//     those first messages, and the recipient can be made to accept their
//     replay whenever it has lost, never stored, or long since dropped the
//     state they started: only the node's message-ID deduplication catches
//     that.
//   - The sealed box is sealed to the static key too: whoever steals a
//     recipient's identity can open every box ever sent to it and learn the
//     senders (the ratchet layer still protects the content of all but the
//     first messages).
//   - The sender's signature makes the message non-repudiable: the
//     recipient can prove to others that the sender sent that ciphertext to
//     them. (Signal's sealed sender avoids signatures for deniability.)
//   - Metadata: the box reveals its size bucket, and whatever carries it
//     (the event envelope, the mailbox it is stored in, the time and the
//     peer it came from) may reveal recipient and sender. Padding hides the
//     exact length only.
//   - Keys in memory are not wiped (Go gives no such guarantee), and the
//     store may keep old versions of a session on disk until compaction.
package ratchet
