// Package api is the shared plumbing of the node's local HTTP API: the
// server (bearer-token authentication, JSON errors on every path, request
// limits), generic JSON handlers, the resumable event stream, and the
// typed client that the CLI, the web UI's tests and scripts use. Features
// register their own routes and bring their own JSON types and client
// methods; the routes are listed in docs/PROTOCOL.md.
//
// The API listens on 127.0.0.1 and every request carries the bearer token
// kept in the node's data directory.
package api

import (
	"encoding/json"
	"fmt"

	"github.com/banyan-mesh/banyan/node/people"
)

// DefaultAddr is where the API listens unless told otherwise. If the port is
// taken, the node picks a free one; clients read the real address from the
// data directory.
const DefaultAddr = "127.0.0.1:7342"

// Node describes the running node (GET /v1/node).
type Node struct {
	PeerID    string   `json:"peer_id"`
	PublicKey string   `json:"public_key"` // hex
	Addrs     []string `json:"addrs"`      // full multiaddrs including /p2p/
	Version   string   `json:"version"`
	Stats     Stats    `json:"stats"`
	Storage   Storage  `json:"storage"`
	// EventSeq is the newest event's sequence number: a client that wants
	// only new events streams from here.
	EventSeq uint64 `json:"event_seq"`
	// Clock is how the node's clock compares with its peers'.
	Clock Clock `json:"clock"`
	// CatchingUp counts the node's own chains (its messages in a group,
	// its wallet, its profile, ...) it writes nothing to yet: its identity
	// was restored from a backup and peers have not brought back what it
	// wrote before.
	CatchingUp int `json:"catching_up,omitempty"`
}

// Check is what a check of the whole store found (POST /v1/node/check).
type Check struct {
	// Events counts the events read; Removed those found damaged and
	// removed, to be fetched again from peers by sync.
	Events  int `json:"events"`
	Removed int `json:"removed"`
	// Found says what was wrong in a sentence; empty when nothing was.
	Found string `json:"found,omitempty"`
	// DamagedMarks says, for each of this node's chains whose mark cannot
	// be read (its writes refused), why; Marks how those were set again
	// when asked to.
	DamagedMarks []string     `json:"damaged_marks,omitempty"`
	Marks        []MarkRepair `json:"marks,omitempty"`
}

// CheckRequest asks a check to also set again the chain marks that cannot
// be read, from the store's head after a sync with the chain's peers.
type CheckRequest struct {
	RepairMarks bool `json:"repair_marks,omitempty"`
}

// MarkRepair is how one damaged chain mark was set again, or why not.
type MarkRepair struct {
	Scope string `json:"scope"`
	// Seq is the head of the chain the mark now holds; Peers the peers
	// synced first.
	Seq   uint64 `json:"seq"`
	Peers int    `json:"peers"`
	Error string `json:"error,omitempty"`
}

// Clock is how the node's clock compares with its connected peers'.
type Clock struct {
	// AheadMS is how far the node's clock is ahead of its peers' (the
	// median; negative: behind), in milliseconds; Peers counts the peers
	// that said their time.
	AheadMS int64 `json:"ahead_ms"`
	Peers   int   `json:"peers"`
	// Warning tells the user what is wrong; empty when the clock agrees
	// with most peers.
	Warning string `json:"warning,omitempty"`
}

// Storage is what the node keeps on disk, and the state of that disk.
type Storage struct {
	// Dir is the data directory.
	Dir string `json:"dir"`
	// StoreBytes is the event store's size on disk; MailboxBytes the
	// sealed mail it holds, its own and what it carries for others.
	StoreBytes   int64 `json:"store_bytes"`
	MailboxBytes int64 `json:"mailbox_bytes"`
	// FreeBytes is what the disk has free; ReserveBytes what the store
	// keeps free to write safely (0 for a store in memory).
	FreeBytes    uint64 `json:"free_bytes"`
	ReserveBytes uint64 `json:"reserve_bytes"`
	// WritesRefused says why new writes are refused; empty when they are
	// not.
	WritesRefused string `json:"writes_refused,omitempty"`
	// Damage is what the last scrub of the store found; empty when it
	// found nothing (or none has run yet).
	Damage string `json:"damage,omitempty"`
}

