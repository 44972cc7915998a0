package lists

import (
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/content"
	"github.com/banyan-mesh/banyan/node/lists/crdt"
	"github.com/banyan-mesh/banyan/node/people"
	"github.com/banyan-mesh/banyan/store"
)

// ListInfo is a list as the API shows it.
type ListInfo struct {
	ID        string     `json:"id"`
	GroupID   string     `json:"group_id"`
	GroupName string     `json:"group_name"`
	Title     string     `json:"title"`
	Kind      string     `json:"kind"` // "todo" or "shopping"
	Items     []ItemInfo `json:"items"`
}

// ItemInfo is an item of a list: N is its place, from 1.
type ItemInfo struct {
	ID   string `json:"id"`
	N    int    `json:"n"`
	Text string `json:"text"`
	Done bool   `json:"done"`
}

// CreateList is the body of POST /v1/groups/{group}/lists; Kind is "todo"
// (the default) or "shopping".
type CreateList struct {
	Title string `json:"title"`
	Kind  string `json:"kind,omitempty"`
}

// AddItem is the body of POST /v1/groups/{group}/lists/{list}/items.
type AddItem struct {
	Text string `json:"text"`
}

// EditItem is the body of PATCH /v1/groups/{group}/lists/{list}/items/{item}:
// the fields to change. Position is the item's new place, from 1.
type EditItem struct {
	Text     *string `json:"text,omitempty"`
	Done     *bool   `json:"done,omitempty"`
	Position *int    `json:"position,omitempty"`
}

// ListEvent is an edit of a list, as the event stream shows it.
type ListEvent struct {
	GroupID   string        `json:"group_id"`
	GroupName string        `json:"group_name"`
	ListID    string        `json:"list_id"`
	List      string        `json:"list"` // its title now
	ItemID    string        `json:"item_id,omitempty"`
	Item      string        `json:"item,omitempty"` // its text now
	What      string        `json:"what"`
	By        people.Person `json:"by"`
	Mine      bool          `json:"mine"`
	Time      time.Time     `json:"time"`
}

// StreamType is the type of list edits on the event stream.
const StreamType = "list"

var kinds = map[string]crdt.Kind{"todo": crdt.Todo, "shopping": crdt.Shopping}

func kindName(k crdt.Kind) string {
	if k == crdt.Shopping {
		return "shopping"
	}
	return "todo"
}

