// Package metrics serves a node's Prometheus metrics (/metrics) and its
// health (/healthz) on an HTTP address of their own, for whoever runs the
// node as a service: apart from the local API, so that a monitoring system
// needs no API token and can never reach people's messages.
package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options configures a Server.
type Options struct {
	// Listener is where the server answers.
	Listener net.Listener
	// Gatherer holds the metrics served.
	Gatherer prometheus.Gatherer
	// Health reports what is wrong with the node, by part; an empty map
	// means healthy.
	Health func(ctx context.Context) map[string]string
	Logger *slog.Logger
}

// Server is the metrics and health server.
type Server struct {
	opts Options
	srv  *http.Server
}

// New returns a server; Serve starts it.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}))
	s := &Server{opts: opts}
	mux.HandleFunc("GET /healthz", s.healthz)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return s
}

// Health is the body of /healthz.
type Health struct {
	Healthy bool `json:"healthy"`
	// Problems says what is wrong, by part of the node.
	Problems map[string]string `json:"problems,omitempty"`
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	problems := s.opts.Health(ctx)
	h := Health{Healthy: len(problems) == 0, Problems: problems}
	w.Header().Set("Content-Type", "application/json")
	if !h.Healthy {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(h)
}

// Serve answers until ctx is done.
func (s *Server) Serve(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- s.srv.Serve(s.opts.Listener) }()
	select {
	case err := <-done:
		return fmt.Errorf("metrics server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	s.srv.Shutdown(sctx)
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics server: %w", err)
	}
	return nil
}
