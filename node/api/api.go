// Package api is the node's local HTTP API: its JSON types, the server that
// exposes a node, and the typed client that the CLI and the tests use. The
// API listens on 127.0.0.1 and every request carries the bearer token kept in
// the node's data directory.
//
// Routes (all JSON; errors are {"error": "..."} with a 4xx or 5xx status):
//
//	GET    /v1/node                       Node
//	GET    /v1/peers                      []Peer
//	GET    /v1/groups                     []Group
//	POST   /v1/groups                     CreateGroup -> Group
//	POST   /v1/groups/join                JoinGroup -> Group
//	GET    /v1/groups/{group}/invite      Invite
//	DELETE /v1/groups/{group}             leave the group
//	GET    /v1/groups/{group}/messages    ?limit=N&before=CURSOR -> Page
//	POST   /v1/groups/{group}/messages    SendMessage -> Message
//	POST   /v1/groups/{group}/read        MarkRead (empty: everything)
//	PUT    /v1/groups/{group}/retention   SetRetention -> Group
//	GET    /v1/contacts                   []Contact
//	POST   /v1/contacts                   AddContact -> Contact (sends a contact request)
//	GET    /v1/contacts/invite            ContactInvite (this node's code)
//	GET    /v1/contacts/invite.png        the code as a QR code (PNG)
//	POST   /v1/contacts/{contact}/accept  -> Contact
//	POST   /v1/contacts/{contact}/block   -> Contact
//	PUT    /v1/contacts/{contact}/nickname SetNickname -> Contact
//	GET    /v1/nearby                     []Nearby (connected peers, to add)
//	GET    /v1/dm/{contact}               ?limit=N&before=TIME -> DMPage
//	POST   /v1/dm/{contact}               SendMessage -> DM
//	POST   /v1/dm/{contact}/read          mark the conversation read
//	GET    /v1/wallet                     Wallet (balance, spendable, limit, frozen)
//	GET    /v1/wallet/history             []WalletLine, or ?csv=1 for CSV
//	POST   /v1/wallet/pay                 WalletPay -> WalletEntry
//	POST   /v1/wallet/requests            WalletRequestIn -> WalletRequest (link, QR)
//	POST   /v1/wallet/pay-request         WalletPayRequest -> WalletEntry
//	POST   /v1/wallet/refund              WalletRefund -> WalletEntry
//	POST   /v1/wallet/limits              WalletLimit -> WalletEntry (guarantors)
//	POST   /v1/wallet/envelopes           WalletEnvelopeIn -> WalletEntry (a red envelope)
//	POST   /v1/wallet/envelopes/{id}/claim -> WalletEntry
//	GET    /v1/wallet/frauds              fraud reports
//	PUT    /v1/wallet/accept-cap          WalletAcceptCap -> Wallet
//	GET    /v1/events                     server-sent events, see Event
//
// {group} is a group ID (hex) or a group's unique name, URL-escaped.
package api

import "time"

// DefaultAddr is where the API listens unless told otherwise. If the port is
// taken, the node picks a free one; clients read the real address from the
// data directory.
const DefaultAddr = "127.0.0.1:7342"

// Node describes the running node.
type Node struct {
	PeerID    string   `json:"peer_id"`
	PublicKey string   `json:"public_key"` // hex
	Addrs     []string `json:"addrs"`      // full multiaddrs including /p2p/
	Version   string   `json:"version"`
	Stats     Stats    `json:"stats"`
	// EventSeq is the newest event's sequence number: a client that wants
	// only new events streams from here.
	EventSeq uint64 `json:"event_seq"`
}

// Stats counts what the node has received from the network.
type Stats struct {
	Accepted uint64            `json:"accepted"`
	Rejected map[string]uint64 `json:"rejected"` // by reason
}

// Peer is a connected peer.
type Peer struct {
	PeerID  string   `json:"peer_id"`
	Addrs   []string `json:"addrs"`
	Latency string   `json:"latency,omitempty"`
}

// Group is a group the node belongs to.
type Group struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Unread    int       `json:"unread"`
	Peers     int       `json:"peers"`      // connected peers in the group's topic
	MeshPeers int       `json:"mesh_peers"` // of those, peers this node exchanges messages with directly
	Joined    time.Time `json:"joined"`
	Messages  int       `json:"messages"`
	// Missing counts messages this node knows exist (gaps in an author's
	// sequence numbers) but does not have yet.
	Missing int `json:"missing"`
	// CatchingUp is set while a sync is bringing this group's history.
	CatchingUp *CatchUp `json:"catching_up,omitempty"`
	// Retention (a Go duration, "" for forever) and Quota (bytes, 0 for
	// none) bound what this node keeps of the group's history.
	Retention string `json:"retention,omitempty"`
	Quota     int64  `json:"quota,omitempty"`
}

