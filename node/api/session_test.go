package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testToken = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

type webTest struct {
	t    *testing.T
	srv  *httptest.Server
	port string
}

func newWebTest(t *testing.T, sessionFile string) *webTest {
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<!doctype html><title>ui</title>")
	})
	s := NewServer(ServerOptions{Token: testToken, UI: ui, SessionFile: sessionFile})
	s.Handle("GET /v1/node", Get(s, func(*http.Request) (*Node, error) { return &Node{PeerID: "me", Version: "test"}, nil }))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return &webTest{t: t, srv: srv, port: u.Port()}
}

// do sends a request to the server; host overrides the Host header, and
// headers are "Name: value" strings.
func (wt *webTest) do(method, path, host, body string, headers ...string) *http.Response {
	wt.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, wt.srv.URL+path, rd)
	if err != nil {
		wt.t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Add(k, v)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		wt.t.Fatal(err)
	}
	wt.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (wt *webTest) cookie() string { return SessionCookiePrefix + wt.port }

// login starts a session and returns its cookie value.
func (wt *webTest) login() string {
	wt.t.Helper()
	resp := wt.do("POST", "/v1/session", "", `{"token":"`+testToken+`"}`, "Content-Type: application/json", "Sec-Fetch-Site: same-origin", "Origin: "+wt.srv.URL)
	if resp.StatusCode != http.StatusNoContent {
		wt.t.Fatalf("POST /v1/session: %s", resp.Status)
	}
	for _, c := range resp.Cookies() {
		if c.Name == wt.cookie() {
			return c.Value
		}
	}
	wt.t.Fatalf("no %s cookie in %v", wt.cookie(), resp.Header["Set-Cookie"])
	return ""
}

func errorOf(t *testing.T, resp *http.Response) string {
	t.Helper()
	var e Error
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error == "" {
		t.Fatalf("%s: body is not a JSON error (%v)", resp.Status, err)
	}
	return e.Error
}

func checkSecurityHeaders(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	h := resp.Header
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: Content-Security-Policy %q lacks %q", what, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("%s: Content-Security-Policy %q allows unsafe code", what, csp)
	}
	for k, want := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"X-Frame-Options":        "DENY",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %s = %q, want %q", what, k, got, want)
		}
	}
}

func TestHostMustBeLoopback(t *testing.T) {
	wt := newWebTest(t, "")
	for _, host := range []string{"evil.example", "evil.example:" + wt.port, "127.0.0.1.evil.example", "localhost.evil.example:80", "10.0.0.7:" + wt.port, "[::2]:80"} {
		for _, path := range []string{"/v1/node", "/"} {
			resp := wt.do("GET", path, host, "", "Authorization: Bearer "+testToken)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("Host %q %s: %s, want 403", host, path, resp.Status)
				continue
			}
			checkSecurityHeaders(t, "wrong host", resp)
			if msg := errorOf(t, resp); !strings.Contains(msg, "127.0.0.1") {
				t.Errorf("Host %q: error %q does not say what to use", host, msg)
			}
		}
	}
	for _, host := range []string{"127.0.0.1:" + wt.port, "127.1.2.3", "localhost:9", "LOCALHOST", "[::1]:" + wt.port} {
		resp := wt.do("GET", "/v1/node", host, "", "Authorization: Bearer "+testToken)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("Host %q: %s, want 200", host, resp.Status)
		}
	}
}

func TestCrossOriginRefused(t *testing.T) {
	wt := newWebTest(t, "")
	auth := "Authorization: Bearer " + testToken
	cases := []struct {
		name, method, path string
		headers            []string
	}{
		{"POST from another site's page", "POST", "/v1/groups", []string{auth, "Origin: http://evil.example", "Content-Type: application/json"}},
		{"POST with Sec-Fetch-Site cross-site", "POST", "/v1/groups", []string{auth, "Sec-Fetch-Site: cross-site"}},
		{"POST from another port of this machine", "POST", "/v1/groups", []string{auth, "Sec-Fetch-Site: same-site", "Origin: http://127.0.0.1:1"}},
		{"session from another site", "POST", "/v1/session", []string{"Origin: http://evil.example", "Content-Type: application/json"}},
		{"GET embedded by another site", "GET", "/v1/node", []string{auth, "Sec-Fetch-Site: cross-site"}},
		{"GET fetched by another port", "GET", "/v1/contacts/invite.png", []string{auth, "Sec-Fetch-Site: same-site"}},
	}
	for _, c := range cases {
		body := ""
		if c.method == "POST" {
			body = `{"name":"x"}`
			if c.path == "/v1/session" {
				body = `{"token":"` + testToken + `"}`
			}
		}
		resp := wt.do(c.method, c.path, "", body, c.headers...)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %s, want 403", c.name, resp.Status)
			continue
		}
		checkSecurityHeaders(t, c.name, resp)
		if msg := errorOf(t, resp); !strings.Contains(msg, "another web site") {
			t.Errorf("%s: error %q", c.name, msg)
		}
		if len(resp.Cookies()) > 0 {
			t.Errorf("%s: set a cookie", c.name)
		}
	}
	// Our own page, and the CLI (no browser headers), are let through.
	if resp := wt.do("GET", "/v1/node", "", "", auth, "Sec-Fetch-Site: same-origin"); resp.StatusCode != http.StatusOK {
		t.Errorf("same-origin GET: %s", resp.Status)
	}
	if resp := wt.do("GET", "/v1/node", "", "", auth); resp.StatusCode != http.StatusOK {
		t.Errorf("CLI GET: %s", resp.Status)
	}
}

