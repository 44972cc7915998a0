package moments

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/store"
)

// Moments keep, on this node only, these tables:
//
//	moment-keys      <scope:32> <epoch:8>                 -> audience key (32)
//	moment-audience  "current"                            -> JSON audience (this node's)
//	moments          <time:8> <post id:32>                -> JSON Post (the feed, oldest first)
//	moment-ids       <post id:32>                         -> the post's key in moments
//	moment-reactions <post id:32> <time:8> <event id:32>  -> JSON Reaction
//	moment-deleted   <post id:32>                         -> JSON Deleted
//	moment-read      "mark"                               -> the feed's read mark (a cursor)
type records struct {
	st                                          *store.Store
	keys, audience, posts, ids, reactions, gone *store.Table
	read                                        *store.Table
}

func openRecords(st *store.Store) (*records, error) {
	r := &records{st: st}
	for _, t := range []struct {
		name string
		dst  **store.Table
	}{
		{"moment-keys", &r.keys}, {"moment-audience", &r.audience}, {"moments", &r.posts}, {"moment-ids", &r.ids},
		{"moment-reactions", &r.reactions}, {"moment-deleted", &r.gone}, {"moment-read", &r.read},
	} {
		var err error
		if *t.dst, err = st.Table(t.name); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// audience is this node's current audience: the key its moments are
// sealed with now and whom it was sealed to.
type audience struct {
	Epoch   uint64               `json:"epoch"`
	Key     [crypto.KeySize]byte `json:"key"`
	Members [][]byte             `json:"members"` // identity keys, sorted
}

// Post is a moment as this node keeps it, opened.
type Post struct {
	ID     event.ID `json:"id"`
	Author []byte   `json:"author"`
	Seq    uint64   `json:"seq"`
	Time   int64    `json:"time"`
	Epoch  uint64   `json:"epoch"`
	Text   string   `json:"text,omitempty"`
	Image  []byte   `json:"image,omitempty"`
}

func (p *Post) cursor() store.Cursor { return store.Cursor{Time: p.Time, ID: p.ID} }

// Reaction is a like, unlike or comment as this node keeps it, opened.
type Reaction struct {
	ID     event.ID `json:"id"`
	Post   event.ID `json:"post"`
	Author []byte   `json:"author"`
	Time   int64    `json:"time"`
	Type   uint8    `json:"type"`
	Text   string   `json:"text,omitempty"`
}

func (r *Reaction) cursor() store.Cursor { return store.Cursor{Time: r.Time, ID: r.ID} }

// Deleted records a post its author withdrew.
type Deleted struct {
	Post   event.ID `json:"post"`
	Author []byte   `json:"author"`
	Time   int64    `json:"time"`
}

func timeKey(ms int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(ms)^1<<63) }

func postKey(t int64, id event.ID) []byte { return append(timeKey(t), id[:]...) }

func epochKey(scope event.Scope, epoch uint64) []byte {
	return binary.BigEndian.AppendUint64(bytes.Clone(scope[:]), epoch)
}

func reactionKey(r *Reaction) []byte {
	return append(append(bytes.Clone(r.Post[:]), timeKey(r.Time)...), r.ID[:]...)
}

func (r *records) key(scope event.Scope, epoch uint64) ([crypto.KeySize]byte, bool) {
	v, err := r.keys.Get(epochKey(scope, epoch))
	if err != nil || len(v) != crypto.KeySize {
		return [crypto.KeySize]byte{}, false
	}
	return [crypto.KeySize]byte(v), true
}

// lastEpoch returns the highest epoch of a scope whose key is known here.
func (r *records) lastEpoch(scope event.Scope) (uint64, error) {
	var last uint64
	err := r.keys.Scan(store.Range{Prefix: scope[:], Reverse: true}, func(k, _ []byte) error {
		last = binary.BigEndian.Uint64(k[len(k)-8:])
		return store.ErrStop
	})
	return last, err
}

func (r *records) currentAudience() (*audience, error) {
	a, err := store.GetJSON[audience](r.audience, []byte("current"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return a, err
}

func (r *records) post(id event.ID) (*Post, error) {
	k, err := r.ids.Get(id[:])
	if err != nil {
		return nil, fmt.Errorf("moment %s: %w", id, err)
	}
	return store.GetJSON[Post](r.posts, k)
}

// findPost resolves a post ID given in full or as a unique prefix of at
// least 8 hex digits.
func (r *records) findPost(ref string) (*Post, error) {
	// The whole bytes of the prefix narrow the scan; an odd last digit is
	// matched on the IDs found.
	prefix, err := hex.DecodeString(ref[:len(ref)&^1])
	if err != nil {
		return nil, err
	}
	var keys [][]byte
	err = r.ids.Scan(store.Range{Prefix: prefix}, func(k, v []byte) error {
		if !strings.HasPrefix(hex.EncodeToString(k), ref) {
			return nil
		}
		if keys = append(keys, bytes.Clone(v)); len(keys) > 1 {
			return store.ErrStop
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case len(keys) == 0:
		return nil, store.ErrNotFound
	case len(keys) > 1:
		return nil, errAmbiguous
	}
	return store.GetJSON[Post](r.posts, keys[0])
}

var errAmbiguous = errors.New("more than one moment starts so; give more of its ID")

func (r *records) isDeleted(id event.ID) bool {
	ok, err := r.gone.Has(id[:])
	return err == nil && ok
}

func (r *records) hasReaction(post, id event.ID, t int64) bool {
	ok, err := r.reactions.Has(reactionKey(&Reaction{Post: post, ID: id, Time: t}))
	return err == nil && ok
}

// putPost stores an opened post and logs it for the event stream.
func (r *records) putPost(p *Post) error {
	k := postKey(p.Time, p.ID)
	return r.st.Write(func(b *store.Batch) error {
		if err := b.PutJSON(r.posts, k, p); err != nil {
			return err
		}
		if err := b.Put(r.ids, p.ID[:], k); err != nil {
			return err
		}
		return b.Log(r.posts, k)
	})
}

func (r *records) putReaction(x *Reaction) error {
	k := reactionKey(x)
	return r.st.Write(func(b *store.Batch) error {
		if err := b.PutJSON(r.reactions, k, x); err != nil {
			return err
		}
		return b.Log(r.reactions, k)
	})
}

// reactionsTo lists the reactions to a post, oldest first.
func (r *records) reactionsTo(post event.ID) ([]*Reaction, error) {
	return store.ListJSON[Reaction](r.reactions, post[:])
}

// deletePost removes what this node holds of a post (the record, its
// reactions) and remembers that it was deleted.
func (r *records) deletePost(d *Deleted, reactions []*Reaction) error {
	return r.st.Write(func(b *store.Batch) error {
		if k, err := b.Get(r.ids, d.Post[:]); err == nil {
			if err := b.Delete(r.posts, k); err != nil {
				return err
			}
		}
		if err := b.Delete(r.ids, d.Post[:]); err != nil {
			return err
		}
		for _, x := range reactions {
			if err := b.Delete(r.reactions, reactionKey(x)); err != nil {
				return err
			}
		}
		if err := b.PutJSON(r.gone, d.Post[:], d); err != nil {
			return err
		}
		return b.Log(r.gone, d.Post[:])
	})
}

// feed returns up to limit posts before cursor (the newest when zero),
// newest first, and the cursor of the next page.
func (r *records) feed(before store.Cursor, limit int) ([]*Post, store.Cursor, error) {
	rg := store.Range{Reverse: true}
	if !before.IsZero() {
		rg.From = postKey(before.Time, before.ID)
	}
	var out []*Post
	var next store.Cursor
	err := r.posts.Scan(rg, func(k, v []byte) error {
		var p Post
		if err := json.Unmarshal(v, &p); err != nil {
			return err
		}
		if len(out) == limit {
			next = out[len(out)-1].cursor()
			return store.ErrStop
		}
		out = append(out, &p)
		return nil
	})
	if err != nil {
		return nil, store.Cursor{}, fmt.Errorf("feed: %w", err)
	}
	return out, next, nil
}

// countAfter counts the posts after cursor c, from their keys alone.
func (r *records) countAfter(c store.Cursor) (int, error) {
	from := postKey(c.Time, c.ID)
	n := 0
	err := r.posts.Scan(store.Range{From: from}, func(k, _ []byte) error {
		if !bytes.Equal(k, from) {
			n++
		}
		return nil
	})
	return n, err
}

// postsBy lists the posts of one author.
func (r *records) postsBy(author []byte) ([]*Post, error) {
	all, err := store.ListJSON[Post](r.posts, nil)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(p *Post) bool { return !bytes.Equal(p.Author, author) }), nil
}

func (r *records) readMark() store.Cursor {
	v, err := r.read.Get([]byte("mark"))
	if err != nil {
		return store.Cursor{}
	}
	c, err := store.ParseCursor(string(v))
	if err != nil {
		return store.Cursor{}
	}
	return c
}

func (r *records) setReadMark(c store.Cursor) error {
	if c.Compare(r.readMark()) <= 0 {
		return nil
	}
	return r.read.Put([]byte("mark"), []byte(c.String()))
}
