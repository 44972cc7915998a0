package node

import (
	"bufio"
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

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/crypto/ratchet"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/store"
)

// CodeProtocol answers with the node's contact code, so that a person can
// add someone from the list of people nearby: the requester opens a stream
// and reads uvarint(length) || code.
const CodeProtocol protocol.ID = "/banyan/contact-code/1"

// Statuses of outgoing private messages, in order. "held" (by carriers) is
// derived when shown, from what sync learned.
const (
	statusStored    = "stored"
	statusDelivered = "delivered"
	statusRead      = "read"
)

var statusRank = map[string]int{statusStored: 0, statusDelivered: 1, statusRead: 2}

// DMs is the private-message service: contacts, end-to-end encrypted
// conversations over the mailboxes, receipts.
type DMs struct {
	id      *crypto.Identity
	keys    *ratchet.Keys
	store   *store.Store
	mailbox *Mailbox
	host    host.Host
	disc    *mesh.Discovery
	addrs   func() []peer.AddrInfo
	log     *slog.Logger
	now     func() time.Time
	// name is how this person calls themselves in contact requests.
	name         string
	readReceipts bool

	// mu serialises ratchet sessions and contact changes.
	mu sync.Mutex
}

// ErrNoContact reports a contact reference that matches nothing.
var ErrNoContact = errors.New("no such contact")

func newDMs(n *Node, mb *Mailbox, keys *ratchet.Keys) *DMs {
	return &DMs{
		id: n.id, keys: keys, store: n.store, mailbox: mb, host: n.host, disc: n.disc,
		addrs: n.addrInfos, log: n.log.With("sys", "dm"), now: time.Now,
		name: n.opts.Name, readReceipts: !n.opts.NoReadReceipts,
	}
}

func (s *DMs) start() {
	mesh.HandleDirect(s.host, func(from peer.ID, raw []byte) error { return s.mailbox.receive(raw) })
	s.host.SetStreamHandler(CodeProtocol, func(st network.Stream) {
		defer st.Close()
		code := s.Code().String()
		st.SetDeadline(time.Now().Add(10 * time.Second))
		st.Write(append(binary.AppendUvarint(nil, uint64(len(code))), code...))
	})
}

// Bucket is this node's mailbox bucket.
func (s *DMs) Bucket() int {
	b := s.keys.Bundle()
	return MailboxBucket(b.DHKey[:])
}

// Code returns this node's contact code.
func (s *DMs) Code() *ContactCode {
	c := &ContactCode{Bundle: s.keys.Bundle().Encode(), Name: s.name}
	if ais := s.addrs(); len(ais) > 0 {
		c.Peer = ais[0]
	}
	return c
}

