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

// groups is the table of group records. The read mark, which moves with
// every message the user sends, is kept in a table of its own (read; key:
// the group ID, value: the cursor) and not in the vault, every write of
// which rewrites the vault's file with fsyncs; a record's ReadUpTo is
// the later of the two.
type groups struct{ t, read *store.Table }

func (gs groups) put(g *Group) error { return store.PutJSON(gs.t, g.ID[:], g) }

func (gs groups) get(id [crypto.GroupIDSize]byte) (*Group, error) {
	g, err := store.GetJSON[Group](gs.t, id[:])
	if err != nil {
		return nil, fmt.Errorf("group: %w", err)
	}
	return g, gs.withRead(g)
}

func (gs groups) list() ([]*Group, error) {
	all, err := store.ListJSON[Group](gs.t, nil)
	if err != nil {
		return nil, err
	}
	for _, g := range all {
		if err := gs.withRead(g); err != nil {
			return nil, err
		}
	}
	return all, nil
}

// withRead sets g's read mark to the one in the read table, if later.
func (gs groups) withRead(g *Group) error {
	v, err := gs.read.Get(g.ID[:])
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("group: %w", err)
	}
	c, err := store.ParseCursor(string(v))
	if err != nil {
		return nil
	}
	if cur, err := store.ParseCursor(g.ReadUpTo); err != nil || c.Compare(cur) > 0 {
		g.ReadUpTo = c.String()
	}
	return nil
}

// setRead stores g's read mark.
func (gs groups) setRead(g *Group) error { return gs.read.Put(g.ID[:], []byte(g.ReadUpTo)) }

func (gs groups) delete(id [crypto.GroupIDSize]byte) error {
	return errors.Join(gs.t.Delete(id[:]), gs.read.Delete(id[:]))
}

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
		case len(ref) >= event.MinPrefix && strings.HasPrefix(id, ref):
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
