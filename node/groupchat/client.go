package groupchat

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/banyan-mesh/banyan/node/api"
)

// Client is the group-chat part of the API client.
type Client struct{ c *api.Client }

// NewClient returns the group-chat calls of c.
func NewClient(c *api.Client) Client { return Client{c} }

func groupPath(group string, rest string) string {
	return "/v1/groups/" + url.PathEscape(group) + rest
}

// Groups lists groups.
func (c Client) Groups(ctx context.Context) ([]GroupInfo, error) {
	var g []GroupInfo
	return g, c.c.Do(ctx, http.MethodGet, "/v1/groups", nil, &g)
}

// Create creates a group.
func (c Client) Create(ctx context.Context, name string) (*GroupInfo, error) {
	var g GroupInfo
	return &g, c.c.Do(ctx, http.MethodPost, "/v1/groups", CreateGroup{Name: name}, &g)
}

// Join joins a group with an invite code or link.
func (c Client) Join(ctx context.Context, invite string) (*GroupInfo, error) {
	var g GroupInfo
	return &g, c.c.Do(ctx, http.MethodPost, "/v1/groups/join", JoinGroup{Invite: invite}, &g)
}

// Invite returns an invite to a group.
func (c Client) Invite(ctx context.Context, group string) (*InviteInfo, error) {
	var in InviteInfo
	return &in, c.c.Do(ctx, http.MethodGet, groupPath(group, "/invite"), nil, &in)
}

// Leave leaves a group and deletes its history from this node.
func (c Client) Leave(ctx context.Context, group string) error {
	return c.c.Do(ctx, http.MethodDelete, groupPath(group, ""), nil, nil)
}

// Send sends a message to a group. It returns once the message is stored
// durably on this node.
func (c Client) Send(ctx context.Context, group, text string) (*MessageInfo, error) {
	var m MessageInfo
	return &m, c.c.Do(ctx, http.MethodPost, groupPath(group, "/messages"), SendMessage{Text: text}, &m)
}

// History returns a page of a group's history; before is a cursor from a
// previous page's Next, or empty for the newest messages.
func (c Client) History(ctx context.Context, group string, limit int, before string) (*Page, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if before != "" {
		q.Set("before", before)
	}
	var p Page
	return &p, c.c.Do(ctx, http.MethodGet, groupPath(group, "/messages?"+q.Encode()), nil, &p)
}

// MarkRead marks a group read up to cursor (everything when empty).
func (c Client) MarkRead(ctx context.Context, group, cursor string) error {
	return c.c.Do(ctx, http.MethodPost, groupPath(group, "/read"), MarkReadIn{Cursor: cursor}, nil)
}

// SetRetention bounds how much of a group's history the node keeps.
func (c Client) SetRetention(ctx context.Context, group string, r SetRetention) (*GroupInfo, error) {
	var g GroupInfo
	return &g, c.c.Do(ctx, http.MethodPut, groupPath(group, "/retention"), r, &g)
}