func TestSessionCookie(t *testing.T) {
	wt := newWebTest(t, "")
	// Without credentials, with a forged cookie, or with the token itself as
	// the cookie: 401.
	for name, headers := range map[string][]string{
		"no cookie":            nil,
		"forged cookie":        {"Cookie: " + wt.cookie() + "=" + strings.Repeat("ab", 32)},
		"token as cookie":      {"Cookie: " + wt.cookie() + "=" + testToken},
		"short cookie":         {"Cookie: " + wt.cookie() + "=x"},
		"wrong bearer":         {"Authorization: Bearer nope"},
		"bearer without space": {"Authorization: Bearer" + testToken},
	} {
		resp := wt.do("GET", "/v1/node", "", "", headers...)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %s, want 401", name, resp.Status)
			continue
		}
		checkSecurityHeaders(t, name, resp)
		errorOf(t, resp)
	}
	// A wrong token gets no session.
	resp := wt.do("POST", "/v1/session", "", `{"token":"`+strings.Repeat("0", 64)+`"}`, "Content-Type: application/json")
	if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Fatalf("wrong token: %s, cookies %v", resp.Status, resp.Cookies())
	}
	if resp := wt.do("POST", "/v1/session", "", `{"token":""}`, "Content-Type: application/json"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("empty token: %s", resp.Status)
	}

	resp = wt.do("POST", "/v1/session", "", `{"token":"`+testToken+`"}`, "Content-Type: application/json", "Sec-Fetch-Site: same-origin")
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("session: %s", resp.Status)
	}
	checkSecurityHeaders(t, "session", resp)
	var c *http.Cookie
	for _, x := range resp.Cookies() {
		if x.Name == wt.cookie() {
			c = x
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || len(c.Value) != 64 || c.Value == testToken {
		t.Fatalf("session cookie %+v, want HttpOnly, SameSite=Strict, Path=/, a fresh 32-byte value", c)
	}
	resp = wt.do("GET", "/v1/node", "", "", "Cookie: "+wt.cookie()+"="+c.Value, "Sec-Fetch-Site: same-origin")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET with the cookie: %s", resp.Status)
	}
	checkSecurityHeaders(t, "authorized", resp)
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("API answer Cache-Control %q, want no-store", cc)
	}
	// The cookie of another port's node does not count here.
	resp = wt.do("GET", "/v1/node", "", "", "Cookie: "+SessionCookiePrefix+"1="+c.Value)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("another port's cookie: %s", resp.Status)
	}

	// Signing out ends the session.
	resp = wt.do("DELETE", "/v1/session", "", "", "Cookie: "+wt.cookie()+"="+c.Value)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE /v1/session: %s", resp.Status)
	}
	if resp := wt.do("GET", "/v1/node", "", "", "Cookie: "+wt.cookie()+"="+c.Value); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after sign-out: %s", resp.Status)
	}
}

func TestSessionsBoundedAndKeptAcrossRestarts(t *testing.T) {
	file := filepath.Join(t.TempDir(), "api.sessions")
	wt := newWebTest(t, file)
	var ids []string
	for range maxSessions + 5 {
		ids = append(ids, wt.login())
	}
	ok := func(wt *webTest, id string) bool {
		return wt.do("GET", "/v1/node", "", "", "Cookie: "+wt.cookie()+"="+id).StatusCode == http.StatusOK
	}
	if ok(wt, ids[0]) {
		t.Errorf("the oldest of %d sessions is still valid; at most %d are kept", len(ids), maxSessions)
	}
	if !ok(wt, ids[len(ids)-1]) {
		t.Fatal("the newest session is not valid")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Errorf("sessions file mode %v, want 0600", st.Mode().Perm())
	}
	var saved map[string]any
	if err := json.Unmarshal(b, &saved); err != nil || len(saved) > maxSessions {
		t.Fatalf("sessions file holds %d sessions (%v), want at most %d", len(saved), err, maxSessions)
	}
	for _, id := range ids {
		if strings.Contains(string(b), id) {
			t.Fatal("the sessions file holds a usable cookie value")
		}
	}
	// A new server on the same file (the node restarted) knows the session;
	// the cookie's name follows the port, so ask with the new port's name.
	wt2 := newWebTest(t, file)
	if !ok(wt2, ids[len(ids)-1]) {
		t.Error("session lost across a restart")
	}
}

func TestUIRoutes(t *testing.T) {
	wt := newWebTest(t, "")
	// The UI's files need no credentials and carry the headers too.
	resp := wt.do("GET", "/", "", "")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	checkSecurityHeaders(t, "UI", resp)
	// /v1/ never reaches the UI, even for a path the API does not have.
	resp = wt.do("GET", "/v1/nothing", "", "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v1/nothing without credentials: %s, want 401", resp.Status)
	}
	auth := "Authorization: Bearer " + testToken
	if resp := wt.do("GET", "/v1/nothing", "", "", auth); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /v1/nothing: %s, want 404", resp.Status)
	}
}
