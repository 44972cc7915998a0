// Package private is private messaging: contacts (codes, requests,
// nicknames, blocking), end-to-end encrypted conversations, receipts, and
// the mailboxes that carry sealed mail to people who are offline; its API
// routes, command-line commands and how its messages appear on the event
// stream.
package private

import (
	"bufio"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"golang.org/x/sync/errgroup"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/crypto/ratchet"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node/content"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/people"
	"github.com/banyan-mesh/banyan/store"
)

// CodeProtocol answers with the node's contact code, so that a person can
// add someone from the list of people nearby: the requester opens a stream
// and reads uvarint(length) || code.
const CodeProtocol protocol.ID = "/banyan/contact-code/1"

// Statuses of outgoing private messages, in order. "held" (by carriers) is
// derived when shown, from what sync learned.
const (
	StatusStored    = "stored"
	StatusDelivered = "delivered"
	StatusRead      = "read"
)

var statusRank = map[string]int{StatusStored: 0, StatusDelivered: 1, StatusRead: 2}

// Connector dials peers in the background.
type Connector interface {
	ConnectSoon(ai peer.AddrInfo, done func(error))
}

// Limiter bounds how often a peer may ask for something.
type Limiter interface {
	Allow(p peer.ID, class string, r mesh.Rate) bool
}

// codeRate is how often one peer may ask for this node's contact code.
var codeRate = mesh.Rate{Per: 1, Burst: 5}

// Options configures New.
type Options struct {
	Identity *crypto.Identity
	Store    *store.Store
	Engine   *engine.Engine
	Host     host.Host
	Connect  Connector
	Limiter  Limiter
	// Addrs returns this node's addresses, most useful first, for codes.
	Addrs func() []peer.AddrInfo
	// People shows contacts and correspondents.
	People *people.Directory
	// Name is how this person calls themselves in contact requests.
	Name string
	// NoReadReceipts stops telling contacts which messages were read.
	NoReadReceipts bool
	Mailbox        MailboxOptions
	Logger         *slog.Logger
	Now            func() time.Time
}

// Service is the private-message service: contacts, end-to-end encrypted
// conversations over the mailboxes, receipts.
type Service struct {
	id      *crypto.Identity
	keys    *ratchet.Keys
	rec     *records
	mail    *mailbox
	host    host.Host
	connect Connector
	limiter Limiter
	addrs   func() []peer.AddrInfo
	people  *people.Directory
	log     *slog.Logger
	now     func() time.Time
	// settingsMu guards what the person may change while the node runs:
	// name is how this person calls themselves in contact requests.
	settingsMu   sync.Mutex
	name         string
	readReceipts bool
	// work holds what is done after answering (sending mail), run by
	// Serve; arrived wakes the delivery of this node's own mail.
	work     chan func(context.Context)
	arrived  chan struct{}
	receipts receipts
	pace     pacer
	// started is closed once Serve answers contact-code requests.
	started chan struct{}
	// syncer carries what goes beyond pace.
	syncer interface{ Trigger(peer.ID) }

	// mu serialises ratchet sessions and contact changes.
	mu sync.Mutex
}

// ErrNoContact reports a contact reference that matches nothing.
var ErrNoContact = errors.New("no such contact")

// maxWork bounds the jobs waiting to run after a request was answered.
const maxWork = 4096

// New builds the service and keeps the mailbox scopes.
func New(opts Options) (*Service, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Name != "" {
		if err := content.CheckName("your name", opts.Name, MaxNickname); err != nil {
			return nil, err
		}
	}
	rec, err := openRecords(opts.Store)
	if err != nil {
		return nil, err
	}
	keys := ratchet.NewKeys(opts.Identity)
	s := &Service{
		id: opts.Identity, keys: keys, rec: rec, host: opts.Host, connect: opts.Connect, limiter: opts.Limiter,
		addrs: opts.Addrs, people: opts.People, log: opts.Logger, now: opts.Now,
		name: opts.Name, readReceipts: !opts.NoReadReceipts,
		work: make(chan func(context.Context), maxWork), arrived: make(chan struct{}, 1),
		receipts: receipts{pending: map[peer.ID]*pendingReceipts{}, wake: make(chan struct{}, 1), minWait: receiptMinWait, maxWait: receiptMaxWait},
	}
	bundle := keys.Bundle()
	s.syncer = opts.Engine.Syncer()
	s.started = make(chan struct{})
	if s.mail, err = newMailbox(opts.Engine, opts.Store, opts.Logger, opts.Now, MailboxBucket(bundle.DHKey[:]), opts.Mailbox, s.wakeDelivery); err != nil {
		return nil, err
	}
	return s, nil
}

