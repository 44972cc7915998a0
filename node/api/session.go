package api

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"

	"os"
	"strings"
	"sync"
	"time"

	"github.com/banyan-mesh/banyan/node/home"
)

// The browser side of the API. A page cannot keep a secret in a header the
// way the CLI does (EventSource sends none), so the page trades the token,
// which it gets once in the URL fragment, for an HttpOnly session cookie.
// Every request, from a browser or not, first passes front: the Host must
// name this machine (DNS rebinding), browsers' cross-origin requests are
// refused, and every answer carries strict security headers.

// contentSecurityPolicy is on every answer: scripts, styles, images and
// connections only from the node itself, no inline code, no framing.
const contentSecurityPolicy = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// SessionCookiePrefix starts the session cookie's name; the API's port
// follows, because browsers share cookies between the ports of one host
// and two nodes on one machine must not log each other out.
const SessionCookiePrefix = "banyan_session_"

// Bounds on browser sessions.
const (
	maxSessions = 32
	sessionTTL  = 90 * 24 * time.Hour
)

// SessionRequest is the body of POST /v1/session.
type SessionRequest struct {
	Token string `json:"token"`
}

// sessions are the browser sessions: SHA-256 of the cookie value, so that
// neither memory nor the sessions file holds a usable cookie, mapped to
// the creation time. The zero value is ready to use.
type sessions struct {
	mu   sync.Mutex
	m    map[string]time.Time
	file string // "" keeps sessions in memory only
	now  func() time.Time
}

func sessionKey(cookie string) string {
	h := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(h[:])
}

func (ss *sessions) clock() time.Time {
	if ss.now != nil {
		return ss.now()
	}
	return time.Now()
}

// load reads the sessions file once, so that an open page survives a
// restart of the node; a missing or damaged file means no sessions.
func (ss *sessions) load() {
	if ss.m != nil {
		return
	}
	ss.m = map[string]time.Time{}
	if ss.file == "" {
		return
	}
	b, err := os.ReadFile(ss.file)
	if err != nil {
		return
	}
	var saved map[string]time.Time
	if json.Unmarshal(b, &saved) != nil {
		return
	}
	for k, t := range saved {
		if len(k) == 2*sha256.Size && len(ss.m) < maxSessions {
			ss.m[k] = t
		}
	}
}

func (ss *sessions) save() error {
	if ss.file == "" {
		return nil
	}
	b, err := json.Marshal(ss.m)
	if err != nil {
		return err
	}
	return home.WriteFileAtomic(ss.file, b, 0o600)
}

// create returns a new session's cookie value, evicting the oldest session
// when the map is full.
func (ss *sessions) create() (string, error) {
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	id := hex.EncodeToString(buf)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.load()
	now := ss.clock()
	for k, t := range ss.m {
		if now.Sub(t) > sessionTTL {
			delete(ss.m, k)
		}
	}
	for len(ss.m) >= maxSessions {
		var oldest string
		for k, t := range ss.m {
			if oldest == "" || t.Before(ss.m[oldest]) {
				oldest = k
			}
		}
		delete(ss.m, oldest)
	}
	ss.m[sessionKey(id)] = now
	return id, ss.save()
}

func (ss *sessions) valid(cookie string) bool {
	if len(cookie) != 64 {
		return false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.load()
	t, ok := ss.m[sessionKey(cookie)]
	return ok && ss.clock().Sub(t) <= sessionTTL
}

func (ss *sessions) end(cookie string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.load()
	if _, ok := ss.m[sessionKey(cookie)]; ok {
		delete(ss.m, sessionKey(cookie))
		_ = ss.save()
	}
}

// webState is the Server's browser-facing state.
type webState struct {
	ui       http.Handler
	sessions sessions
	cop      *http.CrossOriginProtection
}

func newWebState(opts ServerOptions) webState {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, &StatusError{Status: http.StatusForbidden, Message: "refused: this request comes from another web site"})
	}))
	return webState{ui: opts.UI, sessions: sessions{file: opts.SessionFile}, cop: cop}
}

