package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Client talks to a node's local API.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// NewClient returns a client for the API at addr (host:port) with token.
func NewClient(addr, token string) *Client {
	return &Client{base: "http://" + addr, token: token, hc: &http.Client{}}
}

// ErrNoNode reports that no node is running on a data directory.
var ErrNoNode = errors.New("no banyan node is running")

// Dial returns a client for the node running on the data directory whose
// api.addr and api.token files are given, after checking that it answers.
func Dial(ctx context.Context, addrFile, tokenFile string) (*Client, error) {
	addr, err := os.ReadFile(addrFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoNode
	}
	if err != nil {
		return nil, fmt.Errorf("read api address: %w", err)
	}
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, fmt.Errorf("read api token: %w", err)
	}
	c := NewClient(strings.TrimSpace(string(addr)), strings.TrimSpace(string(token)))
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.Node(ctx); err != nil {
		var ne *net.OpError
		if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
			return nil, ErrNoNode
		}
		return nil, err
	}
	return c, nil
}

// StatusError is an error answer from the API.
type StatusError struct {
	Status  int
	Message string
}

func (e *StatusError) Error() string { return e.Message }

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e Error
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return &StatusError{Status: resp.StatusCode, Message: e.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}

func groupPath(group string, rest string) string {
	return "/v1/groups/" + url.PathEscape(group) + rest
}

// Node describes the node.
func (c *Client) Node(ctx context.Context) (*Node, error) {
	var n Node
	return &n, c.do(ctx, http.MethodGet, "/v1/node", nil, &n)
}

// Peers lists connected peers.
func (c *Client) Peers(ctx context.Context) ([]Peer, error) {
	var p []Peer
	return p, c.do(ctx, http.MethodGet, "/v1/peers", nil, &p)
}

// Groups lists groups.
func (c *Client) Groups(ctx context.Context) ([]Group, error) {
	var g []Group
	return g, c.do(ctx, http.MethodGet, "/v1/groups", nil, &g)
}

// CreateGroup creates a group.
func (c *Client) CreateGroup(ctx context.Context, name string) (*Group, error) {
	var g Group
	return &g, c.do(ctx, http.MethodPost, "/v1/groups", CreateGroup{Name: name}, &g)
}

// JoinGroup joins a group with an invite code or link.
func (c *Client) JoinGroup(ctx context.Context, invite string) (*Group, error) {
	var g Group
	return &g, c.do(ctx, http.MethodPost, "/v1/groups/join", JoinGroup{Invite: invite}, &g)
}

// Invite returns an invite to a group.
func (c *Client) Invite(ctx context.Context, group string) (*Invite, error) {
	var in Invite
	return &in, c.do(ctx, http.MethodGet, groupPath(group, "/invite"), nil, &in)
}

// LeaveGroup leaves a group and deletes its history from this node.
func (c *Client) LeaveGroup(ctx context.Context, group string) error {
	return c.do(ctx, http.MethodDelete, groupPath(group, ""), nil, nil)
}

// Send sends a message to a group. It returns once the message is stored
// durably on this node.
func (c *Client) Send(ctx context.Context, group, text string) (*Message, error) {
	var m Message
	return &m, c.do(ctx, http.MethodPost, groupPath(group, "/messages"), SendMessage{Text: text}, &m)
}

// History returns a page of a group's history; before is a cursor from a
// previous page's Next, or empty for the newest messages.
func (c *Client) History(ctx context.Context, group string, limit int, before string) (*Page, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if before != "" {
		q.Set("before", before)
	}
	var p Page
	return &p, c.do(ctx, http.MethodGet, groupPath(group, "/messages?"+q.Encode()), nil, &p)
}

// MarkRead marks a group read up to cursor (everything when empty).
func (c *Client) MarkRead(ctx context.Context, group, cursor string) error {
	return c.do(ctx, http.MethodPost, groupPath(group, "/read"), MarkRead{Cursor: cursor}, nil)
}

