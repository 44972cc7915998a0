package moments

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/banyan-mesh/banyan/node/api"
)

// Client is the moments part of the API client.
type Client struct{ c *api.Client }

// NewClient returns the moments calls of c.
func NewClient(c *api.Client) Client { return Client{c} }

func momentPath(id, rest string) string { return "/v1/moments/" + url.PathEscape(id) + rest }

// Post shares a moment with the contacts.
func (c Client) Post(ctx context.Context, in NewMoment) (*Info, error) {
	var out Info
	return &out, c.c.Do(ctx, http.MethodPost, "/v1/moments", in, &out)
}

// Feed returns a page of the feed, newest first; before is a previous
// page's Next, or empty for the newest.
func (c Client) Feed(ctx context.Context, limit int, before string) (*Feed, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if before != "" {
		q.Set("before", before)
	}
	var out Feed
	return &out, c.c.Do(ctx, http.MethodGet, "/v1/moments?"+q.Encode(), nil, &out)
}

// Moment returns one moment.
func (c Client) Moment(ctx context.Context, id string) (*Info, error) {
	var out Info
	return &out, c.c.Do(ctx, http.MethodGet, momentPath(id, ""), nil, &out)
}

// Like likes a moment, or with like false takes the like back.
func (c Client) Like(ctx context.Context, id string, like bool) (*Info, error) {
	var out Info
	return &out, c.c.Do(ctx, http.MethodPost, momentPath(id, "/like"), LikeIn{Like: like}, &out)
}

// Comment comments on a moment.
func (c Client) Comment(ctx context.Context, id, text string) (*Info, error) {
	var out Info
	return &out, c.c.Do(ctx, http.MethodPost, momentPath(id, "/comments"), CommentIn{Text: text}, &out)
}

// Delete deletes one of the user's own moments.
func (c Client) Delete(ctx context.Context, id string) error {
	return c.c.Do(ctx, http.MethodDelete, momentPath(id, ""), nil, nil)
}

// MarkRead marks the feed read up to cursor (everything when empty).
func (c Client) MarkRead(ctx context.Context, cursor string) error {
	return c.c.Do(ctx, http.MethodPost, "/v1/moments/read", MarkReadIn{Cursor: cursor}, nil)
}
