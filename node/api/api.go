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

// Event is one item of the event stream (GET /v1/events, server-sent
// events). The SSE id is Seq; a client resumes with the Last-Event-ID header
// or ?since=SEQ and gets every event after it, including those that arrived
// while it was away or the node was restarted.
type Event struct {
	Seq     uint64   `json:"seq"`
	Type    string   `json:"type"` // "message"
	Message *Message `json:"message,omitempty"`
}

// Error is the body of every error response.
type Error struct {
	Error string `json:"error"`
}
