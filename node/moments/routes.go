package moments

import (
	"bytes"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/content"
	"github.com/banyan-mesh/banyan/node/people"
	"github.com/banyan-mesh/banyan/store"
)

// Info is a moment as the API shows it.
type Info struct {
	ID string `json:"id"`
	// By is the author as every output shows people.
	By   people.Person `json:"by"`
	Time time.Time     `json:"time"`
	Text string        `json:"text,omitempty"`
	// Image is the path of the moment's picture (a JPEG) in this API.
	Image  string `json:"image,omitempty"`
	Mine   bool   `json:"mine,omitempty"`
	Unread bool   `json:"unread,omitempty"`
	Cursor string `json:"cursor"`
	// Likes counts the people who like it now; Liked says whether this
	// node's user is one of them.
	Likes    int             `json:"likes"`
	Liked    bool            `json:"liked,omitempty"`
	LikedBy  []people.Person `json:"liked_by,omitempty"`
	Comments []CommentInfo   `json:"comments,omitempty"`
}

// CommentInfo is a comment on a moment.
type CommentInfo struct {
	ID   string        `json:"id"`
	By   people.Person `json:"by"`
	Time time.Time     `json:"time"`
	Text string        `json:"text"`
	Mine bool          `json:"mine,omitempty"`
}

// Feed is a page of the feed, newest first. Next, if set, fetches the
// older page; Unread counts the moments after the read mark (posting
// moves it).
type Feed struct {
	Moments []Info `json:"moments"`
	Next    string `json:"next,omitempty"`
	Unread  int    `json:"unread"`
}

// NewMoment is the body of POST /v1/moments: a text, a picture (JPEG or
// PNG, base64 in JSON; the node shrinks it to at most 32 KiB), or both.
type NewMoment struct {
	Text  string `json:"text,omitempty"`
	Image []byte `json:"image,omitempty"`
}

// LikeIn is the body of POST /v1/moments/{id}/like.
type LikeIn struct {
	Like bool `json:"like"`
}

// CommentIn is the body of POST /v1/moments/{id}/comments.
type CommentIn struct {
	Text string `json:"text"`
}

// MarkReadIn is the body of POST /v1/moments/read: everything up to the
// cursor is read; empty means everything.
type MarkReadIn struct {
	Cursor string `json:"cursor,omitempty"`
}

// DeletedInfo is a moment withdrawn by its author, on the event stream.
type DeletedInfo struct {
	ID string        `json:"id"`
	By people.Person `json:"by"`
}

// Types of moments on the event stream.
const (
	StreamType         = "moment"
	StreamTypeReaction = "moment_reaction"
	StreamTypeDeleted  = "moment_deleted"
)

// ReactionInfo is a like, unlike or comment on the event stream.
type ReactionInfo struct {
	Moment string        `json:"moment"`
	By     people.Person `json:"by"`
	Time   time.Time     `json:"time"`
	// Type is "like", "unlike" or "comment".
	Type string `json:"type"`
	Text string `json:"text,omitempty"`
}

var typeNames = map[uint8]string{Like: "like", Unlike: "unlike", Comment: "comment"}

// Routes registers the moments API:
//
//	GET    /v1/moments                 ?limit=N&before=CURSOR -> Feed
//	POST   /v1/moments                 NewMoment -> Info
//	POST   /v1/moments/read            MarkReadIn
//	GET    /v1/moments/{id}            Info
//	GET    /v1/moments/{id}/image      the picture (image/jpeg)
//	POST   /v1/moments/{id}/like       LikeIn -> Info
//	POST   /v1/moments/{id}/comments   CommentIn -> Info
//	DELETE /v1/moments/{id}            delete one's own moment
//
// {id} is a moment's ID in hex, or a unique prefix of at least 6 digits.
func (s *Service) Routes(srv *api.Server) {
	srv.Handle("GET /v1/moments", api.Get(srv, func(r *http.Request) (*Feed, error) {
		limit, err := api.Limit(r)
		if err != nil {
			return nil, err
		}
		c, err := store.ParseCursor(r.URL.Query().Get("before"))
		if err != nil {
			return nil, api.BadRequest(err)
		}
		posts, next, err := s.Feed(c, limit)
		if err != nil {
			return nil, err
		}
		mark := s.rec.readMark()
		out := &Feed{Moments: make([]Info, 0, len(posts)), Next: next.String()}
		for _, p := range posts {
			in, err := s.info(p, mark)
			if err != nil {
				return nil, err
			}
			out.Moments = append(out.Moments, *in)
		}
		if out.Unread, err = s.unread(mark); err != nil {
			return nil, err
		}
		return out, nil
	}))
	srv.Handle("POST /v1/moments", api.Post(srv, func(r *http.Request, in NewMoment) (*Info, error) {
		var pic []byte
		if len(in.Image) > 0 {
			var err error
			if pic, err = content.Picture(in.Image); err != nil {
				return nil, api.BadRequest(err)
			}
		}
		if err := (&postBody{Text: in.Text, Image: pic}).check(); err != nil {
			return nil, api.BadRequest(err)
		}
		p, err := s.Post(r.Context(), in.Text, pic)
		if err != nil {
			return nil, err
		}
		return s.info(p, s.rec.readMark())
	}))
	srv.Handle("POST /v1/moments/read", api.Post(srv, func(r *http.Request, in MarkReadIn) (api.Empty, error) {
		c, err := store.ParseCursor(in.Cursor)
		if err != nil {
			return api.Empty{}, api.BadRequest(err)
		}
		return api.Empty{}, s.MarkRead(c)
	}))
	srv.Handle("GET /v1/moments/{id}", api.Get(srv, func(r *http.Request) (*Info, error) {
		p, err := s.postOf(r)
		if err != nil {
			return nil, err
		}
		return s.info(p, s.rec.readMark())
	}))
	srv.Handle("GET /v1/moments/{id}/image", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.postOf(r)
		if err == nil && len(p.Image) == 0 {
			err = api.NotFound(errors.New("this moment has no picture"))
		}
		if err != nil {
			api.WriteError(w, err)
			return
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Content-Length", strconv.Itoa(len(p.Image)))
		_, _ = w.Write(p.Image)
	}))
	srv.Handle("POST /v1/moments/{id}/like", api.Post(srv, func(r *http.Request, in LikeIn) (*Info, error) {
		p, err := s.postOf(r)
		if err != nil {
			return nil, err
		}
		typ := Unlike
		if in.Like {
			typ = Like
		}
		if _, err := s.React(r.Context(), p, typ, ""); err != nil {
			return nil, err
		}
		return s.info(p, s.rec.readMark())
	}))
	srv.Handle("POST /v1/moments/{id}/comments", api.Post(srv, func(r *http.Request, in CommentIn) (*Info, error) {
		p, err := s.postOf(r)
		if err != nil {
			return nil, err
		}
		if err := (&reactionBody{Post: p.ID[:], Type: Comment, Text: in.Text}).check(); err != nil {
			return nil, api.BadRequest(err)
		}
		if _, err := s.React(r.Context(), p, Comment, in.Text); err != nil {
			return nil, err
		}
		return s.info(p, s.rec.readMark())
	}))
	srv.Handle("DELETE /v1/moments/{id}", api.Get(srv, func(r *http.Request) (api.Empty, error) {
		p, err := s.postOf(r)
		if err != nil {
			return api.Empty{}, err
		}
		if err := s.Delete(r.Context(), p); errors.Is(err, ErrNotMine) {
			return api.Empty{}, api.Errorf(http.StatusForbidden, "%v", err)
		} else if err != nil {
			return api.Empty{}, err
		}
		return api.Empty{}, nil
	}))
}