// front runs before authentication on every request. It sets the security
// headers, refuses what no browser page of ours would send, and answers
// the session route and the UI's files. It reports whether it answered.
func (s *Server) front(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if !hostAllowed(r) {
		WriteError(w, &StatusError{Status: http.StatusForbidden, Message: "refused: the address in the browser must be 127.0.0.1 or localhost"})
		return true
	}
	api := r.URL.Path == "/v1" || strings.HasPrefix(r.URL.Path, "/v1/")
	if !api {
		if s.web.ui == nil {
			WriteError(w, &StatusError{Status: http.StatusNotFound, Message: "no such page: this node serves no web interface"})
		} else {
			s.web.ui.ServeHTTP(w, r)
		}
		return true
	}
	h.Set("Cache-Control", "no-store")
	// CrossOriginProtection refuses cross-origin POST, PUT and DELETE. The
	// API's GETs have no effects, but they must not be readable or
	// embeddable by another page (another port of this machine counts as
	// the same site for cookies), so any browser request that is not from
	// our own origin is refused too.
	if err := s.web.cop.Check(r); err != nil {
		WriteError(w, &StatusError{Status: http.StatusForbidden, Message: "refused: this request comes from another web site"})
		return true
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		WriteError(w, &StatusError{Status: http.StatusForbidden, Message: "refused: this request comes from another web site"})
		return true
	}
	if r.URL.Path == "/v1/session" {
		s.session(w, r)
		return true
	}
	return false
}

// hostAllowed reports whether the Host header names this machine: a
// loopback address or "localhost", with any port, or the very IP address
// the request was made to (an API deliberately listening on a LAN
// address). A DNS name that merely resolves here, as in DNS rebinding,
// is refused.
func hostAllowed(r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if ta, ok := la.(*net.TCPAddr); ok && ta.IP.Equal(ip) && !ta.IP.IsUnspecified() {
			return true
		}
	}
	return false
}

// cookieName is the session cookie's name for the port the request came
// in on.
func cookieName(r *http.Request) string {
	port := ""
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, p, err := net.SplitHostPort(la.String()); err == nil {
			port = p
		}
	}
	if port == "" {
		if _, p, err := net.SplitHostPort(r.Host); err == nil {
			port = p
		}
	}
	return SessionCookiePrefix + port
}

// authorized reports whether r carries the API token as a bearer token or
// a valid session cookie.
func (s *Server) authorized(r *http.Request) bool {
	if got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) == 1
	}
	c, err := r.Cookie(cookieName(r))
	return err == nil && s.web.sessions.valid(c.Value)
}

// session serves POST /v1/session (trade the token for a cookie) and
// DELETE /v1/session (end this browser's session).
func (s *Server) session(w http.ResponseWriter, r *http.Request) {
	name := cookieName(r)
	switch r.Method {
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
		var in SessionRequest
		if err := ReadJSON(r, &in); err != nil {
			WriteError(w, err)
			return
		}
		if in.Token == "" || subtle.ConstantTimeCompare([]byte(in.Token), []byte(s.token)) != 1 {
			WriteError(w, &StatusError{Status: http.StatusUnauthorized, Message: "this link's key is wrong or old: open the link the node printed, or run 'banyan open'"})
			return
		}
		id, err := s.web.sessions.create()
		if err != nil {
			s.log.Warn("save browser session", "err", err)
			if id == "" {
				WriteError(w, errors.New("could not start a session"))
				return
			}
		}
		http.SetCookie(w, &http.Cookie{
			Name: name, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
			MaxAge: int(sessionTTL / time.Second),
		})
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		if c, err := r.Cookie(name); err == nil {
			s.web.sessions.end(c.Value)
		}
		http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "POST, DELETE")
		WriteError(w, &StatusError{Status: http.StatusMethodNotAllowed, Message: "use POST to start a session or DELETE to end it"})
	}
}