// Serve answers requests for this node's contact code, carries out
// deliveries and receipts, and prunes the mailboxes, until ctx is done.
func (s *Service) Serve(ctx context.Context) error {
	s.host.SetStreamHandler(CodeProtocol, func(st network.Stream) {
		if s.limiter != nil && !s.limiter.Allow(st.Conn().RemotePeer(), string(CodeProtocol), codeRate) {
			st.Reset()
			return
		}
		defer st.Close()
		code := s.Code().String()
		st.SetDeadline(time.Now().Add(10 * time.Second))
		st.Write(append(binary.AppendUvarint(nil, uint64(len(code))), code...))
	})
	defer s.host.RemoveStreamHandler(CodeProtocol)
	close(s.started)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.mail.serve(gctx) })
	g.Go(func() error {
		for {
			select {
			case <-gctx.Done():
				return nil
			case job := <-s.work:
				job(gctx)
			}
		}
	})
	g.Go(func() error {
		// Mail that arrived while the node was down, or in a burst, waits
		// in the store; the timer is a safety net.
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			if err := s.deliverPending(gctx); err != nil {
				s.log.Warn("deliver mail", "err", err)
			}
			s.expireStrangers()
			select {
			case <-gctx.Done():
				return nil
			case <-s.arrived:
			case <-t.C:
			}
		}
	})
	g.Go(func() error {
		t := time.NewTicker(receiptMinWait / 2)
		defer t.Stop()
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-t.C:
			case <-s.receipts.wake:
			}
			s.sendReceipts(gctx, s.now())
		}
	})
	err := g.Wait()
	s.flush(ctx)
	return err
}

// flush sends the receipts still waiting, which live in memory only, and
// does the work queued for the network, while the engine still runs: the
// node stops its features first.
func (s *Service) flush(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTime)
	defer cancel()
	s.sendReceipts(ctx, time.Time{})
	for {
		select {
		case job := <-s.work:
			job(ctx)
		default:
			return
		}
	}
}

func (s *Service) wakeDelivery() {
	select {
	case s.arrived <- struct{}{}:
	default:
	}
}

// later queues job to run after the current request was answered.
func (s *Service) later(what string, job func(context.Context)) {
	select {
	case s.work <- job:
	default:
		s.log.Warn("too much to do: dropped "+what, "queued", maxWork)
	}
}

// Name returns how this person calls themselves in contact codes and
// requests.
func (s *Service) Name() string {
	s.settingsMu.Lock()
	defer s.settingsMu.Unlock()
	return s.name
}

// SetName changes how this person calls themselves from now on; contacts
// keep the nickname they gave.
func (s *Service) SetName(name string) error {
	if name != "" {
		if err := content.CheckName("your name", name, MaxNickname); err != nil {
			return err
		}
	}
	s.settingsMu.Lock()
	defer s.settingsMu.Unlock()
	s.name = name
	return nil
}

// ReadReceipts reports whether contacts are told which messages were read.
func (s *Service) ReadReceipts() bool {
	s.settingsMu.Lock()
	defer s.settingsMu.Unlock()
	return s.readReceipts
}

// SetReadReceipts turns read receipts on or off from now on.
func (s *Service) SetReadReceipts(on bool) {
	s.settingsMu.Lock()
	defer s.settingsMu.Unlock()
	s.readReceipts = on
}

// Started is closed once Serve answers contact-code requests.
func (s *Service) Started() <-chan struct{} { return s.started }

// MailboxBytes returns the bytes of sealed mail this node holds, its own
// and what it carries for others.
func (s *Service) MailboxBytes() (int64, error) { return s.mail.bytes() }

// Bucket is this node's mailbox bucket.
func (s *Service) Bucket() int {
	b := s.keys.Bundle()
	return MailboxBucket(b.DHKey[:])
}

// Code returns this node's contact code.
func (s *Service) Code() *ContactCode {
	c := &ContactCode{Bundle: s.keys.Bundle().Encode(), Name: s.Name()}
	if ais := s.addrs(); len(ais) > 0 {
		c.Peer = ais[0]
	}
	return c
}