// postOf resolves the {id} of a request.
func (s *Service) postOf(r *http.Request) (*Post, error) {
	p, err := s.Find(r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, api.NotFound(errors.New("no such moment (deleted, or not shared with you)"))
	case err != nil:
		return nil, api.BadRequest(err)
	}
	return p, nil
}

// info shows a post with its likes and comments; mark is the feed's read
// mark.
func (s *Service) info(p *Post, mark store.Cursor) (*Info, error) {
	me := s.id.PublicKey()
	out := &Info{
		ID: p.ID.String(), By: s.people.Key(p.Author), Time: time.UnixMilli(p.Time).UTC(), Text: p.Text,
		Mine: bytes.Equal(p.Author, me), Cursor: p.cursor().String(),
	}
	out.Unread = !out.Mine && p.cursor().Compare(mark) > 0
	if len(p.Image) > 0 {
		out.Image = "/v1/moments/" + p.ID.String() + "/image"
	}
	rs, err := s.rec.reactionsTo(p.ID)
	if err != nil {
		return nil, err
	}
	// A person likes a moment if their latest like or unlike is a like.
	latest := map[string]*Reaction{}
	var likers [][]byte
	for _, x := range rs {
		switch x.Type {
		case Comment:
			out.Comments = append(out.Comments, CommentInfo{
				ID: x.ID.String(), By: s.people.Key(x.Author), Time: time.UnixMilli(x.Time).UTC(),
				Text: x.Text, Mine: bytes.Equal(x.Author, me),
			})
		default:
			if cur := latest[string(x.Author)]; cur == nil || x.cursor().Compare(cur.cursor()) > 0 {
				if cur == nil {
					likers = append(likers, x.Author)
				}
				latest[string(x.Author)] = x
			}
		}
	}
	for _, a := range likers {
		if latest[string(a)].Type == Like {
			out.Likes++
			out.LikedBy = append(out.LikedBy, s.people.Key(a))
			out.Liked = out.Liked || bytes.Equal(a, me)
		}
	}
	slices.SortFunc(out.Comments, func(a, b CommentInfo) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// unread counts the moments after the read mark. Posting moves the mark,
// so the user's own moments are never unread.
func (s *Service) unread(mark store.Cursor) (int, error) { return s.rec.countAfter(mark) }

// Render shows moments, reactions and deletions on the event stream.
func (s *Service) Render(a store.Arrival) (api.Event, bool) {
	switch a.Table {
	case s.rec.posts.Name():
		p, err := store.GetJSON[Post](s.rec.posts, a.Key)
		if err != nil {
			return api.Event{}, false
		}
		in, err := s.info(p, s.rec.readMark())
		if err != nil {
			return api.Event{}, false
		}
		return api.Event{Seq: a.Seq, Type: StreamType, Data: in}, true
	case s.rec.reactions.Name():
		x, err := store.GetJSON[Reaction](s.rec.reactions, a.Key)
		if err != nil {
			return api.Event{}, false
		}
		return api.Event{Seq: a.Seq, Type: StreamTypeReaction, Data: &ReactionInfo{
			Moment: x.Post.String(), By: s.people.Key(x.Author), Time: time.UnixMilli(x.Time).UTC(),
			Type: typeNames[x.Type], Text: x.Text,
		}}, true
	case s.rec.gone.Name():
		d, err := store.GetJSON[Deleted](s.rec.gone, a.Key)
		if err != nil {
			return api.Event{}, false
		}
		return api.Event{Seq: a.Seq, Type: StreamTypeDeleted, Data: &DeletedInfo{ID: event.ID(d.Post).String(), By: s.people.Key(d.Author)}}, true
	}
	return api.Event{}, false
}
