package profile

import (
	"context"
	"net/http"
	"net/url"

	"github.com/banyan-mesh/banyan/node/api"
)

// Client is the profile part of the API client.
type Client struct{ c *api.Client }

// NewClient returns the profile calls of c.
func NewClient(c *api.Client) Client { return Client{c} }

// Mine returns this node's profile.
func (c Client) Mine(ctx context.Context) (*Info, error) {
	var out Info
	return &out, c.c.Do(ctx, http.MethodGet, "/v1/profile", nil, &out)
}

// Set changes this node's profile.
func (c Client) Set(ctx context.Context, in SetProfile) (*Info, error) {
	var out Info
	return &out, c.c.Do(ctx, http.MethodPut, "/v1/profile", in, &out)
}

// Of returns the profile of a person, by peer ID or contact nickname.
func (c Client) Of(ctx context.Context, person string) (*Info, error) {
	var out Info
	return &out, c.c.Do(ctx, http.MethodGet, "/v1/profiles/"+url.PathEscape(person), nil, &out)
}