// Find resolves a contact by peer ID or unique nickname.
func (s *Service) Find(ref string) (*Contact, error) {
	if p, err := peer.Decode(ref); err == nil {
		if c, err := s.rec.contact(p); err == nil {
			return c, nil
		}
	}
	cs, err := s.rec.allContacts()
	if err != nil {
		return nil, err
	}
	var found []*Contact
	for _, c := range cs {
		if c.Nickname == ref || (c.Nickname == "" && strings.EqualFold(c.ID.String(), ref)) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("%w %q (see 'banyan contact list')", ErrNoContact, ref)
	}
	return nil, fmt.Errorf("%q matches more than one contact; use the peer ID", ref)
}

// bundleOf decodes and checks a contact's bundle.
func bundleOf(raw []byte, p peer.ID) (ratchet.Bundle, error) {
	b, err := ratchet.DecodeBundle(raw)
	if err != nil {
		return b, err
	}
	if err := b.Verify(); err != nil {
		return b, err
	}
	owner, err := crypto.PeerIDFromPublicKey(b.IdentityKey[:])
	if err != nil {
		return b, err
	}
	if p != "" && owner != p {
		return b, errors.New("the key bundle does not belong to this peer")
	}
	return b, nil
}

// Add adds a contact from a code and sends a contact request.
func (s *Service) Add(ctx context.Context, code *ContactCode) (*Contact, error) {
	if code.Peer.ID == s.host.ID() {
		return nil, errors.New("that is your own contact code")
	}
	if _, err := bundleOf(code.Bundle, code.Peer.ID); err != nil {
		return nil, fmt.Errorf("contact code: %w", err)
	}
	s.mu.Lock()
	c, err := s.rec.contact(code.Peer.ID)
	send := dmContactRequest
	switch {
	case errors.Is(err, store.ErrNotFound):
		c = &Contact{ID: code.Peer.ID, State: ContactRequested, Added: s.now().UTC()}
	case err != nil:
		s.mu.Unlock()
		return nil, err
	case c.State == ContactPending:
		// They asked first: adding them back accepts.
		c.State, send = ContactAccepted, dmContactAccept
	}
	c.Bundle, c.Addrs = code.Bundle, nil
	for _, a := range code.Peer.Addrs {
		c.Addrs = append(c.Addrs, a.String())
	}
	if code.Name != "" && c.Nickname == "" {
		c.Nickname = s.uniqueNickname(code.Name, c.ID)
	}
	err = s.rec.putContact(c)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if len(code.Peer.Addrs) > 0 && s.connect != nil {
		s.connect.ConnectSoon(code.Peer, nil)
	}
	if _, err := s.send(ctx, c, &dmBody{Type: send, Name: s.Name()}); err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Service) uniqueNickname(name string, self peer.ID) string {
	cs, _ := s.rec.allContacts()
	taken := map[string]bool{}
	for _, c := range cs {
		if c.ID != self {
			taken[c.Nickname] = true
		}
	}
	n := name
	for i := 2; taken[n]; i++ {
		n = fmt.Sprintf("%s (%d)", name, i)
	}
	return n
}

// AddNearby adds a connected peer as a contact, asking it for its code.
func (s *Service) AddNearby(ctx context.Context, p peer.ID) (*Contact, error) {
	code, err := s.fetchCode(ctx, p)
	if err != nil {
		return nil, err
	}
	return s.Add(ctx, code)
}

func (s *Service) fetchCode(ctx context.Context, p peer.ID) (*ContactCode, error) {
	ctx, cancel := context.WithTimeout(network.WithNoDial(ctx, "contact code"), 10*time.Second)
	defer cancel()
	st, err := s.host.NewStream(ctx, p, CodeProtocol)
	if err != nil {
		return nil, fmt.Errorf("ask %s for its contact code: %w (is it nearby?)", p, err)
	}
	defer st.Close()
	st.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(st)
	n, err := binary.ReadUvarint(r)
	if err != nil || n > maxContactCode {
		return nil, fmt.Errorf("ask %s for its contact code: bad answer", p)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("ask %s for its contact code: %w", p, err)
	}
	code, err := ParseContactCode(string(buf))
	if err != nil {
		return nil, err
	}
	if code.Peer.ID != p {
		return nil, fmt.Errorf("%s answered with someone else's contact code", p)
	}
	return code, nil
}