// SetRetention bounds how much of a group's history the node keeps.
func (c *Client) SetRetention(ctx context.Context, group string, r SetRetention) (*Group, error) {
	var g Group
	return &g, c.do(ctx, http.MethodPut, groupPath(group, "/retention"), r, &g)
}

func contactPath(contact, rest string) string {
	return "/v1/contacts/" + url.PathEscape(contact) + rest
}

// Contacts lists contacts.
func (c *Client) Contacts(ctx context.Context) ([]Contact, error) {
	var out []Contact
	return out, c.do(ctx, http.MethodGet, "/v1/contacts", nil, &out)
}

// AddContact adds a contact by code or nearby peer ID and sends them a
// contact request.
func (c *Client) AddContact(ctx context.Context, in AddContact) (*Contact, error) {
	var out Contact
	return &out, c.do(ctx, http.MethodPost, "/v1/contacts", in, &out)
}

// ContactInvite returns this node's contact code.
func (c *Client) ContactInvite(ctx context.Context) (*ContactInvite, error) {
	var out ContactInvite
	return &out, c.do(ctx, http.MethodGet, "/v1/contacts/invite", nil, &out)
}

// AcceptContact accepts a contact request.
func (c *Client) AcceptContact(ctx context.Context, contact string) (*Contact, error) {
	var out Contact
	return &out, c.do(ctx, http.MethodPost, contactPath(contact, "/accept"), nil, &out)
}

// BlockContact blocks a contact: their messages are dropped.
func (c *Client) BlockContact(ctx context.Context, contact string) (*Contact, error) {
	var out Contact
	return &out, c.do(ctx, http.MethodPost, contactPath(contact, "/block"), nil, &out)
}

// SetNickname names a contact.
func (c *Client) SetNickname(ctx context.Context, contact, nickname string) (*Contact, error) {
	var out Contact
	return &out, c.do(ctx, http.MethodPut, contactPath(contact, "/nickname"), SetNickname{Nickname: nickname}, &out)
}

// Nearby lists connected peers that could be added as contacts.
func (c *Client) Nearby(ctx context.Context) ([]Nearby, error) {
	var out []Nearby
	return out, c.do(ctx, http.MethodGet, "/v1/nearby", nil, &out)
}

// SendDM sends a private message. It returns once the sealed message is
// stored durably on this node.
func (c *Client) SendDM(ctx context.Context, contact, text string) (*DM, error) {
	var out DM
	return &out, c.do(ctx, http.MethodPost, "/v1/dm/"+url.PathEscape(contact), SendMessage{Text: text}, &out)
}

// DMs returns a page of a conversation.
func (c *Client) DMs(ctx context.Context, contact string, limit int, before string) (*DMPage, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if before != "" {
		q.Set("before", before)
	}
	var out DMPage
	return &out, c.do(ctx, http.MethodGet, "/v1/dm/"+url.PathEscape(contact)+"?"+q.Encode(), nil, &out)
}

// MarkDMsRead marks a conversation read (and sends read receipts unless
// they are turned off).
func (c *Client) MarkDMsRead(ctx context.Context, contact string) error {
	return c.do(ctx, http.MethodPost, "/v1/dm/"+url.PathEscape(contact)+"/read", nil, nil)
}

// WalletAcceptCap sets what the node accepts from an unconfirmed payer
// (or, with no payer, from anyone without a cap of their own).
func (c *Client) WalletAcceptCap(ctx context.Context, in WalletAcceptCap) (*Wallet, error) {
	var out Wallet
	return &out, c.do(ctx, http.MethodPut, "/v1/wallet/accept-cap", in, &out)
}