// CatchUp is the progress of a catch-up sync.
type CatchUp struct {
	Received uint64 `json:"received"`
	Expected uint64 `json:"expected"`
}

// SetRetention is the body of PUT /v1/groups/{group}/retention. Retention is
// a Go duration ("720h"); empty or "0" keeps history forever. Quota is in
// bytes; 0 means no quota.
type SetRetention struct {
	Retention string `json:"retention"`
	Quota     int64  `json:"quota"`
}

// CreateGroup is the body of POST /v1/groups.
type CreateGroup struct {
	Name string `json:"name"`
}

// JoinGroup is the body of POST /v1/groups/join.
type JoinGroup struct {
	Invite string `json:"invite"`
}

// Invite is a group invite: a copyable code and the same as a link.
type Invite struct {
	Code string `json:"code"`
	Link string `json:"link"`
}

// SendMessage is the body of POST /v1/groups/{group}/messages.
type SendMessage struct {
	Text string `json:"text"`
}

// MarkRead is the body of POST /v1/groups/{group}/read.
type MarkRead struct {
	// Cursor marks everything up to and including this message as read;
	// empty marks everything read.
	Cursor string `json:"cursor,omitempty"`
}

// Message is a group message.
type Message struct {
	ID        string    `json:"id"`
	GroupID   string    `json:"group_id"`
	GroupName string    `json:"group_name"`
	Author    string    `json:"author"` // peer ID
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Text      string    `json:"text"`
	Mine      bool      `json:"mine"`
	Cursor    string    `json:"cursor"`
	// For the node's own messages: "stored" (only here so far) or "held"
	// (HeldBy peers are known to hold it).
	Status string `json:"status,omitempty"`
	HeldBy int    `json:"held_by,omitempty"`
}

// Page is one page of history, oldest first. Next, if set, fetches the
// page before this one.
type Page struct {
	Messages []Message `json:"messages"`
	Next     string    `json:"next,omitempty"`
}

// Contact is a person this node talks to privately. {contact} in routes is
// a peer ID or a unique nickname.
type Contact struct {
	PeerID   string `json:"peer_id"`
	Nickname string `json:"nickname,omitempty"`
	Name     string `json:"name,omitempty"` // the name they gave themselves
	// State is "requested" (waiting for them), "pending" (waiting for this
	// user to accept), "accepted" or "blocked".
	State  string    `json:"state"`
	Unread int       `json:"unread"`
	Online bool      `json:"online"`
	Added  time.Time `json:"added"`
}

// AddContact is the body of POST /v1/contacts: a contact code or link, or
// the peer ID of a nearby peer.
type AddContact struct {
	Code   string `json:"code,omitempty"`
	PeerID string `json:"peer_id,omitempty"`
}

// SetNickname is the body of PUT /v1/contacts/{contact}/nickname.
type SetNickname struct {
	Nickname string `json:"nickname"`
}

// ContactInvite is this node's contact code: text, link and the PNG's URL.
type ContactInvite struct {
	Code string `json:"code"`
	Link string `json:"link"`
	QR   string `json:"qr"` // terminal rendering of the QR code
}

// Nearby is a connected peer that could be added as a contact.
type Nearby struct {
	PeerID    string `json:"peer_id"`
	Name      string `json:"name,omitempty"`
	IsContact bool   `json:"is_contact"`
}

// DM is a private message.
type DM struct {
	ID     string    `json:"id"`
	PeerID string    `json:"peer_id"`
	Out    bool      `json:"out"`
	Text   string    `json:"text"`
	Time   time.Time `json:"time"`
	// Status of an outgoing message: "stored" (only here), "held" (HeldBy
	// peers carry it for the recipient), "delivered", "read".
	Status string `json:"status,omitempty"`
	HeldBy int    `json:"held_by,omitempty"`
}

// DMPage is a page of a conversation, oldest first; Next fetches older.
type DMPage struct {
	Messages []DM   `json:"messages"`
	Next     string `json:"next,omitempty"`
}

// Event is one item of the event stream (GET /v1/events, server-sent
// events). The SSE id is Seq; a client resumes with the Last-Event-ID header
// or ?since=SEQ and gets every event after it, including those that arrived
// while it was away or the node was restarted.
type Event struct {
	Seq     uint64   `json:"seq"`
	Type    string   `json:"type"` // "message", "dm", "wallet"
	Message *Message `json:"message,omitempty"`
	DM      *DM      `json:"dm,omitempty"`
	// Wallet is a wallet entry by or to this node; its Balance is this
	// node's balance when the event was sent.
	Wallet  *WalletLine `json:"wallet,omitempty"`
	Contact *Contact    `json:"contact,omitempty"`
}

