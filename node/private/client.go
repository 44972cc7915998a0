package private

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/banyan-mesh/banyan/node/api"
)

// Client is the private-messaging part of the API client.
type Client struct{ c *api.Client }

// NewClient returns the private-messaging calls of c.
func NewClient(c *api.Client) Client { return Client{c} }

func contactPath(contact, rest string) string {
	return "/v1/contacts/" + url.PathEscape(contact) + rest
}

// Contacts lists contacts.
func (c Client) Contacts(ctx context.Context) ([]ContactInfo, error) {
	var out []ContactInfo
	return out, c.c.Do(ctx, http.MethodGet, "/v1/contacts", nil, &out)
}

// AddContact adds a contact by code or nearby peer ID and sends them a
// contact request.
func (c Client) AddContact(ctx context.Context, in AddContact) (*ContactInfo, error) {
	var out ContactInfo
	return &out, c.c.Do(ctx, http.MethodPost, "/v1/contacts", in, &out)
}

// Code returns this node's contact code.
func (c Client) Code(ctx context.Context) (*CodeInfo, error) {
	var out CodeInfo
	return &out, c.c.Do(ctx, http.MethodGet, "/v1/contacts/invite", nil, &out)
}

// Accept accepts a contact request.
func (c Client) Accept(ctx context.Context, contact string) (*ContactInfo, error) {
	var out ContactInfo
	return &out, c.c.Do(ctx, http.MethodPost, contactPath(contact, "/accept"), nil, &out)
}

// Block blocks a contact: their messages are dropped.
func (c Client) Block(ctx context.Context, contact string) (*ContactInfo, error) {
	var out ContactInfo
	return &out, c.c.Do(ctx, http.MethodPost, contactPath(contact, "/block"), nil, &out)
}

// Unblock gives a blocked contact back the state it had.
func (c Client) Unblock(ctx context.Context, contact string) (*ContactInfo, error) {
	var out ContactInfo
	return &out, c.c.Do(ctx, http.MethodPost, contactPath(contact, "/unblock"), nil, &out)
}

// Remove forgets a contact and deletes the conversation from this node.
func (c Client) Remove(ctx context.Context, contact string) error {
	return c.c.Do(ctx, http.MethodDelete, contactPath(contact, ""), nil, nil)
}

// SetNickname names a contact.
func (c Client) SetNickname(ctx context.Context, contact, nickname string) (*ContactInfo, error) {
	var out ContactInfo
	return &out, c.c.Do(ctx, http.MethodPut, contactPath(contact, "/nickname"), SetNickname{Nickname: nickname}, &out)
}

// Nearby lists connected peers that could be added as contacts.
func (c Client) Nearby(ctx context.Context) ([]Nearby, error) {
	var out []Nearby
	return out, c.c.Do(ctx, http.MethodGet, "/v1/nearby", nil, &out)
}

// Send sends a private message. It returns once the sealed message is
// stored durably on this node.
func (c Client) Send(ctx context.Context, contact, text string) (*DMInfo, error) {
	var out DMInfo
	return &out, c.c.Do(ctx, http.MethodPost, "/v1/dm/"+url.PathEscape(contact), SendMessage{Text: text}, &out)
}

// Conversation returns a page of a conversation.
func (c Client) Conversation(ctx context.Context, contact string, limit int, before string) (*DMPage, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if before != "" {
		q.Set("before", before)
	}
	var out DMPage
	return &out, c.c.Do(ctx, http.MethodGet, "/v1/dm/"+url.PathEscape(contact)+"?"+q.Encode(), nil, &out)
}

// MarkRead marks a conversation read (and sends read receipts unless they
// are turned off).
func (c Client) MarkRead(ctx context.Context, contact string) error {
	return c.c.Do(ctx, http.MethodPost, "/v1/dm/"+url.PathEscape(contact)+"/read", nil, nil)
}
