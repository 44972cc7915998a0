package groupchat

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/store"
)

// Group is a group this node is a member of, as kept in the "groups"
// table (key: the group ID; value: this record as JSON).
type Group struct {
	ID     [crypto.GroupIDSize]byte `json:"id"`
	Name   string                   `json:"name"`
	Key    [crypto.KeySize]byte     `json:"key"`
	Joined time.Time                `json:"joined"`
	// Created says this node created the group (at Joined).
	Created bool `json:"created,omitempty"`
	// ReadUpTo is the history position the user has read up to.
	ReadUpTo string `json:"read_up_to,omitempty"`
	// Retention and Quota bound what this node keeps of the group's
	// history (0: no limit, the default). Floor is the oldest position
	// kept after pruning; nothing older is stored or synced again.
	Retention time.Duration `json:"retention,omitempty"`
	Quota     int64         `json:"quota,omitempty"`
	Floor     string        `json:"floor,omitempty"`
}

// Scope returns the scope of the group's events.
func (g *Group) Scope() event.Scope { return crypto.GroupScope(g.ID, g.Key) }

// groups is the table of group records.
type groups struct{ t *store.Table }

func (gs groups) put(g *Group) error { return store.PutJSON(gs.t, g.ID[:], g) }

func (gs groups) get(id [crypto.GroupIDSize]byte) (*Group, error) {
	g, err := store.GetJSON[Group](gs.t, id[:])
	if err != nil {
		return nil, fmt.Errorf("group: %w", err)
	}
	return g, nil
}

func (gs groups) list() ([]*Group, error) { return store.ListJSON[Group](gs.t, nil) }

func (gs groups) delete(id [crypto.GroupIDSize]byte) error { return gs.t.Delete(id[:]) }

// ErrNoGroup reports a group reference that matches nothing.
var ErrNoGroup = errors.New("no such group")

// find resolves a group ID (hex, or a unique prefix of at least 6
// characters) or a unique name.
func (gs groups) find(ref string) (*Group, error) {
	all, err := gs.list()
	if err != nil {
		return nil, err
	}
	var byName, byID []*Group
	for _, g := range all {
		id := hex.EncodeToString(g.ID[:])
		switch {
		case id == ref:
			return g, nil
		case len(ref) >= 6 && strings.HasPrefix(id, ref):
			byID = append(byID, g)
		case g.Name == ref:
			byName = append(byName, g)
		}
	}
	switch {
	case len(byName) == 1 && len(byID) == 0:
		return byName[0], nil
	case len(byID) == 1 && len(byName) == 0:
		return byID[0], nil
	case len(byName)+len(byID) > 1:
		return nil, fmt.Errorf("%q matches more than one group; use the group ID", ref)
	}
	return nil, fmt.Errorf("%w %q (see 'banyan group list')", ErrNoGroup, ref)
}

// uniqueName returns name, or name with a number if another group has it.
func (gs groups) uniqueName(name string) string {
	for i := 2; ; i++ {
		n := fmt.Sprintf("%s (%d)", name, i)
		if _, err := gs.find(n); err != nil {
			return n
		}
	}
}
