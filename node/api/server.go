package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"
)

// ServerOptions configures NewServer.
type ServerOptions struct {
	Token  string
	Logger *slog.Logger
	// UI serves the web interface's files on every path outside /v1/;
	// SessionFile keeps browser sessions across restarts (see session.go).
	UI          http.Handler
	SessionFile string
}

// Server serves the local API. Routes are registered with Handle before
// Serve.
type Server struct {
	token string
	log   *slog.Logger
	mux   *http.ServeMux
	web   webState
}

// Limits on requests.
const (
	// MaxBodySize fits a maximal message even when every byte of it is
	// escaped in JSON (six bytes each).
	MaxBodySize  = 128 << 10
	maxPageLimit = 1000
)

// NewServer returns a server with no routes.
func NewServer(opts ServerOptions) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Server{token: opts.Token, log: opts.Logger, mux: http.NewServeMux(), web: newWebState(opts)}
}

// Handle registers h for a method pattern ("GET /v1/groups"); every
// pattern is under /v1/.
func (s *Server) Handle(pattern string, h http.Handler) {
	_, path, _ := strings.Cut(pattern, " ")
	if !strings.HasPrefix(path, "/v1/") {
		panic(fmt.Sprintf("api: route %q is not under /v1/", pattern))
	}
	s.mux.Handle(pattern, h)
}

// Serve serves on ln until ctx is done, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("api: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	<-errc
	return nil
}

// ServeHTTP applies the browser defences and serves the web interface
// (session.go), checks the bearer token or session cookie, then routes. A
// path or method with no route gets a JSON error like every other failure.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.front(w, r) {
		return
	}
	if !s.authorized(r) {
		WriteError(w, Errorf(http.StatusUnauthorized, "missing or wrong API token (it is in the data directory's api.token)"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodySize)
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		s.noRoute(w, r, h)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// noRoute answers a request that matches no route: 404, or 405 with the
// methods the path has.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request, h http.Handler) {
	rec := &statusRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	if rec.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", rec.header.Get("Allow"))
		WriteError(w, Errorf(http.StatusMethodNotAllowed, "%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, rec.header.Get("Allow")))
		return
	}
	WriteError(w, Errorf(http.StatusNotFound, "no such API path: %s", r.URL.Path))
}

// statusRecorder keeps the status and headers a handler writes.
type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(status int)      { r.status = status }

// StatusError is an error answer: a caller's mistake (4xx) or a failure
// of the node (5xx). The client returns it for every error response.
type StatusError struct {
	Status  int
	Message string
}

func (e *StatusError) Error() string { return e.Message }

// Errorf returns a StatusError.
func Errorf(status int, format string, args ...any) error {
	return &StatusError{Status: status, Message: fmt.Sprintf(format, args...)}
}

// BadRequest marks err as the caller's mistake (400).
func BadRequest(err error) error {
	return &StatusError{Status: http.StatusBadRequest, Message: err.Error()}
}

// NotFound marks err as naming something that does not exist (404).
func NotFound(err error) error {
	return &StatusError{Status: http.StatusNotFound, Message: err.Error()}
}

// IsStatus reports whether err is an error answer with the given status.
func IsStatus(err error, status int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == status
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// StatusCoder is an error from below the API that knows its answer (the
// store's full disk is a 507): the answer carries its status and its own
// message, without the context it was wrapped in.
type StatusCoder interface {
	error
	HTTPStatus() int
}

// WriteError answers with err as JSON: its status if it is a StatusError
// or wraps a StatusCoder, 500 otherwise.
func WriteError(w http.ResponseWriter, err error) {
	se := statusOf(err)
	writeJSON(w, se.Status, Error{Error: se.Message})
}

// statusOf returns the answer to err.
func statusOf(err error) *StatusError {
	var se *StatusError
	if errors.As(err, &se) {
		return se
	}
	var sc StatusCoder
	if errors.As(err, &sc) {
		return &StatusError{Status: sc.HTTPStatus(), Message: sc.Error()}
	}
	return &StatusError{Status: http.StatusInternalServerError, Message: err.Error()}
}

// Empty is the result of a request that answers nothing (204).
type Empty struct{}

// reply answers with v as JSON, or with err.
func reply(w http.ResponseWriter, log *slog.Logger, v any, err error) {
	if err != nil {
		if statusOf(err).Status == http.StatusInternalServerError {
			log.Error("request failed", "err", err)
		}
		WriteError(w, err)
		return
	}
	if _, ok := v.(Empty); ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	// A list is a list, also when it is empty.
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.IsNil() {
		v = []struct{}{}
	}
	writeJSON(w, http.StatusOK, v)
}

// Get adapts fn to a handler that answers with fn's result as JSON.
func Get[Out any](s *Server, fn func(r *http.Request) (Out, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := fn(r)
		reply(w, s.log, v, err)
	})
}

// Post adapts fn to a handler that reads a JSON body into In (an empty
// body leaves it zero) and answers with fn's result as JSON.
func Post[In, Out any](s *Server, fn func(r *http.Request, in In) (Out, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in In
		if r.ContentLength != 0 {
			if err := ReadJSON(r, &in); err != nil {
				WriteError(w, err)
				return
			}
		}
		v, err := fn(r, in)
		reply(w, s.log, v, err)
	})
}

// ReadJSON decodes a request's JSON body into v, refusing unknown fields.
func ReadJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var tooLarge *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooLarge):
		return Errorf(http.StatusRequestEntityTooLarge, "the request is larger than %d KiB; send less at once", MaxBodySize>>10)
	case errors.As(err, &typeErr):
		var what string
		if t, ok := strings.CutPrefix(typeErr.Value, "number "); ok {
			what = t
		} else {
			what = "a " + typeErr.Value
		}
		return Errorf(http.StatusBadRequest, "%s must be %s, not %s", typeErr.Field, describeType(typeErr.Type), what)
	}
	return Errorf(http.StatusBadRequest, "bad request body: %v", err)
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number, 0 or more"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.String:
		return "text"
	case reflect.Bool:
		return "true or false"
	}
	return t.String()
}

// Limit reads the ?limit= of a page request (default 50).
func Limit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 50, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxPageLimit {
		return 0, Errorf(http.StatusBadRequest, "limit must be a number from 1 to %d", maxPageLimit)
	}
	return n, nil
}

// QRText draws text as a QR code for a terminal, two rows of modules per
// line of text.
func QRText(text string) (string, error) {
	qr, err := qrcode.New(text, qrcode.Low)
	if err != nil {
		return "", fmt.Errorf("could not draw the QR code: %w", err)
	}
	return qr.ToSmallString(false), nil
}

// WriteQR answers with text drawn as a QR code (PNG), for the web
// interface, which loads no QR library of its own.
func WriteQR(w http.ResponseWriter, text string) {
	png, err := qrcode.Encode(text, qrcode.Medium, 512)
	if err != nil {
		WriteError(w, fmt.Errorf("could not draw the QR code: %w", err))
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(png)
}