// Settings are what a person may change while the node runs (GET and PUT
// /v1/settings).
type Settings struct {
	// Name is how this person calls themselves in contact codes and
	// requests.
	Name         string `json:"name"`
	ReadReceipts bool   `json:"read_receipts"`
	// CarryMail is the choice kept for the next start; CarryingMail what
	// the node does now (it changes when Banyan restarts).
	CarryMail    bool `json:"carry_mail"`
	CarryingMail bool `json:"carrying_mail"`
	// Fixed are the settings a flag or environment variable sets, by key
	// ("name", "read_receipts", "carry_mail"), with that flag or variable:
	// the app cannot change them.
	Fixed map[string]string `json:"fixed,omitempty"`
}

// SettingsChange changes the settings it names (PUT /v1/settings).
type SettingsChange struct {
	Name         *string `json:"name,omitempty"`
	ReadReceipts *bool   `json:"read_receipts,omitempty"`
	CarryMail    *bool   `json:"carry_mail,omitempty"`
}

// Stats counts what the node has received from the network.
type Stats struct {
	Accepted uint64            `json:"accepted"`
	Rejected map[string]uint64 `json:"rejected"` // by reason
	Sync     SyncStats         `json:"sync"`
}

// SyncStats counts the syncs that peers started and this node ended.
type SyncStats struct {
	// Malformed counts syncs ended for breaking the protocol's rules, by
	// reason (PROTOCOL.md section 12.8).
	Malformed map[string]uint64 `json:"malformed"`
	// Refused counts syncs turned away while other peers were syncing;
	// Replaced those a peer ended by opening another.
	Refused  uint64 `json:"refused"`
	Replaced uint64 `json:"replaced"`
}

// Peer is a connected peer (GET /v1/peers).
type Peer struct {
	PeerID string `json:"peer_id"`
	// Person is the peer as every output shows people.
	Person  people.Person `json:"person"`
	Addrs   []string      `json:"addrs"`
	Latency string        `json:"latency,omitempty"`
	// Relay says the peer announced itself as a relay.
	Relay bool `json:"relay,omitempty"`
}

// Error is the body of every error response.
type Error struct {
	Error string `json:"error"`
}

// Event is one item of the event stream (GET /v1/events, server-sent
// events): {"seq": N, "type": T, T: {...}}, the content under the key
// named by its type ("message", "dm", "wallet"...). The SSE id is Seq; a
// client resumes with the Last-Event-ID header or ?since=SEQ and gets every
// event after it, including those that arrived while it was away or the
// node was restarted.
type Event struct {
	Seq  uint64
	Type string
	// Data is the content the server sends; a client finds it in Raw.
	Data any
	Raw  json.RawMessage
}

// MarshalJSON encodes the event with its content under its type's key.
func (e Event) MarshalJSON() ([]byte, error) {
	if e.Type == "seq" || e.Type == "type" {
		return nil, fmt.Errorf("event type %q", e.Type)
	}
	m := map[string]any{"seq": e.Seq, "type": e.Type}
	switch {
	case e.Data != nil:
		m[e.Type] = e.Data
	case e.Raw != nil:
		m[e.Type] = e.Raw
	}
	return json.Marshal(m)
}

// UnmarshalJSON decodes an event, keeping its content in Raw.
func (e *Event) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if err := json.Unmarshal(m["seq"], &e.Seq); err != nil {
		return fmt.Errorf("event seq: %w", err)
	}
	if err := json.Unmarshal(m["type"], &e.Type); err != nil {
		return fmt.Errorf("event type: %w", err)
	}
	e.Raw = m[e.Type]
	return nil
}

// Decode decodes the event's content into v.
func (e Event) Decode(v any) error {
	if e.Raw == nil {
		return fmt.Errorf("event %d (%s) has no content", e.Seq, e.Type)
	}
	return json.Unmarshal(e.Raw, v)
}
