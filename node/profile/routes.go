package profile

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/content"
	"github.com/banyan-mesh/banyan/node/people"
	"github.com/banyan-mesh/banyan/store"
)

// Info is a profile as the API shows it.
type Info struct {
	PeerID string `json:"peer_id"`
	// Person is how every output shows them: a nickname wins over the
	// profile's name.
	Person people.Person `json:"person"`
	Name   string        `json:"name,omitempty"`
	Bio    string        `json:"bio,omitempty"`
	Place  string        `json:"place,omitempty"`
	// Avatar is the path of the avatar (a JPEG) in this API, if there is
	// one.
	Avatar  string    `json:"avatar,omitempty"`
	Updated time.Time `json:"updated,omitzero"`
	Mine    bool      `json:"mine,omitempty"`
	// Public, on this node's own profile, says that people nearby may see
	// its name and avatar.
	Public bool `json:"public,omitempty"`
	// Nearby marks the public part of the profile of someone who is not a
	// contact, asked from their node just now.
	Nearby bool `json:"nearby,omitempty"`
}

// SetProfile is the body of PUT /v1/profile: the fields to change (absent
// ones stay). Avatar is a JPEG or PNG of any size up to the request limit
// (base64 in JSON); the node shrinks it to at most 32 KiB.
type SetProfile struct {
	Name         *string `json:"name,omitempty"`
	Bio          *string `json:"bio,omitempty"`
	Place        *string `json:"place,omitempty"`
	Avatar       []byte  `json:"avatar,omitempty"`
	RemoveAvatar bool    `json:"remove_avatar,omitempty"`
	// Public chooses whether people nearby who are not contacts may see
	// the name and avatar.
	Public *bool `json:"public,omitempty"`
}

// StreamType is the type of profiles on the event stream.
const StreamType = "profile"

// Routes registers the profile API:
//
//	GET /v1/profile                   Info (this node's)
//	PUT /v1/profile                   SetProfile -> Info
//	GET /v1/profiles/{person}         Info
//	GET /v1/profiles/{person}/avatar  the avatar (image/jpeg)
//
// {person} is a peer ID or a contact's nickname. For a connected peer who
// is not a contact, the profile is the card they show people nearby.
func (s *Service) Routes(srv *api.Server) {
	srv.Handle("GET /v1/profile", api.Get(srv, func(r *http.Request) (*Info, error) {
		return s.info(s.id.PeerID()), nil
	}))
	srv.Handle("PUT /v1/profile", api.Post(srv, func(r *http.Request, in SetProfile) (*Info, error) {
		f := &Fields{}
		if cur, err := s.record(s.id.PeerID()); err == nil {
			f = &Fields{Name: cur.Name, Bio: cur.Bio, Place: cur.Place, Avatar: cur.Avatar}
		}
		for _, c := range []struct {
			dst *string
			src *string
		}{{&f.Name, in.Name}, {&f.Bio, in.Bio}, {&f.Place, in.Place}} {
			if c.src != nil {
				*c.dst = *c.src
			}
		}
		switch {
		case in.RemoveAvatar:
			f.Avatar = nil
		case in.Avatar != nil:
			pic, err := content.Picture(in.Avatar)
			if err != nil {
				return nil, api.BadRequest(err)
			}
			f.Avatar = pic
		}
		if err := f.Check(); err != nil {
			return nil, api.BadRequest(err)
		}
		if in.Public != nil {
			if err := s.SetPublic(*in.Public); err != nil {
				return nil, err
			}
		}
		if in.Name != nil || in.Bio != nil || in.Place != nil || in.Avatar != nil || in.RemoveAvatar {
			if _, err := s.Set(r.Context(), f); err != nil {
				return nil, err
			}
		}
		return s.info(s.id.PeerID()), nil
	}))
	srv.Handle("GET /v1/profiles/{person}", api.Get(srv, func(r *http.Request) (*Info, error) {
		p, err := s.person(r)
		if err != nil {
			return nil, err
		}
		if _, err := s.record(p); err != nil && p != s.id.PeerID() {
			// Not a contact's: what they show people nearby, if anything.
			if f, err := s.Card(r.Context(), p); err == nil {
				out := s.info(p)
				out.Name, out.Nearby = f.Name, true
				if len(f.Avatar) > 0 {
					out.Avatar = "/v1/profiles/" + p.String() + "/avatar"
				}
				return out, nil
			}
		}
		return s.info(p), nil
	}))
	srv.Handle("GET /v1/profiles/{person}/avatar", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.person(r)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		var avatar []byte
		if rec, err := s.record(p); err == nil {
			avatar = rec.Avatar
		} else if f, err := s.Card(r.Context(), p); err == nil {
			avatar = f.Avatar
		}
		if len(avatar) == 0 {
			api.WriteError(w, api.NotFound(errors.New("no avatar")))
			return
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Length", strconv.Itoa(len(avatar)))
		_, _ = w.Write(avatar)
	}))
}

// person resolves the {person} of a request.
func (s *Service) person(r *http.Request) (peer.ID, error) {
	ref := r.PathValue("person")
	if p, err := peer.Decode(ref); err == nil {
		return p, nil
	}
	p, err := s.contacts.Resolve(ref)
	if err != nil {
		return "", api.NotFound(fmt.Errorf("%q is neither a peer ID nor a contact", ref))
	}
	return p, nil
}

// info shows p's profile; a person without one has only their ID.
func (s *Service) info(p peer.ID) *Info {
	out := &Info{PeerID: p.String(), Person: s.people.Person(p), Mine: p == s.id.PeerID()}
	if rec, err := s.record(p); err == nil {
		out = s.recordInfo(p, rec)
	}
	out.Public = out.Mine && s.public()
	return out
}

func (s *Service) recordInfo(p peer.ID, rec *Record) *Info {
	out := &Info{
		PeerID: p.String(), Person: s.people.Person(p), Mine: p == s.id.PeerID(),
		Name: rec.Name, Bio: rec.Bio, Place: rec.Place, Updated: time.UnixMilli(rec.Time).UTC(),
	}
	if len(rec.Avatar) > 0 {
		out.Avatar = "/v1/profiles/" + p.String() + "/avatar?v=" + rec.ID.String()[:12]
	}
	return out
}

// Render shows a profile that became someone's latest on the event
// stream.
func (s *Service) Render(a store.Arrival) (api.Event, bool) {
	if a.Table != s.records.Name() {
		return api.Event{}, false
	}
	rec, err := store.GetJSON[Record](s.records, a.Key)
	if err != nil {
		return api.Event{}, false
	}
	p, err := crypto.PeerIDFromPublicKey(rec.Author)
	if err != nil {
		return api.Event{}, false
	}
	return api.Event{Seq: a.Seq, Type: StreamType, Data: s.recordInfo(p, rec)}, true
}