// Events streams events after since (0: from the beginning of this node's
// history) to fn until ctx is done, fn returns an error, or the connection
// drops. It returns the last sequence number delivered, so a caller can
// resume.
func (c *Client) Events(ctx context.Context, since uint64, fn func(Event) error) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/events?since="+strconv.FormatUint(since, 10), nil)
	if err != nil {
		return since, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.hc.Do(req)
	if err != nil {
		return since, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return since, &StatusError{Status: resp.StatusCode, Message: strings.TrimSpace(string(b))}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var data []byte
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case bytes.HasPrefix(line, []byte("data: ")):
			data = append(data, line[len("data: "):]...)
		case len(line) == 0 && len(data) > 0:
			var ev Event
			if err := json.Unmarshal(data, &ev); err != nil {
				return since, fmt.Errorf("decode event: %w", err)
			}
			data = data[:0]
			since = ev.Seq
			if err := fn(ev); err != nil {
				return since, err
			}
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return since, err
	}
	return since, ctx.Err()
}

// Wallet returns this node's wallet account.
func (c *Client) Wallet(ctx context.Context) (*Wallet, error) {
	var v Wallet
	return &v, c.do(ctx, http.MethodGet, "/v1/wallet", nil, &v)
}

// WalletHistory returns this node's statement.
func (c *Client) WalletHistory(ctx context.Context) ([]WalletLine, error) {
	var v []WalletLine
	return v, c.do(ctx, http.MethodGet, "/v1/wallet/history", nil, &v)
}

// WalletCSV returns this node's statement as CSV.
func (c *Client) WalletCSV(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/wallet/history?csv=1", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		var e Error
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return nil, &StatusError{Status: resp.StatusCode, Message: e.Error}
	}
	return b, nil
}

// WalletPay pays an account or contact.
func (c *Client) WalletPay(ctx context.Context, in WalletPay) (*WalletEntry, error) {
	var v WalletEntry
	return &v, c.do(ctx, http.MethodPost, "/v1/wallet/pay", in, &v)
}

// WalletRequest makes a payment request to this node.
func (c *Client) WalletRequest(ctx context.Context, in WalletRequestIn) (*WalletRequest, error) {
	var v WalletRequest
	return &v, c.do(ctx, http.MethodPost, "/v1/wallet/requests", in, &v)
}

// WalletPayRequest pays a payment request link.
func (c *Client) WalletPayRequest(ctx context.Context, link string) (*WalletEntry, error) {
	var v WalletEntry
	return &v, c.do(ctx, http.MethodPost, "/v1/wallet/pay-request", WalletPayRequest{Link: link}, &v)
}

// WalletRefund refunds a payment received.
func (c *Client) WalletRefund(ctx context.Context, in WalletRefund) (*WalletEntry, error) {
	var v WalletEntry
	return &v, c.do(ctx, http.MethodPost, "/v1/wallet/refund", in, &v)
}

// WalletLimit grants an account a credit limit (guarantors only).
func (c *Client) WalletLimit(ctx context.Context, in WalletLimit) (*WalletEntry, error) {
	var v WalletEntry
	return &v, c.do(ctx, http.MethodPost, "/v1/wallet/limits", in, &v)
}

// WalletEnvelope sends a red envelope to a group.
func (c *Client) WalletEnvelope(ctx context.Context, in WalletEnvelopeIn) (*WalletEntry, error) {
	var v WalletEntry
	return &v, c.do(ctx, http.MethodPost, "/v1/wallet/envelopes", in, &v)
}

// WalletClaim claims a share of a red envelope.
func (c *Client) WalletClaim(ctx context.Context, envelope string) (*WalletEntry, error) {
	var v WalletEntry
	return &v, c.do(ctx, http.MethodPost, "/v1/wallet/envelopes/"+url.PathEscape(envelope)+"/claim", nil, &v)
}

// WalletFrauds lists the accounts that forked their chains.
func (c *Client) WalletFrauds(ctx context.Context) ([]WalletFraud, error) {
	var v []WalletFraud
	return v, c.do(ctx, http.MethodGet, "/v1/wallet/frauds", nil, &v)
}