// Routes registers the lists API:
//
//	GET    /v1/groups/{group}/lists                      []ListInfo
//	POST   /v1/groups/{group}/lists                      CreateList -> ListInfo
//	GET    /v1/groups/{group}/lists/{list}               ListInfo
//	DELETE /v1/groups/{group}/lists/{list}               delete the list
//	POST   /v1/groups/{group}/lists/{list}/items         AddItem -> ListInfo
//	PATCH  /v1/groups/{group}/lists/{list}/items/{item}  EditItem -> ListInfo
//	DELETE /v1/groups/{group}/lists/{list}/items/{item}  ListInfo
//
// {list} is a list's ID, a unique prefix of it of at least 6 hex digits,
// or its unique title; {item} an item's place (from 1), ID or prefix.
func (s *Service) Routes(srv *api.Server) {
	srv.Handle("GET /v1/groups/{group}/lists", api.Get(srv, func(r *http.Request) ([]ListInfo, error) {
		g, err := s.request(r)
		if err != nil {
			return nil, err
		}
		ls, err := s.Lists(g.id)
		if err != nil {
			return nil, err
		}
		out := []ListInfo{}
		for _, l := range ls {
			out = append(out, g.info(l))
		}
		return out, nil
	}))
	srv.Handle("POST /v1/groups/{group}/lists", api.Post(srv, func(r *http.Request, in CreateList) (*ListInfo, error) {
		g, err := s.request(r)
		if err != nil {
			return nil, err
		}
		if err := content.CheckName("list title", in.Title, MaxTitle); err != nil {
			return nil, api.BadRequest(err)
		}
		k, ok := kinds[cmp.Or(in.Kind, "todo")]
		if !ok {
			return nil, api.BadRequest(fmt.Errorf("list kind %q: want todo or shopping", in.Kind))
		}
		if ls, err := s.Lists(g.id); err == nil && slices.ContainsFunc(ls, func(l crdt.List) bool { return l.Title == in.Title }) {
			return nil, api.BadRequest(fmt.Errorf("a list named %q already exists in this group; choose another title", in.Title))
		}
		id := NewID()
		if err := s.Write(r.Context(), g.id, crdt.Op{Target: id, Text: &in.Title, Kind: &k}); err != nil {
			return nil, err
		}
		return s.show(g, id)
	}))
	srv.Handle("GET /v1/groups/{group}/lists/{list}", api.Get(srv, func(r *http.Request) (*ListInfo, error) {
		g, l, err := s.list(r)
		if err != nil {
			return nil, err
		}
		info := g.info(l)
		return &info, nil
	}))
	srv.Handle("DELETE /v1/groups/{group}/lists/{list}", api.Get(srv, func(r *http.Request) (api.Empty, error) {
		g, l, err := s.list(r)
		if err != nil {
			return api.Empty{}, err
		}
		return api.Empty{}, s.Write(r.Context(), g.id, crdt.Op{Target: l.ID, Delete: true})
	}))
	srv.Handle("POST /v1/groups/{group}/lists/{list}/items", api.Post(srv, func(r *http.Request, in AddItem) (*ListInfo, error) {
		g, l, err := s.list(r)
		if err != nil {
			return nil, err
		}
		if err := content.CheckName("item text", in.Text, MaxText); err != nil {
			return nil, api.BadRequest(err)
		}
		var last string
		if n := len(l.Items); n > 0 {
			last = l.Items[n-1].Pos
		}
		pos, err := crdt.Between(last, "")
		if err != nil {
			return nil, err
		}
		if err := s.Write(r.Context(), g.id, crdt.Op{Target: NewID(), List: &l.ID, Text: &in.Text, Pos: &pos}); err != nil {
			return nil, err
		}
		return s.show(g, l.ID)
	}))
	srv.Handle("PATCH /v1/groups/{group}/lists/{list}/items/{item}", api.Post(srv, func(r *http.Request, in EditItem) (*ListInfo, error) {
		g, l, i, err := s.item(r)
		if err != nil {
			return nil, err
		}
		op := crdt.Op{Target: l.Items[i].ID, List: &l.ID, Text: in.Text, Done: in.Done}
		if in.Text != nil {
			if err := content.CheckName("item text", *in.Text, MaxText); err != nil {
				return nil, api.BadRequest(err)
			}
		}
		if in.Position != nil {
			pos, err := moveTo(l.Items, i, *in.Position)
			if err != nil {
				return nil, api.BadRequest(err)
			}
			op.Pos = &pos
		}
		if op.Text == nil && op.Done == nil && op.Pos == nil {
			return nil, api.BadRequest(errors.New("nothing to change: give text, done or position"))
		}
		if err := s.Write(r.Context(), g.id, op); err != nil {
			return nil, err
		}
		return s.show(g, l.ID)
	}))
	srv.Handle("DELETE /v1/groups/{group}/lists/{list}/items/{item}", api.Get(srv, func(r *http.Request) (*ListInfo, error) {
		g, l, i, err := s.item(r)
		if err != nil {
			return nil, err
		}
		if err := s.Write(r.Context(), g.id, crdt.Op{Target: l.Items[i].ID, List: &l.ID, Delete: true}); err != nil {
			return nil, err
		}
		return s.show(g, l.ID)
	}))
}

// moveTo returns a position that puts item i at place n (from 1) of items.
func moveTo(items []crdt.Item, i, n int) (string, error) {
	if n < 1 || n > len(items) {
		return "", fmt.Errorf("position %d: the list has places 1 to %d", n, len(items))
	}
	rest := slices.Delete(slices.Clone(items), i, i+1)
	var a, b string
	if n > 1 {
		a = rest[n-2].Pos
	}
	if n-1 < len(rest) {
		b = rest[n-1].Pos
	}
	if a == b {
		// Two items share a position (concurrent inserts): step past.
		b = ""
		for _, it := range rest[n-1:] {
			if it.Pos > a {
				b = it.Pos
				break
			}
		}
	}
	return crdt.Between(a, b)
}

// groupRef is the group of a request.
type groupRef struct{ id, name string }

func (g groupRef) info(l crdt.List) ListInfo {
	out := ListInfo{ID: hex.EncodeToString(l.ID[:]), GroupID: g.id, GroupName: g.name, Title: l.Title, Kind: kindName(l.Kind), Items: []ItemInfo{}}
	for i, it := range l.Items {
		out.Items = append(out.Items, ItemInfo{ID: hex.EncodeToString(it.ID[:]), N: i + 1, Text: it.Text, Done: it.Done})
	}
	return out
}

func (s *Service) request(r *http.Request) (groupRef, error) {
	id, name, err := s.groups.Lookup(r.PathValue("group"))
	return groupRef{id, name}, err
}

