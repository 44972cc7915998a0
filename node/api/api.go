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
	// EventSeq is the newest event's sequence number: a client that wants
	// only new events streams from here.
	EventSeq uint64 `json:"event_seq"`
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
