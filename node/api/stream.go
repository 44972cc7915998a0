package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Stream is what the event stream reads: the node's arrival log, as the
// features render it.
type Stream interface {
	// Events reads up to limit entries of the event log after since and
	// returns the events among them and the sequence number read up to.
	Events(ctx context.Context, since uint64, limit int) ([]Event, uint64, error)
	// Notify returns a channel closed when new events may be available.
	Notify() <-chan struct{}
}

// Events serves the event stream as server-sent events. Each carries its
// sequence number as the SSE id, so a reconnecting client (Last-Event-ID,
// or ?since=) misses nothing, even across node restarts: the stream is
// read from the store's arrival log, not from memory.
func (s *Server) Events(src Stream) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		since, err := strconv.ParseUint(cmpOr(r.Header.Get("Last-Event-ID"), r.URL.Query().Get("since"), "0"), 10, 64)
		if err != nil {
			WriteError(w, Errorf(http.StatusBadRequest, "since/Last-Event-ID must be an event sequence number"))
			return
		}
		flusher, ok := w.(http.Flusher)
		if !ok {
			WriteError(w, errors.New("streaming unsupported"))
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		flusher.Flush()
		ctx := r.Context()
		keepalive := time.NewTicker(30 * time.Second)
		defer keepalive.Stop()
		for {
			// Take the notification channel before reading, so an arrival
			// between the read and the wait is not missed.
			wake := src.Notify()
			evs, next, err := src.Events(ctx, since, 256)
			if err != nil {
				s.log.Warn("event stream", "err", err)
				return
			}
			for _, ev := range evs {
				b, err := json.Marshal(ev)
				if err != nil {
					// One event that cannot be shown must not end the
					// stream for good.
					s.log.Warn("event stream: skipping an event", "seq", ev.Seq, "err", err)
					continue
				}
				if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, b); err != nil {
					return
				}
			}
			if len(evs) > 0 {
				flusher.Flush()
			}
			if next > since {
				since = next
				continue
			}
			select {
			case <-ctx.Done():
				return
			case <-wake:
			case <-keepalive.C:
				if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
					return
				}
				flusher.Flush()
			}
		}
	})
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
