package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/mesh/reconcile"
	"github.com/banyan-mesh/banyan/node/private"
	"github.com/banyan-mesh/banyan/store"
)

// observerOptions are the flags of 'banyan-bench observer'.
type observerOptions struct {
	people, away, messages int
	rate                   float64
	timeout                time.Duration
	seed                   uint64
	log                    *slog.Logger
	progress               func(format string, args ...any)
}

func newObserverCmd(rf *rootFlags) *cobra.Command {
	o := &observerOptions{}
	c := &cobra.Command{
		Use:   "observer",
		Short: "What a curious carrier connected to everyone learns about who writes to whom",
		Long: `--people Banyan nodes on loopback, all connected to each other (as mDNS
connects a village on one network) and all contacts of each other. An
observer, connected to every one of them, follows every rule of a mail
carrier: it takes forwarded mail (/banyan/forward/1) and gossips it on,
listens to the mailbox topic, and syncs the mailboxes. It also notes, for
each envelope, how and from whom it first got it.

--away of the people then stop. The others send --messages private
messages, at --rate per second, each from a random person who is online to
a random other person. The scenario waits until the observer holds every
envelope (or --timeout), and reports what it could tell: for how many
envelopes the peer it first got them from was the author, or one of the
two who talk; how often the bucket names the recipient; against what
guessing at random would give.`,
		Example: `  banyan-bench observer
  banyan-bench observer --people 8 --away 3 --messages 200`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.people < 3 || o.away < 0 || o.away > o.people-2 || o.messages < 1 || o.rate <= 0 || o.timeout <= 0 {
				return errors.New("--people must be at least 3, --away between 0 and people-2, --messages and --rate positive")
			}
			o.log, o.progress = scenarioOutput(cmd, rf)
			out, err := runObserver(cmd.Context(), o)
			if err != nil {
				return err
			}
			return writeJSON(cmd.OutOrStdout(), out)
		},
	}
	f := c.Flags()
	f.IntVar(&o.people, "people", 6, "Banyan nodes besides the observer")
	f.IntVar(&o.away, "away", 2, "of them, how many are offline while the others write")
	f.IntVar(&o.messages, "messages", 100, "private messages sent")
	f.Float64Var(&o.rate, "rate", 5, "messages per second")
	f.DurationVar(&o.timeout, "timeout", 5*time.Minute, "bound on the whole run")
	f.Uint64Var(&o.seed, "seed", 1, "seed for who writes to whom")
	return c
}

// ObserverReport is what 'banyan-bench observer' prints.
type ObserverReport struct {
	People   int `json:"people"`
	Away     int `json:"away"`
	Messages int `json:"messages"`
	// ToAway counts messages to people who were offline.
	ToAway int `json:"to_away"`
	// Seen counts the messages whose envelope the observer got; FirstVia
	// how it first got them (forward, gossip, sync).
	Seen     int            `json:"seen"`
	FirstVia map[string]int `json:"first_via"`
	// AuthorFirst is the share of seen envelopes that the observer first
	// got from their author; AuthorChance what naming a random online
	// person would give. PairFirst is the share first got from the author
	// or the recipient.
	AuthorFirst  float64 `json:"author_first"`
	AuthorChance float64 `json:"author_chance"`
	PairFirst    float64 `json:"pair_first"`
	// ByVia splits AuthorFirst and PairFirst by how the envelope came.
	ByVia map[string]*ViaShare `json:"by_via"`
	// RecipientByBucket is the share of messages whose bucket holds no
	// other person: the bucket alone names the recipient.
	RecipientByBucket float64 `json:"recipient_by_bucket"`
	// FirstSeenMS is from the send to the observer's first copy.
	FirstSeenMS Quantiles `json:"first_seen_ms"`
	GoVersion   string    `json:"go_version"`
}

// ViaShare is what one way of arriving told the observer.
type ViaShare struct {
	Seen        int     `json:"seen"`
	AuthorFirst float64 `json:"author_first"`
	PairFirst   float64 `json:"pair_first"`
}

// sighting is the observer's first copy of an envelope.
type sighting struct {
	from peer.ID
	via  string
	at   time.Time
}

// observer is a raw libp2p peer that carries mail by the rules and notes
// where every envelope first came from.
type observer struct {
	h  host.Host
	mu sync.Mutex
	// first holds each envelope's first sighting; held the envelopes per
	// mailbox scope, for sync.
	first map[event.ID]sighting
	held  map[event.Scope]map[event.ID]*event.Event
	syncr *reconcile.Syncer
}

