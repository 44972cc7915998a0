package diary

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/banyan-mesh/banyan/node/api"
)

// AddEntry is the body of POST /v1/diary; Date is DateLayout, or empty for
// today.
type AddEntry struct {
	Date string `json:"date,omitempty"`
	Text string `json:"text"`
}

// Shared is an entry shared as a moment (POST /v1/diary/{id}/share).
type Shared struct {
	Entry  Entry  `json:"entry"`
	Moment string `json:"moment"`
}

// Serve has nothing to run: the diary changes only when its writer writes.
func (s *Service) Serve(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Routes registers the diary API:
//
//	GET    /v1/diary        ?q=WORDS&limit=N -> []Entry, newest date first
//	POST   /v1/diary        AddEntry -> Entry
//	DELETE /v1/diary/{id}   delete an entry
//	POST   /v1/diary/{id}/share -> Shared: the entry posted as a moment
func (s *Service) Routes(srv *api.Server) {
	srv.Handle("POST /v1/diary/{id}/share", api.Post(srv, func(r *http.Request, _ api.Empty) (*Shared, error) {
		e, moment, err := s.Share(r.Context(), r.PathValue("id"))
		switch {
		case errors.Is(err, ErrNoEntry):
			return nil, api.NotFound(err)
		case errors.Is(err, ErrNotShared):
			return nil, api.Errorf(http.StatusConflict, "%v", err)
		case err != nil:
			return nil, err
		}
		return &Shared{Entry: *e, Moment: moment}, nil
	}))
	srv.Handle("GET /v1/diary", api.Get(srv, func(r *http.Request) ([]Entry, error) {
		limit, err := api.Limit(r)
		if err != nil {
			return nil, err
		}
		return s.List(r.URL.Query().Get("q"), limit)
	}))
	srv.Handle("POST /v1/diary", api.Post(srv, func(r *http.Request, in AddEntry) (*Entry, error) {
		e, err := s.Add(in.Date, in.Text)
		if err != nil {
			return nil, api.BadRequest(err)
		}
		return e, nil
	}))
	srv.Handle("DELETE /v1/diary/{id}", api.Get(srv, func(r *http.Request) (api.Empty, error) {
		err := s.Delete(r.PathValue("id"))
		if errors.Is(err, ErrNoEntry) {
			return api.Empty{}, api.NotFound(err)
		}
		return api.Empty{}, err
	}))
}

// Client is the diary part of the API client.
type Client struct{ c *api.Client }

// NewClient returns the diary calls of c.
func NewClient(c *api.Client) Client { return Client{c} }

// Add writes an entry.
func (c Client) Add(ctx context.Context, date, text string) (*Entry, error) {
	var e Entry
	return &e, c.c.Do(ctx, http.MethodPost, "/v1/diary", AddEntry{Date: date, Text: text}, &e)
}

// List returns entries holding every word of query (all for ""), newest
// first.
func (c Client) List(ctx context.Context, query string, limit int) ([]Entry, error) {
	var out []Entry
	q := "/v1/diary?limit=" + strconv.Itoa(limit)
	if query != "" {
		q += "&q=" + url.QueryEscape(query)
	}
	return out, c.c.Do(ctx, http.MethodGet, q, nil, &out)
}

// Share posts an entry, by its ID or a unique start of it, as a moment.
func (c Client) Share(ctx context.Context, id string) (*Shared, error) {
	var out Shared
	return &out, c.c.Do(ctx, http.MethodPost, "/v1/diary/"+url.PathEscape(id)+"/share", nil, &out)
}

// Delete deletes an entry.
func (c Client) Delete(ctx context.Context, id string) error {
	return c.c.Do(ctx, http.MethodDelete, "/v1/diary/"+id, nil, nil)
}
