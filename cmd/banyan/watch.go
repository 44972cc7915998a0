package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/cli"
)

// Reconnection backoff of watch.
const (
	watchMinBackoff = 250 * time.Millisecond
	watchMaxBackoff = 3 * time.Second
)

func (a *app) watchCmd() *cobra.Command {
	var (
		asJSON bool
		since  uint64
	)
	c := &cobra.Command{
		Use:   "watch",
		Short: "Stream new messages and other events until interrupted",
		Long: `Stream the node's events (new messages in every group) until interrupted.

By default only events from now on are shown. Every event has a sequence
number; --since SEQ starts after that event (--since 0 replays this node's
whole history). If the
connection drops, for example because the node restarts, watch reconnects
and resumes after the last event it printed, so nothing is missed or shown
twice. With --json, each event is one line of JSON.`,
		Example: `  banyan watch
  banyan watch --json --since 1200`,
		Args: cli.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.watch(cmd.Context(), since, cmd.Flags().Changed("since"), asJSON)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print each event as one line of JSON")
	c.Flags().Uint64Var(&since, "since", 0, "start after the event with this sequence number (default: only new events)")
	return c
}

func (a *app) watch(ctx context.Context, since uint64, sinceGiven, asJSON bool) error {
	// The first connection must work: a typo in --home should not wait
	// forever for a node that will never run.
	cl, err := a.Client(ctx)
	if err != nil {
		return err
	}
	if !sinceGiven {
		n, err := cl.Node(ctx)
		if err != nil {
			return err
		}
		since = n.EventSeq
	}
	// Say that it is ready: what arrives from now on is shown.
	fmt.Fprintf(a.Stderr, "banyan: watching for events after %d (Ctrl-C stops)\n", since)
	enc := json.NewEncoder(a.Stdout)
	enc.SetEscapeHTML(false)
	write := func(ev api.Event) error {
		if asJSON {
			return enc.Encode(ev)
		}
		for _, f := range node.Commands {
			if f.Watch == nil {
				continue
			}
			if line, ok := f.Watch(ev); ok {
				_, err := fmt.Fprintln(a.Stdout, line)
				return err
			}
		}
		_, err := fmt.Fprintf(a.Stdout, "event %d: %s\n", ev.Seq, ev.Type)
		return err
	}
	// Errors writing the output end watch; any other error of the stream
	// is a dropped connection.
	var outErr error
	emit := func(ev api.Event) error {
		outErr = write(ev)
		return outErr
	}
	backoff := watchMinBackoff
	var lastErr string
	for {
		if cl != nil {
			since, err = cl.Events(ctx, since, emit)
			if ctx.Err() != nil {
				return nil
			}
			if outErr != nil {
				return fmt.Errorf("write event: %w", outErr)
			}
			var se *api.StatusError
			if errors.As(err, &se) && se.Status == http.StatusBadRequest {
				return err
			}
			if err == nil {
				err = errors.New("the node closed the event stream")
			}
			fmt.Fprintf(a.Stderr, "banyan: lost the connection to the node (%v); reconnecting\n", err)
			cl = nil
			backoff = watchMinBackoff
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, watchMaxBackoff)
		if cl, err = a.Client(ctx); err != nil {
			cl = nil
			if ctx.Err() != nil {
				return nil
			}
			// Say why once, not on every attempt.
			if msg := err.Error(); msg != lastErr {
				fmt.Fprintf(a.Stderr, "banyan: %s; still trying\n", msg)
				lastErr = msg
			}
			continue
		}
		lastErr = ""
		fmt.Fprintf(a.Stderr, "banyan: reconnected; resuming after event %d\n", since)
	}
}