// Find resolves a contact by peer ID or unique nickname.
func (s *DMs) Find(ref string) (*store.Contact, error) {
	if p, err := peer.Decode(ref); err == nil {
		if c, err := s.store.Contact(p); err == nil {
			return c, nil
		}
	}
	cs, err := s.store.Contacts()
	if err != nil {
		return nil, err
	}
	var found []*store.Contact
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
func (s *DMs) Add(ctx context.Context, code *ContactCode) (*store.Contact, error) {
	if code.Peer.ID == s.host.ID() {
		return nil, errors.New("that is your own contact code")
	}
	if _, err := bundleOf(code.Bundle, code.Peer.ID); err != nil {
		return nil, fmt.Errorf("contact code: %w", err)
	}
	s.mu.Lock()
	c, err := s.store.Contact(code.Peer.ID)
	send := dmContactRequest
	switch {
	case errors.Is(err, store.ErrNotFound):
		c = &store.Contact{ID: code.Peer.ID, State: store.ContactRequested, Added: s.now().UTC()}
	case err != nil:
		s.mu.Unlock()
		return nil, err
	case c.State == store.ContactPending:
		// They asked first: adding them back accepts.
		c.State, send = store.ContactAccepted, dmContactAccept
	}
	c.Bundle, c.Addrs = code.Bundle, nil
	for _, a := range code.Peer.Addrs {
		c.Addrs = append(c.Addrs, a.String())
	}
	if code.Name != "" && c.Nickname == "" {
		c.Nickname = uniqueNickname(s.store, code.Name, c.ID)
	}
	err = s.store.PutContact(c)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if len(code.Peer.Addrs) > 0 && s.disc != nil {
		go s.disc.Connect(context.WithoutCancel(ctx), code.Peer)
	}
	if _, err := s.send(ctx, c, &dmBody{Type: send, Name: s.name}); err != nil {
		return nil, err
	}
	return c, nil
}

func uniqueNickname(st *store.Store, name string, self peer.ID) string {
	cs, _ := st.Contacts()
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
func (s *DMs) AddNearby(ctx context.Context, p peer.ID) (*store.Contact, error) {
	code, err := s.fetchCode(ctx, p)
	if err != nil {
		return nil, err
	}
	return s.Add(ctx, code)
}

func (s *DMs) fetchCode(ctx context.Context, p peer.ID) (*ContactCode, error) {
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
func (s *DMs) Accept(ctx context.Context, c *store.Contact) (*store.Contact, error) {
	if c.State == store.ContactAccepted {
		return c, nil
	}
	if err := s.setState(c, store.ContactAccepted); err != nil {
		return nil, err
	}
	if _, err := s.send(ctx, c, &dmBody{Type: dmContactAccept, Name: s.name}); err != nil {
		return nil, err
	}
	return c, nil
}

// Block drops every message from a contact from now on.
func (s *DMs) Block(c *store.Contact) (*store.Contact, error) {
	return c, s.setState(c, store.ContactBlocked)
}

func (s *DMs) setState(c *store.Contact, state string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.State = state
	return s.store.PutContact(c)
}

// SetNickname names a contact.
func (s *DMs) SetNickname(c *store.Contact, nick string) (*store.Contact, error) {
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
	return c, s.store.PutContact(c)
}

// Send sends a text to a contact. It returns once the sealed message is
// stored durably here; it travels directly if the contact is connected,
// and through the mailboxes otherwise.
func (s *DMs) Send(ctx context.Context, c *store.Contact, text string) (*store.DM, error) {
	if err := checkText(text); err != nil {
		return nil, err
	}
	if c.State == store.ContactBlocked {
		return nil, errors.New("this contact is blocked")
	}
	return s.send(ctx, c, &dmBody{Type: dmText, Text: text})
}

// send seals body to c and posts it. Texts are recorded in the
// conversation.
func (s *DMs) send(ctx context.Context, c *store.Contact, body *dmBody) (*store.DM, error) {
	bundle, err := bundleOf(c.Bundle, c.ID)
	if err != nil {
		return nil, err
	}
	var id [store.DMIDSize]byte
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
	var m *store.DM
	if body.Type == dmText {
		m = &store.DM{ID: id, Peer: c.ID, Out: true, Text: body.Text, Time: now.UTC(), Status: statusStored, Envelope: e.ID[:]}
		if err := s.store.PutDM(m); err != nil {
			return nil, err
		}
	}
	if err := s.mailbox.Post(ctx, e); err != nil {
		return nil, err
	}
	go func() {
		if err := mesh.SendDirect(context.WithoutCancel(ctx), s.host, c.ID, e.Raw); err == nil {
			s.log.Debug("delivered directly", "peer", c.ID)
		}
	}()
	return m, nil
}

// encrypt runs the ratchet with a peer and saves its new state.
func (s *DMs) encrypt(p peer.ID, bundle ratchet.Bundle, pt []byte) ([]byte, error) {
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

func (s *DMs) session(p peer.ID) (*ratchet.Session, error) {
	raw, err := s.store.Session(p)
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

func (s *DMs) saveSession(p peer.ID, sess *ratchet.Session) error {
	raw, err := sess.MarshalBinary()
	if err != nil {
		return err
	}
	return s.store.PutSession(p, raw)
}

// deliver opens an envelope of this node's mailbox bucket. Most belong to
// the other people of the bucket and do not open; that is expected.
func (s *DMs) deliver(e *event.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	from, pt, sess, err := ratchet.Receive(s.keys, e.Payload, func(key []byte) (*ratchet.Session, bool) {
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
	c, err := s.store.Contact(p)
	if err == nil && c.State == store.ContactBlocked {
		s.log.Debug("dropped a message from a blocked contact", "peer", p)
		return
	}
	if err := s.saveSession(p, sess); err != nil {
		s.log.Warn("save session", "peer", p, "err", err)
		return
	}
	body, err := decodeDMBody(pt)
	if err != nil {
		s.log.Info("undecodable private message", "peer", p, "err", err)
		return
	}
	if c == nil {
		// Someone new: a request (or a message) waits for the user.
		c = &store.Contact{ID: p, Bundle: from.Encode(), State: store.ContactPending, Added: s.now().UTC()}
		if body.Name != "" {
			c.Nickname = uniqueNickname(s.store, body.Name, p)
		}
		if err := s.store.PutContact(c); err != nil {
			s.log.Warn("save contact", "err", err)
			return
		}
	}
	s.handle(c, body, e)
}

// handle acts on a decrypted private message; s.mu is held.
func (s *DMs) handle(c *store.Contact, body *dmBody, e *event.Event) {
	switch body.Type {
	case dmText:
		id := [store.DMIDSize]byte(body.ID)
		if _, err := s.store.DMByID(id); err == nil {
			return // a second copy
		}
		m := &store.DM{ID: id, Peer: c.ID, Text: body.Text, Time: time.UnixMilli(body.Time).UTC(), Envelope: e.ID[:]}
		if err := s.store.PutDM(m); err != nil {
			s.log.Warn("save message", "err", err)
			return
		}
		go s.receipt(c.ID, dmDelivered, [][]byte{body.ID})
	case dmDelivered, dmRead:
		status := statusDelivered
		if body.Type == dmRead {
			status = statusRead
		}
		for _, r := range body.Refs {
			m, err := s.store.DMByID([store.DMIDSize]byte(r))
			if err != nil || !m.Out || m.Peer != c.ID || statusRank[m.Status] >= statusRank[status] {
				continue
			}
			m.Status = status
			if err := s.store.PutDM(m); err != nil {
				s.log.Warn("update message status", "err", err)
			}
		}
	case dmContactRequest, dmContactAccept:
		// A request to someone who asked too, or an answer: both agree.
		if c.State == store.ContactRequested {
			c.State = store.ContactAccepted
			if err := s.store.PutContact(c); err != nil {
				s.log.Warn("save contact", "err", err)
			}
		}
	}
}

// receipt tells a contact that messages arrived or were read.
func (s *DMs) receipt(p peer.ID, t dmType, refs [][]byte) {
	c, err := s.store.Contact(p)
	if err != nil || c.State == store.ContactBlocked {
		return
	}
	for len(refs) > 0 {
		n := min(len(refs), maxReceiptRefs)
		if _, err := s.send(context.Background(), c, &dmBody{Type: t, Refs: refs[:n]}); err != nil {
			s.log.Warn("send receipt", "peer", p, "err", err)
			return
		}
		refs = refs[n:]
	}
}

// unreadLimit bounds how far back unread messages are counted.
const unreadLimit = 1000

// Unread returns a contact's messages that arrived after the read mark.
func (s *DMs) Unread(c *store.Contact) ([]*store.DM, error) {
	ms, err := s.store.DMs(c.ID, time.Time{}, unreadLimit)
	if err != nil {
		return nil, err
	}
	var out []*store.DM
	for _, m := range ms {
		if !m.Out && m.Time.After(c.ReadUpTo) {
			out = append(out, m)
		}
	}
	return out, nil
}

// MarkRead marks a conversation read and, unless turned off, tells the
// contact which messages were read.
func (s *DMs) MarkRead(c *store.Contact) error {
	unread, err := s.Unread(c)
	if err != nil || len(unread) == 0 {
		return err
	}
	s.mu.Lock()
	c.ReadUpTo = unread[len(unread)-1].Time
	err = s.store.PutContact(c)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if s.readReceipts {
		refs := make([][]byte, len(unread))
		for i, m := range unread {
			refs[i] = m.ID[:]
		}
		go s.receipt(c.ID, dmRead, refs)
	}
	return nil
}
