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
	"os"
	"strconv"
	"strings"
	"time"
)

// Client talks to a node's local API. Features add their calls on top of
// Do.
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

// Do sends in (if not nil) as JSON to path and decodes the answer into out
// (if not nil). An error answer is a *StatusError.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}

// Bytes gets path and returns the answer's body as it is (a PNG, a CSV).
func (c *Client) Bytes(ctx context.Context, path string) ([]byte, error) {
	resp, err := c.send(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// Copy gets path and writes the answer's body to w as it comes (an
// export too large to hold).
func (c *Client) Copy(ctx context.Context, path string, w io.Writer) error {
	resp, err := c.send(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	return err
}

// send sends a request and turns an error answer into a *StatusError.
func (c *Client) send(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		var e Error
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return nil, &StatusError{Status: resp.StatusCode, Message: e.Error}
	}
	return resp, nil
}

// Node describes the node.
func (c *Client) Node(ctx context.Context) (*Node, error) {
	var n Node
	return &n, c.Do(ctx, http.MethodGet, "/v1/node", nil, &n)
}

// Check reads and checks the node's whole store, now.
func (c *Client) Check(ctx context.Context, req CheckRequest) (*Check, error) {
	var ch Check
	return &ch, c.Do(ctx, http.MethodPost, "/v1/node/check", req, &ch)
}

// Peers lists connected peers.
func (c *Client) Peers(ctx context.Context) ([]Peer, error) {
	var p []Peer
	return p, c.Do(ctx, http.MethodGet, "/v1/peers", nil, &p)
}

// Events streams events after since (0: from the beginning of this node's
// history) to fn until ctx is done, fn returns an error, or the connection
// drops. It returns the last sequence number delivered, so a caller can
// resume.
func (c *Client) Events(ctx context.Context, since uint64, fn func(Event) error) (uint64, error) {
	resp, err := c.send(ctx, http.MethodGet, "/v1/events?since="+strconv.FormatUint(since, 10), nil)
	if err != nil {
		return since, err
	}
	defer resp.Body.Close()
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
