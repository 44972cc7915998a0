package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/banyan-mesh/banyan/node/api"
)

type echo struct {
	N int `json:"n"`
}

func newServer(t *testing.T) (*httptest.Server, *api.Client) {
	t.Helper()
	s := api.NewServer(api.ServerOptions{Token: "secret"})
	s.Handle("GET /v1/things", api.Get(s, func(r *http.Request) ([]echo, error) { return nil, nil }))
	s.Handle("POST /v1/things", api.Post(s, func(r *http.Request, in echo) (*echo, error) {
		if in.N < 0 {
			return nil, api.BadRequest(errTest)
		}
		return &in, nil
	}))
	s.Handle("DELETE /v1/things/{id}", api.Get(s, func(r *http.Request) (api.Empty, error) { return api.Empty{}, nil }))
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return hs, api.NewClient(strings.TrimPrefix(hs.URL, "http://"), "secret")
}

var errTest = &api.StatusError{Status: 400, Message: "n must not be negative"}

func TestServerAnswersJSON(t *testing.T) {
	hs, c := newServer(t)
	ctx := context.Background()
	var list []echo
	if err := c.Do(ctx, http.MethodGet, "/v1/things", nil, &list); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("an empty list: %v, %v (want [], not null)", list, err)
	}
	var out echo
	if err := c.Do(ctx, http.MethodPost, "/v1/things", echo{N: 3}, &out); err != nil || out.N != 3 {
		t.Fatalf("post: %+v, %v", out, err)
	}
	if err := c.Do(ctx, http.MethodDelete, "/v1/things/x", nil, nil); err != nil {
		t.Fatalf("delete: %v", err)
	}
	for name, tc := range map[string]struct {
		method, path, token, body string
		status                    int
		says                      string
	}{
		"no token":      {"GET", "/v1/things", "", "", 401, "API token"},
		"wrong token":   {"GET", "/v1/things", "nope", "", 401, "API token"},
		"unknown path":  {"GET", "/v1/nothing", "secret", "", 404, "no such API path"},
		"outside v1":    {"GET", "/", "secret", "", 404, "no web interface"},
		"wrong method":  {"PUT", "/v1/things", "secret", "", 405, "not allowed"},
		"unknown field": {"POST", "/v1/things", "secret", `{"x":1}`, 400, "unknown field"},
		"wrong type":    {"POST", "/v1/things", "secret", `{"n":"three"}`, 400, "n must be a whole number"},
		"refused":       {"POST", "/v1/things", "secret", `{"n":-1}`, 400, "must not be negative"},
		"too large":     {"POST", "/v1/things", "secret", `{"n":1,"pad":"` + strings.Repeat("x", api.MaxBodySize) + `"}`, 413, "larger than"},
	} {
		req, _ := http.NewRequest(tc.method, hs.URL+tc.path, strings.NewReader(tc.body))
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e api.Error
		decErr := json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != tc.status || decErr != nil || !strings.Contains(e.Error, tc.says) {
			t.Errorf("%s: %d %q (%v), want %d saying %q", name, resp.StatusCode, e.Error, decErr, tc.status, tc.says)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", name, ct)
		}
	}
}

func TestEventJSON(t *testing.T) {
	ev := api.Event{Seq: 7, Type: "message", Data: echo{N: 1}}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"message":{"n":1},"seq":7,"type":"message"}` {
		t.Fatalf("encoded %s", b)
	}
	var back api.Event
	if err := json.Unmarshal(b, &back); err != nil || back.Seq != 7 || back.Type != "message" {
		t.Fatalf("decoded %+v, %v", back, err)
	}
	var e echo
	if err := back.Decode(&e); err != nil || e.N != 1 {
		t.Fatalf("content %+v, %v", e, err)
	}
	if again, err := json.Marshal(back); err != nil || string(again) != string(b) {
		t.Fatalf("a decoded event encodes as %s, %v", again, err)
	}
	if _, err := json.Marshal(api.Event{Type: "seq", Data: 1}); err == nil {
		t.Fatal("an event whose type hides its seq was encoded")
	}
}