// Accept accepts a contact request.
func (s *Service) Accept(ctx context.Context, c *Contact) (*Contact, error) {
	if c.State == ContactAccepted {
		return c, nil
	}
	wasPending := c.State == ContactPending
	if err := s.setState(c, ContactAccepted); err != nil {
		return nil, err
	}
	if _, err := s.send(ctx, c, &dmBody{Type: dmContactAccept, Name: s.Name()}); err != nil {
		return nil, err
	}
	if wasPending {
		// What they wrote before is acknowledged now.
		ms, err := s.rec.conversation(c.ID, time.Time{}, maxReceiptRefs)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if !m.Out {
				s.receipts.add(s.now(), c.ID, dmDelivered, m.ID[:])
			}
		}
	}
	return c, nil
}

// Block drops every message from a contact from now on.
func (s *Service) Block(c *Contact) (*Contact, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.State != ContactBlocked {
		c.BlockedFrom, c.State = c.State, ContactBlocked
	}
	return c, s.rec.putContact(c)
}

// Unblock gives a blocked contact back the state it had: accepted, asked
// or waiting for the user. A contact blocked before that was recorded
// waits for the user to accept it again.
func (s *Service) Unblock(c *Contact) (*Contact, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.State != ContactBlocked {
		return c, nil
	}
	c.State, c.BlockedFrom = cmp.Or(c.BlockedFrom, ContactPending), ""
	return c, s.rec.putContact(c)
}

// Remove forgets a contact: the record, the session and the conversation.
// Someone removed who writes again is someone new.
func (s *Service) Remove(c *Contact) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.deleteContact(c.ID)
}

func (s *Service) setState(c *Contact, state string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.State = state
	return s.rec.putContact(c)
}

