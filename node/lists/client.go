package lists

import (
	"context"
	"net/http"
	"net/url"

	"github.com/banyan-mesh/banyan/node/api"
)

// Client is the lists part of the API client.
type Client struct{ c *api.Client }

// NewClient returns the lists calls of c.
func NewClient(c *api.Client) Client { return Client{c} }

func listsPath(group string, rest ...string) string {
	p := "/v1/groups/" + url.PathEscape(group) + "/lists"
	for _, r := range rest {
		p += "/" + url.PathEscape(r)
	}
	return p
}

// Lists returns a group's lists.
func (c Client) Lists(ctx context.Context, group string) ([]ListInfo, error) {
	var out []ListInfo
	return out, c.c.Do(ctx, http.MethodGet, listsPath(group), nil, &out)
}

// Create creates a list in a group; kind is "todo" or "shopping".
func (c Client) Create(ctx context.Context, group, title, kind string) (*ListInfo, error) {
	var out ListInfo
	return &out, c.c.Do(ctx, http.MethodPost, listsPath(group), CreateList{Title: title, Kind: kind}, &out)
}

// List returns one list.
func (c Client) List(ctx context.Context, group, list string) (*ListInfo, error) {
	var out ListInfo
	return &out, c.c.Do(ctx, http.MethodGet, listsPath(group, list), nil, &out)
}

// Delete deletes a list.
func (c Client) Delete(ctx context.Context, group, list string) error {
	return c.c.Do(ctx, http.MethodDelete, listsPath(group, list), nil, nil)
}

// Add adds an item at the end of a list.
func (c Client) Add(ctx context.Context, group, list, text string) (*ListInfo, error) {
	var out ListInfo
	return &out, c.c.Do(ctx, http.MethodPost, listsPath(group, list, "items"), AddItem{Text: text}, &out)
}

// Edit changes an item's text, done mark or place.
func (c Client) Edit(ctx context.Context, group, list, item string, e EditItem) (*ListInfo, error) {
	var out ListInfo
	return &out, c.c.Do(ctx, http.MethodPatch, listsPath(group, list, "items", item), e, &out)
}

// Remove removes an item.
func (c Client) Remove(ctx context.Context, group, list, item string) (*ListInfo, error) {
	var out ListInfo
	return &out, c.c.Do(ctx, http.MethodDelete, listsPath(group, list, "items", item), nil, &out)
}