// show returns list id of group g as it reads now.
func (s *Service) show(g groupRef, id crdt.ID) (*ListInfo, error) {
	ls, err := s.Lists(g.id)
	if err != nil {
		return nil, err
	}
	for _, l := range ls {
		if l.ID == id {
			info := g.info(l)
			return &info, nil
		}
	}
	return nil, api.NotFound(fmt.Errorf("%w (it was deleted meanwhile)", ErrNoList))
}

// list resolves the {group} and {list} of a request.
func (s *Service) list(r *http.Request) (groupRef, crdt.List, error) {
	g, err := s.request(r)
	if err != nil {
		return g, crdt.List{}, err
	}
	ls, err := s.Lists(g.id)
	if err != nil {
		return g, crdt.List{}, err
	}
	i, err := find(r.PathValue("list"), ls, func(l crdt.List) (crdt.ID, string) { return l.ID, l.Title })
	if err != nil {
		return g, crdt.List{}, err
	}
	return g, ls[i], nil
}

// item resolves the {group}, {list} and {item} of a request.
func (s *Service) item(r *http.Request) (groupRef, crdt.List, int, error) {
	g, l, err := s.list(r)
	if err != nil {
		return g, l, 0, err
	}
	ref := r.PathValue("item")
	if n, err := strconv.Atoi(ref); err == nil && len(ref) < 6 {
		if n < 1 || n > len(l.Items) {
			return g, l, 0, api.NotFound(fmt.Errorf("%w item %d: the list has items 1 to %d", ErrNoList, n, len(l.Items)))
		}
		return g, l, n - 1, nil
	}
	i, err := find(ref, l.Items, func(it crdt.Item) (crdt.ID, string) { return it.ID, it.Text })
	return g, l, i, err
}

// find resolves ref among xs: an ID in hex, a unique prefix of at least 6
// hex digits, or a unique name.
func find[T any](ref string, xs []T, key func(T) (crdt.ID, string)) (int, error) {
	var byID, byName []int
	for i, x := range xs {
		id, name := key(x)
		h := hex.EncodeToString(id[:])
		switch {
		case h == ref:
			return i, nil
		case len(ref) >= event.MinPrefix && strings.HasPrefix(h, ref):
			byID = append(byID, i)
		case name == ref:
			byName = append(byName, i)
		}
	}
	switch {
	case len(byID) == 1 && len(byName) == 0:
		return byID[0], nil
	case len(byName) == 1 && len(byID) == 0:
		return byName[0], nil
	case len(byID)+len(byName) > 1:
		return 0, api.BadRequest(fmt.Errorf("%q matches more than one; use the ID", ref))
	}
	return 0, api.NotFound(fmt.Errorf("%w %q", ErrNoList, ref))
}

// Render shows a stored list operation on the event stream.
func (s *Service) Render(a store.Arrival) (api.Event, bool) {
	if a.Event == nil || a.Event.Kind != Kind {
		return api.Event{}, false
	}
	gl := s.lists(a.Event.ScopeID())
	if gl == nil {
		return api.Event{}, false
	}
	op, err := s.open(gl, a.Event)
	if err != nil {
		return api.Event{}, false
	}
	_, name, err := s.groups.Lookup(gl.groupID)
	if err != nil {
		return api.Event{}, false
	}
	out := &ListEvent{
		GroupID: gl.groupID, GroupName: name, What: describe(op),
		By: s.people.Key(a.Event.Author), Mine: a.Event.SameAuthor(s.id.PublicKey()),
		Time: time.UnixMilli(a.Event.Time).UTC(),
	}
	listID := op.Target
	if op.List != nil {
		listID = *op.List
		out.ItemID = hex.EncodeToString(op.Target[:])
	}
	out.ListID = hex.EncodeToString(listID[:])
	// Constant work per event, however long the lists: the stream
	// replays every edit.
	gl.mu.Lock()
	out.List, _ = gl.doc.Text(listID)
	if op.List != nil {
		out.Item, _ = gl.doc.Text(op.Target)
	}
	gl.mu.Unlock()
	if op.Text != nil && op.List != nil && out.Item == "" {
		out.Item = *op.Text
	}
	return api.Event{Seq: a.Seq, Type: StreamType, Data: out}, true
}

// describe says what an operation did, in words.
func describe(op crdt.Op) string {
	switch {
	case op.List == nil && op.Delete:
		return "deleted the list"
	case op.List == nil && op.Kind != nil:
		return "created the list"
	case op.List == nil:
		return "renamed the list"
	case op.Delete:
		return "removed"
	case op.Pos != nil && op.Text != nil:
		return "added"
	case op.Done != nil && *op.Done:
		return "ticked"
	case op.Done != nil:
		return "unticked"
	case op.Text != nil:
		return "edited"
	}
	return "moved"
}