func (ob *observer) see(raw []byte, from peer.ID, via string) (*event.Event, bool) {
	e, err := event.Decode(raw)
	if err != nil {
		return nil, false
	}
	ob.mu.Lock()
	defer ob.mu.Unlock()
	box, ok := ob.held[e.ScopeID()]
	if !ok {
		return nil, false
	}
	if _, dup := box[e.ID]; dup {
		return e, false
	}
	box[e.ID] = e
	ob.first[e.ID] = sighting{from: from, via: via, at: time.Now()}
	return e, true
}

func (ob *observer) sighting(id event.ID) (sighting, bool) {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	s, ok := ob.first[id]
	return s, ok
}

// The observer's side of sync: every mailbox scope, held in memory.

func mailboxFloor() reconcile.Bound {
	t := time.Now().Add(-private.DefaultMailboxTTL).Truncate(time.Hour).UnixMilli()
	return reconcile.Bound{Time: store.SortTime(t)}
}

func (ob *observer) Scopes() []reconcile.Scope {
	out := make([]reconcile.Scope, 0, private.MailboxBuckets)
	for b := range private.MailboxBuckets {
		out = append(out, reconcile.Scope{ID: private.MailboxScope(b), Floor: mailboxFloor()})
	}
	return out
}

func (ob *observer) Items(sc event.Scope, lo, hi reconcile.Bound) ([]reconcile.Item, error) {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	var out []reconcile.Item
	for id, e := range ob.held[sc] {
		it := reconcile.Item{Time: store.SortTime(e.Time), ID: id}
		if !lo.Below(it) && hi.Below(it) {
			out = append(out, it)
		}
	}
	sortItems(out)
	return out, nil
}

func (ob *observer) Envelopes(sc event.Scope, _ peer.ID, ids []event.ID) ([][]byte, error) {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	var out [][]byte
	for _, id := range ids {
		if e, ok := ob.held[sc][id]; ok {
			out = append(out, e.Raw)
		}
	}
	return out, nil
}

func (ob *observer) Accept(sc event.Scope, from peer.ID, raws [][]byte) (int, error) {
	for _, raw := range raws {
		ob.see(raw, from, "sync")
	}
	return 0, nil
}

func (ob *observer) Synced(event.Scope, peer.ID, uint64) {}
func (ob *observer) Arrival() uint64                     { return 0 }

func sortItems(its []reconcile.Item) {
	for i := 1; i < len(its); i++ {
		for j := i; j > 0 && its[j].Compare(its[j-1]) < 0; j-- {
			its[j], its[j-1] = its[j-1], its[j]
		}
	}
}

// startObserver starts the observer's host, gossip, carrier streams and
// syncer; they stop with ctx.
func startObserver(ctx context.Context, wg *sync.WaitGroup) (*observer, error) {
	id, err := crypto.NewIdentity()
	if err != nil {
		return nil, err
	}
	h, err := mesh.NewHost(mesh.HostOptions{Identity: id, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}})
	if err != nil {
		return nil, err
	}
	ob := &observer{h: h, first: map[event.ID]sighting{}, held: map[event.Scope]map[event.ID]*event.Event{}}
	for b := range private.MailboxBuckets {
		ob.held[private.MailboxScope(b)] = map[event.ID]*event.Event{}
	}
	ps, err := rawGossip(ctx, h)
	if err != nil {
		h.Close()
		return nil, err
	}
	topic, err := ps.Join(private.MailboxTopic)
	if err != nil {
		h.Close()
		return nil, err
	}
	sub, err := topic.Subscribe()
	if err != nil {
		h.Close()
		return nil, err
	}
	wg.Go(func() {
		for {
			m, err := sub.Next(ctx)
			if err != nil {
				return
			}
			if m.ReceivedFrom != h.ID() {
				ob.see(m.Data, m.ReceivedFrom, "gossip")
			}
		}
	})
	mesh.HandleDirect(h, mesh.ForwardProtocol, func(from peer.ID, raw []byte) (func(), error) {
		if _, fresh := ob.see(raw, from, "forward"); fresh {
			// A carrier's duty: gossip it on.
			return func() { topic.Publish(ctx, raw) }, nil
		}
		return nil, nil
	})
	ob.syncr = reconcile.New(h, reconcile.Options{Store: ob})
	wg.Go(func() { ob.syncr.Serve(ctx) })
	wg.Go(func() {
		<-ctx.Done()
		h.Close()
	})
	return ob, nil
}

type sentDM struct {
	env      event.ID
	from, to int
	at       time.Time
}