// Error is the body of every error response.
type Error struct {
	Error string `json:"error"`
}

// Wallet is this node's account in its unit of mutual credit. Amounts are
// integers in minor units.
type Wallet struct {
	Unit      string `json:"unit"`
	Account   string `json:"account"`
	Balance   int64  `json:"balance"`
	Spendable int64  `json:"spendable"`
	Limit     uint64 `json:"limit"`
	Frozen    bool   `json:"frozen"`
	// Guarantor is true when this node's grants count.
	Guarantor bool `json:"guarantor,omitempty"`
	// Unreceipted counts incoming transfers not yet spendable.
	Unreceipted int `json:"unreceipted,omitempty"`
	// AcceptCap bounds what is accepted from a payer whose recent spending
	// is unconfirmed (0: no bound); AcceptCaps are caps for given payers.
	AcceptCap  uint64            `json:"accept_cap,omitempty"`
	AcceptCaps map[string]uint64 `json:"accept_caps,omitempty"`
}

// WalletAcceptCap is the body of PUT /v1/wallet/accept-cap: Payer empty
// sets the cap for anyone without one of their own.
type WalletAcceptCap struct {
	Payer string `json:"payer,omitempty"`
	Cap   uint64 `json:"cap"`
}

// WalletLine is one line of a wallet statement.
type WalletLine struct {
	Time         time.Time `json:"time"`
	Entry        string    `json:"entry"`
	Author       string    `json:"author"`
	Seq          uint64    `json:"seq"`
	Type         string    `json:"type"`
	Counterparty string    `json:"counterparty,omitempty"`
	Amount       int64     `json:"amount"`
	Balance      int64     `json:"balance"`
	Memo         string    `json:"memo,omitempty"`
	Ref          string    `json:"ref,omitempty"`
	Status       string    `json:"status"`
	Reason       string    `json:"reason,omitempty"`
}

// WalletEntry is an entry this node wrote.
type WalletEntry struct {
	ID     string `json:"id"`
	Seq    uint64 `json:"seq"`
	Type   string `json:"type"`
	Amount uint64 `json:"amount,omitempty"`
	To     string `json:"to,omitempty"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Balance is this node's balance after the entry.
	Balance int64 `json:"balance"`
}

// WalletPay is the body of POST /v1/wallet/pay.
type WalletPay struct {
	To     string `json:"to"`
	Amount uint64 `json:"amount"`
	Memo   string `json:"memo,omitempty"`
}

// WalletRequestIn is the body of POST /v1/wallet/requests.
type WalletRequestIn struct {
	Amount  uint64 `json:"amount"`
	Memo    string `json:"memo,omitempty"`
	ExpiryS int64  `json:"expiry_s,omitempty"`
}

// WalletRequest is a payment request to this node.
type WalletRequest struct {
	Link    string    `json:"link"`
	QR      string    `json:"qr"`
	Amount  uint64    `json:"amount"`
	Unit    string    `json:"unit"`
	Memo    string    `json:"memo,omitempty"`
	Expires time.Time `json:"expires"`
}

// WalletPayRequest is the body of POST /v1/wallet/pay-request.
type WalletPayRequest struct {
	Link string `json:"link"`
}

// WalletRefund is the body of POST /v1/wallet/refund. Amount 0 refunds what
// is left of the payment.
type WalletRefund struct {
	Entry  string `json:"entry"`
	Amount uint64 `json:"amount,omitempty"`
}

// WalletLimit is the body of POST /v1/wallet/limits.
type WalletLimit struct {
	Account string `json:"account"`
	Limit   uint64 `json:"limit"`
}

// WalletEnvelopeIn is the body of POST /v1/wallet/envelopes.
type WalletEnvelopeIn struct {
	Group string `json:"group"`
	Total uint64 `json:"total"`
	Count int    `json:"count"`
}

// WalletFraud reports an account that forked its chain.
type WalletFraud struct {
	Account   string           `json:"account"`
	Seq       uint64           `json:"seq"`
	Balance   int64            `json:"balance"`
	Limit     uint64           `json:"limit"`
	Shortfall uint64           `json:"shortfall"`
	Affected  []WalletAffected `json:"affected,omitempty"`
	Proofs    int              `json:"proofs"`
}

// WalletAffected is an account credited by a forked account after the fork.
type WalletAffected struct {
	Account string `json:"account"`
	Amount  uint64 `json:"amount"`
}
