package events

import (
	"context"
	"net/http"
	"net/url"

	"github.com/banyan-mesh/banyan/node/api"
)

// Client is the events part of the API client.
type Client struct{ c *api.Client }

// NewClient returns the events calls of c.
func NewClient(c *api.Client) Client { return Client{c} }

// Events returns a group's events.
func (c Client) Events(ctx context.Context, group string) ([]EventInfo, error) {
	var out []EventInfo
	return out, c.c.Do(ctx, http.MethodGet, "/v1/groups/"+url.PathEscape(group)+"/events", nil, &out)
}

// Create posts an event in a group.
func (c Client) Create(ctx context.Context, group string, in CreateEvent) (*EventInfo, error) {
	var out EventInfo
	return &out, c.c.Do(ctx, http.MethodPost, "/v1/groups/"+url.PathEscape(group)+"/events", in, &out)
}

// CreateForContacts posts an event to one's contacts.
func (c Client) CreateForContacts(ctx context.Context, in CreateEvent) (*EventInfo, error) {
	var out EventInfo
	return &out, c.c.Do(ctx, http.MethodPost, "/v1/events", in, &out)
}

// Edit replaces an event one posted with a new version.
func (c Client) Edit(ctx context.Context, event string, in CreateEvent) (*EventInfo, error) {
	var out EventInfo
	return &out, c.c.Do(ctx, http.MethodPut, "/v1/schedule/"+url.PathEscape(event), in, &out)
}

// Schedule returns the upcoming events of every group.
func (c Client) Schedule(ctx context.Context) ([]EventInfo, error) {
	var out []EventInfo
	return out, c.c.Do(ctx, http.MethodGet, "/v1/schedule", nil, &out)
}

// RSVP answers an event: going, maybe or not-going.
func (c Client) RSVP(ctx context.Context, event, answer string) (*EventInfo, error) {
	var out EventInfo
	return &out, c.c.Do(ctx, http.MethodPost, "/v1/schedule/"+url.PathEscape(event)+"/rsvp", RSVPIn{Answer: answer}, &out)
}

// Cancel calls off an event one posted.
func (c Client) Cancel(ctx context.Context, event string) (*EventInfo, error) {
	var out EventInfo
	return &out, c.c.Do(ctx, http.MethodDelete, "/v1/schedule/"+url.PathEscape(event), nil, &out)
}