// SetNickname names a contact.
func (s *Service) SetNickname(c *Contact, nick string) (*Contact, error) {
	nick = strings.TrimSpace(nick)
	if len(nick) > MaxNickname || strings.ContainsAny(nick, "\x00\n\r\t") {
		return nil, fmt.Errorf("a nickname is at most %d bytes, on one line", MaxNickname)
	}
	if _, err := peer.Decode(nick); err == nil {
		return nil, errors.New("a nickname cannot look like a peer ID")
	}
	if other, err := s.Find(nick); err == nil && other.ID != c.ID {
		return nil, fmt.Errorf("%q is already the nickname of %s", nick, other.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c.Nickname = nick
	return c, s.rec.putContact(c)
}

// Send sends a text to a contact. It returns once the sealed message is
// stored durably here; it travels directly if the contact is connected,
// and through the mailboxes otherwise.
func (s *Service) Send(ctx context.Context, c *Contact, text string) (*DM, error) {
	if err := content.CheckText(text); err != nil {
		return nil, err
	}
	if c.State == ContactBlocked {
		return nil, errors.New("this contact is blocked: unblock them first (banyan contact unblock)")
	}
	return s.send(ctx, c, &dmBody{Type: dmText, Text: text})
}

// send seals body to c and posts it. Texts are recorded in the
// conversation.
func (s *Service) send(ctx context.Context, c *Contact, body *dmBody) (*DM, error) {
	bundle, err := bundleOf(c.Bundle, c.ID)
	if err != nil {
		return nil, err
	}
	var id [DMIDSize]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	now := s.now()
	body.ID, body.Time = id[:], now.UnixMilli()
	pt, err := body.encode()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	sealed, err := s.encrypt(c.ID, bundle, pt)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	// A one-time key signs the envelope: carriers can check it, and learn
	// nothing about who wrote it.
	eph, err := crypto.NewIdentity()
	if err != nil {
		return nil, err
	}
	scope := MailboxScope(MailboxBucket(bundle.DHKey[:]))
	e, err := event.Sign(eph, event.Body{Scope: scope[:], Seq: 1, Time: now.UnixMilli(), Kind: event.KindSealed, Payload: sealed})
	if err != nil {
		return nil, err
	}
	var m *DM
	if body.Type == dmText {
		m = &DM{ID: id, Peer: c.ID, Out: true, Text: body.Text, Time: now.UTC(), Status: StatusStored, Envelope: e.ID[:]}
		if err := s.rec.putDM(m); err != nil {
			return nil, err
		}
	}
	if err := s.mail.save(e); err != nil {
		return nil, err
	}
	s.later("sending mail", func(ctx context.Context) { s.dispatch(ctx, c.ID, e) })
	return m, nil
}

// encrypt runs the ratchet with a peer and saves its new state.
func (s *Service) encrypt(p peer.ID, bundle ratchet.Bundle, pt []byte) ([]byte, error) {
	sess, err := s.session(p)
	if err != nil {
		return nil, err
	}
	conv, err := ratchet.NewConversation(s.keys, bundle, sess)
	if err != nil {
		return nil, err
	}
	sealed, err := conv.Encrypt(pt)
	if err != nil {
		return nil, err
	}
	if err := s.saveSession(p, conv.Session()); err != nil {
		return nil, err
	}
	return sealed, nil
}

func (s *Service) session(p peer.ID) (*ratchet.Session, error) {
	raw, err := s.rec.session(p)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var sess ratchet.Session
	if err := sess.UnmarshalBinary(raw); err != nil {
		return nil, fmt.Errorf("session with %s: %w", p, err)
	}
	return &sess, nil
}

func (s *Service) saveSession(p peer.ID, sess *ratchet.Session) error {
	raw, err := sess.MarshalBinary()
	if err != nil {
		return err
	}
	return s.rec.putSession(p, raw)
}

// deliver reads in its session an envelope of this node's mailbox bucket
// that opened for this node (unsealAll: most belong to the other people of
// the bucket and do not open; that is expected).
func (s *Service) deliver(e *event.Event, u *ratchet.Unsealed) {
	s.mu.Lock()
	defer s.mu.Unlock()
	from, pt, sess, err := ratchet.ReceiveUnsealed(s.keys, u, func(key []byte) (*ratchet.Session, bool) {
		p, err := crypto.PeerIDFromPublicKey(key)
		if err != nil {
			return nil, false
		}
		sess, err := s.session(p)
		return sess, err == nil && sess != nil
	})
	if err != nil {
		return
	}
	p, err := crypto.PeerIDFromPublicKey(from.IdentityKey[:])
	if err != nil || p == s.host.ID() {
		return
	}
	c, err := s.rec.contact(p)
	if err == nil && c.State == ContactBlocked {
		s.log.Debug("dropped a message from a blocked contact", "peer", p)
		return
	}
	if c == nil && !s.admitStranger() {
		s.log.Info("dropped a message from someone new: too many requests wait", "peer", p, "waiting", maxStrangers)
		return
	}
	if c != nil && c.State == ContactPending && s.strangerFull(p) {
		s.log.Debug("dropped a message from someone not accepted yet: they wrote enough", "peer", p)
		return
	}
	body, err := decodeDMBody(pt)
	if err != nil {
		s.log.Info("undecodable private message", "peer", p, "err", err)
		return
	}
	if err := s.saveSession(p, sess); err != nil {
		s.log.Warn("save session", "peer", p, "err", err)
		return
	}
	changed := c == nil
	if c == nil {
		// Someone new: a request (or a message) waits for the user. What
		// they call themselves is shown as theirs, never made a nickname.
		c = &Contact{ID: p, Bundle: from.Encode(), State: ContactPending, Added: s.now().UTC()}
	}
	if name := claimedName(body.Name); name != "" && name != c.Name {
		c.Name, changed = name, true
	}
	if changed {
		if err := s.rec.putContact(c); err != nil {
			s.log.Warn("save contact", "err", err)
			return
		}
	}
	s.handle(c, body, e)
}

// handle acts on a decrypted private message; s.mu is held.
func (s *Service) handle(c *Contact, body *dmBody, e *event.Event) {
	switch body.Type {
	case dmText:
		id := [DMIDSize]byte(body.ID)
		if _, err := s.rec.dmByID(id); err == nil {
			return // a second copy
		}
		m := &DM{ID: id, Peer: c.ID, Text: body.Text, Time: time.UnixMilli(body.Time).UTC(), Envelope: e.ID[:]}
		if err := s.rec.putDM(m); err != nil {
			s.log.Warn("save message", "err", err)
			return
		}
		// A stranger learns nothing, not even that the message arrived,
		// until the user accepts them.
		if c.State != ContactPending {
			s.receipts.add(s.now(), c.ID, dmDelivered, body.ID)
		}
	case dmDelivered, dmRead:
		status := StatusDelivered
		if body.Type == dmRead {
			status = StatusRead
		}
		for _, r := range body.Refs {
			m, err := s.rec.dmByID([DMIDSize]byte(r))
			if err != nil || !m.Out || m.Peer != c.ID || statusRank[m.Status] >= statusRank[status] {
				continue
			}
			m.Status = status
			if err := s.rec.putDM(m); err != nil {
				s.log.Warn("update message status", "err", err)
			}
		}
	case dmContactRequest, dmContactAccept:
		// A request to someone who asked too, or an answer: both agree.
		if c.State == ContactRequested {
			c.State = ContactAccepted
			if err := s.rec.putContact(c); err != nil {
				s.log.Warn("save contact", "err", err)
			}
		}
	}
}

// receipt tells a contact that messages arrived or were read.
func (s *Service) receipt(ctx context.Context, p peer.ID, t dmType, refs [][]byte) {
	if len(refs) == 0 {
		return
	}
	c, err := s.rec.contact(p)
	if err != nil || c.State == ContactBlocked {
		return
	}
	for len(refs) > 0 {
		n := min(len(refs), maxReceiptRefs)
		if _, err := s.send(ctx, c, &dmBody{Type: t, Refs: refs[:n]}); err != nil {
			s.log.Warn("send receipt", "peer", p, "err", err)
			return
		}
		refs = refs[n:]
	}
}

// unreadLimit bounds how far back unread messages are counted.
const unreadLimit = 1000

// Unread returns a contact's messages that arrived after the read mark.
func (s *Service) Unread(c *Contact) ([]*DM, error) {
	ms, err := s.rec.conversation(c.ID, time.Time{}, unreadLimit)
	if err != nil {
		return nil, err
	}
	var out []*DM
	for _, m := range ms {
		if !m.Out && m.Time.After(c.ReadUpTo) {
			out = append(out, m)
		}
	}
	return out, nil
}

// MarkRead marks a conversation read and, unless turned off, tells the
// contact which messages were read.
func (s *Service) MarkRead(c *Contact) error {
	unread, err := s.Unread(c)
	if err != nil || len(unread) == 0 {
		return err
	}
	s.mu.Lock()
	c.ReadUpTo = unread[len(unread)-1].Time
	err = s.rec.putContact(c)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if s.ReadReceipts() {
		refs := make([][]byte, len(unread))
		for i, m := range unread {
			refs[i] = m.ID[:]
		}
		s.receipts.add(s.now(), c.ID, dmRead, refs...)
	}
	return nil
}

// Resolve returns the peer ID of a contact given by peer ID or unique
// nickname.
func (s *Service) Resolve(ref string) (peer.ID, error) {
	c, err := s.Find(ref)
	if err != nil {
		return "", err
	}
	return c.ID, nil
}

// Names tells people (node/people) what contacts are called: the nickname
// the user gave them, and the name they give themselves.
func (s *Service) Names(p peer.ID) people.Names {
	c, err := s.rec.contact(p)
	if err != nil {
		return people.Names{}
	}
	return people.Names{Nickname: c.Nickname, Claimed: c.Name}
}

// Friends returns the DM key bundles of the accepted contacts: the
// audience of what this node shares with its contacts only.
func (s *Service) Friends() ([]ratchet.Bundle, error) {
	cs, err := s.rec.allContacts()
	if err != nil {
		return nil, err
	}
	var out []ratchet.Bundle
	for _, c := range cs {
		if c.State != ContactAccepted {
			continue
		}
		b, err := ratchet.DecodeBundle(c.Bundle)
		if err != nil {
			s.log.Warn("contact's bundle does not decode", "peer", c.ID, "err", err)
			continue
		}
		out = append(out, b)
	}
	return out, nil
}

// FriendsChanged returns a channel closed at the next change of a contact
// (added, accepted, blocked, removed, renamed).
func (s *Service) FriendsChanged() <-chan struct{} { return s.rec.contactsChanged() }

// Contact returns the contact with peer ID p.
func (s *Service) Contact(p peer.ID) (*Contact, error) { return s.rec.contact(p) }

// DMOf returns the private message an arrival-log entry shows, if it is
// one.
func DMOf(a store.Arrival) (*DM, bool) {
	if a.Table != "dms" {
		return nil, false
	}
	m, err := decodeDM(a.Value)
	return m, err == nil
}

// Conversation returns up to limit messages with p from before time before
// (the newest when zero), oldest first.
func (s *Service) Conversation(p peer.ID, before time.Time, limit int) ([]*DM, error) {
	return s.rec.conversation(p, before, limit)
}

// DMByID returns a private message by ID.
func (s *Service) DMByID(id [DMIDSize]byte) (*DM, error) { return s.rec.dmByID(id) }