func runObserver(ctx context.Context, o *observerOptions) (_ *ObserverReport, err error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	dirs := &scratch{}
	var nodes []*soloNode
	defer func() {
		for _, n := range nodes {
			err = errors.Join(err, n.stop())
		}
		err = errors.Join(err, dirs.remove())
	}()
	o.progress("observer: starting %d people", o.people)
	for i := range o.people {
		h, err := dirs.home()
		if err != nil {
			return nil, err
		}
		n, err := startSoloNode(h, o.log.With("node", i), nil)
		if err != nil {
			return nil, fmt.Errorf("person %d: %w", i, err)
		}
		nodes = append(nodes, n)
	}
	obCtx, stopOb := context.WithCancel(context.Background())
	var obWG sync.WaitGroup
	defer func() { stopOb(); obWG.Wait() }()
	ob, err := startObserver(obCtx, &obWG)
	if err != nil {
		return nil, err
	}
	for i, a := range nodes {
		for _, b := range nodes[i+1:] {
			if err := a.Host().Connect(ctx, b.info()); err != nil {
				return nil, err
			}
		}
		if err := ob.h.Connect(ctx, a.info()); err != nil {
			return nil, err
		}
	}
	o.progress("observer: making everyone contacts")
	contacts := make([][]*private.Contact, o.people)
	for i := range nodes {
		contacts[i] = make([]*private.Contact, o.people)
	}
	for i, a := range nodes {
		for j, b := range nodes[i+1:] {
			j += i + 1
			c, err := befriend(ctx, a, b)
			if err != nil {
				return nil, fmt.Errorf("befriend %d and %d: %w", i, j, err)
			}
			contacts[i][j] = c
			if contacts[j][i], err = b.DMs().Contact(a.ID()); err != nil {
				return nil, err
			}
		}
	}
	buckets := make([]int, o.people)
	for i, n := range nodes {
		buckets[i] = n.DMs().Bucket()
	}
	online := o.people - o.away
	for _, n := range nodes[online:] {
		if err := n.stop(); err != nil {
			return nil, err
		}
	}

	o.progress("observer: %d messages", o.messages)
	rng := rand.New(rand.NewPCG(o.seed, 0))
	var sent []sentDM
	tick := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
	defer tick.Stop()
	for range o.messages {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		from := rng.IntN(online)
		to := rng.IntN(o.people - 1)
		if to >= from {
			to++
		}
		at := time.Now()
		m, err := nodes[from].DMs().Send(ctx, contacts[from][to], fmt.Sprintf("message %d", len(sent)))
		if err != nil {
			return nil, fmt.Errorf("send: %w", err)
		}
		sent = append(sent, sentDM{env: event.ID(m.Envelope), from: from, to: to, at: at})
	}
	o.progress("observer: waiting until the observer holds every envelope")
	err = waitFor(ctx, "the observer to hold every envelope", func() (bool, string) {
		n := 0
		for _, s := range sent {
			if _, ok := ob.sighting(s.env); ok {
				n++
			}
		}
		return n == len(sent), fmt.Sprintf("%d of %d", n, len(sent))
	})
	if err != nil {
		return nil, err
	}

	r := &ObserverReport{
		People: o.people, Away: o.away, Messages: len(sent),
		FirstVia: map[string]int{}, ByVia: map[string]*ViaShare{},
		AuthorChance: round3(1 / float64(online)), GoVersion: runtime.Version(),
	}
	var authorFirst, pairFirst, byBucket int
	var seenAfter []time.Duration
	for _, s := range sent {
		if s.to >= online {
			r.ToAway++
		}
		shared := false
		for k, b := range buckets {
			if k != s.to && b == buckets[s.to] {
				shared = true
			}
		}
		if !shared {
			byBucket++
		}
		sg, _ := ob.sighting(s.env)
		r.Seen++
		r.FirstVia[sg.via]++
		v := r.ByVia[sg.via]
		if v == nil {
			v = &ViaShare{}
			r.ByVia[sg.via] = v
		}
		v.Seen++
		if sg.from == nodes[s.from].ID() {
			authorFirst++
			v.AuthorFirst++
		}
		if sg.from == nodes[s.from].ID() || sg.from == nodes[s.to].ID() {
			pairFirst++
			v.PairFirst++
		}
		seenAfter = append(seenAfter, sg.at.Sub(s.at))
	}
	for _, v := range r.ByVia {
		v.AuthorFirst = round3(v.AuthorFirst / float64(v.Seen))
		v.PairFirst = round3(v.PairFirst / float64(v.Seen))
	}
	r.AuthorFirst = round3(float64(authorFirst) / float64(r.Seen))
	r.PairFirst = round3(float64(pairFirst) / float64(r.Seen))
	r.RecipientByBucket = round3(float64(byBucket) / float64(len(sent)))
	r.FirstSeenMS = quantiles(seenAfter)
	return r, nil
}
