package groupchat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/mesh/reconcile"
)

// protocolVectors returns section 14 of docs/PROTOCOL.md, the test vectors
// another implementation is written against.
func protocolVectors(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	start := strings.Index(s, "\n## 14. Test vectors")
	end := strings.Index(s, "\n## 15.")
	if start < 0 || end < start {
		t.Fatal("docs/PROTOCOL.md has no section 14 before section 15")
	}
	return s[start:end]
}

// vector returns the first submatch of pattern in the section.
func vector(t *testing.T, section, pattern string) string {
	t.Helper()
	return vectorParts(t, section, pattern)[0]
}

// vectorParts returns the submatches of pattern in the section.
func vectorParts(t *testing.T, section, pattern string) []string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(section)
	if m == nil {
		t.Fatalf("section 14 has no %q", pattern)
	}
	return m[1:]
}

// unhex decodes hex written over several lines and in groups.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

// envelopeBlock returns the hex block that follows the sentence that
// names an envelope and its length, decoded, and the length it states.
func envelopeBlock(t *testing.T, section, sentence string) ([]byte, int) {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(sentence) + `[^\n]*\((\d+) bytes\)[^\n]*\n+` + "```\n([0-9a-f\\n]+)```").FindStringSubmatch(section)
	if m == nil {
		t.Fatalf("section 14 has no envelope after %q", sentence)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return unhex(t, m[2]), n
}

// Every value of PROTOCOL.md's test vectors is what this implementation
// computes: the identity, the group's scope and topic, both events
// (plaintext, associated data, encryption with the stated nonce, body,
// signature, ID and whole envelope, each of the stated length), the sync
// fingerprints and the invite.
func TestProtocolVectors(t *testing.T) {
	sec := protocolVectors(t)

	id, err := crypto.IdentityFromSeed(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(id.PublicKey()), vector(t, sec, `public key\s+([0-9a-f]{64})`); got != want {
		t.Errorf("public key %s, the document says %s", got, want)
	}
	if got, want := id.PeerID().String(), vector(t, sec, `peer ID\s+(12D3\w+)`); got != want {
		t.Errorf("peer ID %s, the document says %s", got, want)
	}
	if got, want := hex.EncodeToString([]byte(id.PeerID())), vector(t, sec, `\(bytes\)\s+([0-9a-f]+)`); got != want {
		t.Errorf("peer ID bytes %s, the document says %s", got, want)
	}

	g := &Group{ID: [crypto.GroupIDSize]byte(bytes.Repeat([]byte{0x11}, crypto.GroupIDSize)), Key: [crypto.KeySize]byte(bytes.Repeat([]byte{0x22}, crypto.KeySize)), Name: "family"}
	scope := g.Scope()
	if got, want := scope.String(), vector(t, sec, `\nscope\s+([0-9a-f]{64})`); got != want {
		t.Errorf("scope %s, the document says %s", got, want)
	}
	if got, want := TopicName(scope), vector(t, sec, `\ntopic\s+(\S+)`); got != want {
		t.Errorf("topic %s, the document says %s", got, want)
	}

	// E1, built from its parts as a node builds it, with the stated nonce.
	pt, err := encodeText("hello")
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, vector(t, sec, `plaintext\s+([0-9a-f]+)`)); !bytes.Equal(pt, want) {
		t.Errorf("plaintext %x, the document says %x", pt, want)
	}
	ad := crypto.GroupAD(scope[:], id.PublicKey(), 1)
	parts := vectorParts(t, sec, `\nad\s+([0-9a-f]+)[^\n]*\n\s+([0-9a-f]+)\s+scope\n\s+([0-9a-f]+)\s+author\n\s+([0-9a-f]+)\s+seq\n`)
	if want := unhex(t, strings.Join(parts, "")); !bytes.Equal(ad, want) {
		t.Errorf("ad %x, the document says %x", ad, want)
	}
	e1 := signedText(t, id, g, event.Body{Scope: scope[:], Seq: 1, Time: 1767225600000, Kind: event.KindGroupMessage}, "hello", 0x33)
	parts = vectorParts(t, sec, `\npayload\s+([0-9a-f]+)\s+nonce \(24\)\n\s+([0-9a-f]+)\s+ciphertext \(8\)\n\s+([0-9a-f]+)\s+tag \(16\)\n`)
	if want := unhex(t, strings.Join(parts, "")); !bytes.Equal(e1.Payload, want) {
		t.Errorf("E1's payload %x, the document says %x", e1.Payload, want)
	}
	env1, n1 := envelopeBlock(t, sec, "The whole envelope")
	if len(env1) != n1 || !bytes.Equal(e1.Raw, env1) {
		t.Errorf("E1 is %d bytes %x;\nthe document says %d bytes and shows %d: %x", len(e1.Raw), e1.Raw, n1, len(env1), env1)
	}
	bodyLen, err := strconv.Atoi(vector(t, sec, `The body \((\d+) bytes\)`))
	if err != nil {
		t.Fatal(err)
	}
	body := annotatedHex(t, codeBlockAfter(t, sec, "The body ("), strings.NewReplacer())
	if got := e1.Raw[1+crypto.SignatureSize:]; len(got) != bodyLen || !bytes.Equal(got, body) {
		t.Errorf("E1's body is %d bytes %x;\nthe document says %d bytes and shows %x", len(got), got, bodyLen, body)
	}
	sig := vector(t, sec, `signature\s+([0-9a-f]{64}\s+[0-9a-f]{64})`)
	if want := unhex(t, sig); !bytes.Equal(e1.Sig, want) {
		t.Errorf("E1's signature %x, the document says %x", e1.Sig, want)
	}
	ids := regexp.MustCompile(`\nid\s+([0-9a-f]{64})`).FindAllStringSubmatch(sec, -1)
	if len(ids) != 2 {
		t.Fatalf("section 14 has %d event IDs, want 2", len(ids))
	}
	if got := e1.ID.String(); got != ids[0][1] {
		t.Errorf("E1's ID %s, the document says %s", got, ids[0][1])
	}

	// E2 follows E1.
	e2 := signedText(t, id, g, event.Body{Scope: scope[:], Seq: 2, Prev: e1.ID[:], Time: 1767225601000, Kind: event.KindGroupMessage}, "world", 0x44)
	env2, n2 := envelopeBlock(t, sec, "The envelope")
	if len(env2) != n2 || !bytes.Equal(e2.Raw, env2) {
		t.Errorf("E2 is %d bytes %x;\nthe document says %d bytes and shows %d: %x", len(e2.Raw), e2.Raw, n2, len(env2), env2)
	}
	if got := e2.ID.String(); got != ids[1][1] {
		t.Errorf("E2's ID %s, the document says %s", got, ids[1][1])
	}
	// Both envelopes as the document shows them are accepted as they are.
	for i, raw := range [][]byte{env1, env2} {
		ev, err := event.Decode(raw)
		if err != nil {
			t.Errorf("E%d as the document shows it: %v", i+1, err)
			continue
		}
		body, err := crypto.Open(g.Key, ev.Payload, crypto.GroupAD(scope[:], ev.Author, ev.Seq))
		if err != nil {
			t.Errorf("E%d's payload: %v", i+1, err)
			continue
		}
		if text, err := decodeText(body); err != nil || text != []string{"hello", "world"}[i] {
			t.Errorf("E%d's text %q, %v", i+1, text, err)
		}
	}

	items := []reconcile.Item{{Time: uint64(e1.Time), ID: e1.ID}, {Time: uint64(e2.Time), ID: e2.ID}}
	for _, fp := range []struct {
		name  string
		items []reconcile.Item
	}{{`\{\}`, nil}, {`\{E1\}`, items[:1]}, {`\{E1, E2\}`, items}} {
		f := reconcile.FingerprintOf(fp.items)
		if got, want := hex.EncodeToString(f[:]), vector(t, sec, `\n`+fp.name+`\s+([0-9a-f]{32})`); got != want {
			t.Errorf("fingerprint of %s is %s, the document says %s", fp.name, got, want)
		}
	}

	addr := multiaddr.StringCast(vector(t, sec, "reachable at\\s+`([^`]+)`"))
	in := &Invite{GroupID: g.ID, Name: g.Name, Key: g.Key}
	in.Inviter.ID, in.Inviter.Addrs = id.PeerID(), []multiaddr.Multiaddr{addr}
	if got, want := in.String(), vector(t, sec, `\n(g1\.\S+)`); got != want {
		t.Errorf("invite %s, the document says %s", got, want)
	}
}

// signedText returns the group message of body with text, sealed under
// g's key with a nonce of 24 bytes nonce, signed by id.
func signedText(t *testing.T, id *crypto.Identity, g *Group, body event.Body, text string, nonce byte) *event.Event {
	t.Helper()
	pt, err := encodeText(text)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := chacha20poly1305.NewX(g.Key[:])
	if err != nil {
		t.Fatal(err)
	}
	n := bytes.Repeat([]byte{nonce}, chacha20poly1305.NonceSizeX)
	body.Payload = aead.Seal(n, n, pt, crypto.GroupAD(body.Scope, id.PublicKey(), body.Seq))
	ev, err := event.Sign(id, body)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// annotatedHex decodes a block of annotated bytes (an event's body, a
// sync turn): on each line, the hex bytes before the note that explains
// them. Elided values are written
// out first with expand.
func annotatedHex(t *testing.T, block string, expand *strings.Replacer) []byte {
	t.Helper()
	hexByte := regexp.MustCompile(`^(?:[0-9a-f]{2})+$`)
	var out []byte
	for _, line := range strings.Split(expand.Replace(block), "\n") {
		for _, tok := range strings.Fields(line) {
			if !hexByte.MatchString(tok) {
				break
			}
			out = append(out, unhex(t, tok)...)
		}
	}
	return out
}

// codeBlockAfter returns the first code block after heading in doc.
func codeBlockAfter(t *testing.T, doc, heading string) string {
	t.Helper()
	i := strings.Index(doc, heading)
	if i < 0 {
		t.Fatalf("section 12.10 has no %q", heading)
	}
	parts := strings.SplitN(doc[i:], "```", 3)
	if len(parts) < 3 {
		t.Fatalf("no code block after %q", heading)
	}
	return parts[1]
}

// exampleStore is a sync store holding some of section 14's events.
type exampleStore struct {
	scope event.Scope
	evs   []*event.Event
}

func (s *exampleStore) Scopes() []reconcile.Scope { return []reconcile.Scope{{ID: s.scope}} }

func (s *exampleStore) Items(sc event.Scope, lo, hi reconcile.Bound) ([]reconcile.Item, error) {
	var out []reconcile.Item
	for _, ev := range s.evs {
		if it := (reconcile.Item{Time: uint64(ev.Time), ID: ev.ID}); sc == s.scope && !lo.Below(it) && hi.Below(it) {
			out = append(out, it)
		}
	}
	return out, nil
}

func (s *exampleStore) Envelopes(_ event.Scope, _ peer.ID, ids []event.ID) ([][]byte, error) {
	var out [][]byte
	for _, ev := range s.evs {
		if slices.Contains(ids, ev.ID) {
			out = append(out, ev.Raw)
		}
	}
	return out, nil
}

func (s *exampleStore) Accept(event.Scope, peer.ID, [][]byte) (int, error) { return 0, nil }
func (s *exampleStore) Synced(event.Scope, peer.ID, uint64)                {}
func (s *exampleStore) Arrival() uint64                                    { return 0 }

// exampleTurn opens a sync stream to a syncer holding evs, writes turn
// and returns the bytes of the syncer's answer, up to and including its
// end frame, and the stream.
func exampleTurn(t *testing.T, scope event.Scope, evs []*event.Event, turn []byte) ([]byte, network.Stream) {
	t.Helper()
	host := func() host.Host {
		id, err := crypto.NewIdentity()
		if err != nil {
			t.Fatal(err)
		}
		h, err := mesh.NewHost(mesh.HostOptions{Identity: id, ListenAddrs: []multiaddr.Multiaddr{multiaddr.StringCast("/ip4/127.0.0.1/tcp/0")}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		return h
	}
	b, a := host(), host()
	s := reconcile.New(b, reconcile.Options{Store: &exampleStore{scope: scope, evs: evs}, Logger: slog.New(slog.DiscardHandler), Interval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		s.Serve(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-served
	})
	// Serve takes the protocol as it starts.
	for deadline := time.Now().Add(10 * time.Second); !slices.Contains(b.Mux().Protocols(), reconcile.ProtocolID); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the syncer did not take sync streams")
		}
	}
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
	st, err := a.NewStream(ctx, b.ID(), reconcile.ProtocolID)
	if err != nil {
		t.Fatal(err)
	}
	st.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := st.Write(turn); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(st)
	var got []byte
	for {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			t.Fatalf("reading the answer after %x: %v", got, err)
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			t.Fatal(err)
		}
		got = append(binary.AppendUvarint(got, n), body...)
		if bytes.Equal(body, []byte{0xa1, 0x01, 0x04}) {
			return got, st
		}
	}
}

// A node answers the worked example of PROTOCOL.md section 12.10 byte
// for byte: given turn 1 of a node holding E1, one holding E1 and E2
// sends turn 2, and stops at the empty turn 3; the other way round, a
// node holding E1 asks for E2 with the want frame shown.
func TestProtocolSyncExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(doc), "### 12.10 Worked example")
	if start < 0 {
		t.Fatal("docs/PROTOCOL.md has no section 12.10")
	}
	example := string(doc[start:])
	sec := protocolVectors(t)
	var evs []*event.Event
	for _, sentence := range []string{"The whole envelope", "The envelope"} {
		raw, _ := envelopeBlock(t, sec, sentence)
		ev, err := event.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	scope := evs[0].ScopeID()
	expand := strings.NewReplacer(
		"9abfb035…d9bf", scope.String(),
		"2e6bd4ec…e37c", evs[1].ID.String(),
		"<236 bytes: E2's envelope>", hex.EncodeToString(evs[1].Raw))
	turn1 := annotatedHex(t, codeBlockAfter(t, example, "**Turn 1, A → B.**"), expand)
	turn2 := annotatedHex(t, codeBlockAfter(t, example, "**Turn 2, B → A.**"), expand)
	empty := unhex(t, vector(t, example, "an empty turn,\\s+`([0-9a-f ]+)`"))

	got, st := exampleTurn(t, scope, evs, turn1)
	if !bytes.Equal(got, turn2) {
		t.Errorf("B's turn 2 is\n%x\nthe document says\n%x", got, turn2)
	}
	if _, err := st.Write(empty); err != nil {
		t.Fatal(err)
	}
	if rest, err := io.ReadAll(st); err != nil || len(rest) > 0 {
		t.Errorf("after the empty turn 3, B sent %x more (%v)", rest, err)
	}

	// B opens instead: its ID list, up to infinity, holds E1 and E2.
	body := append(append(unhex(t, "a4 01 01 02 5820"), scope[:]...), unhex(t, "03 a0 04 81 a3 01 a1 03 f5 02 02 04 5840")...)
	body = append(append(body, evs[0].ID[:]...), evs[1].ID[:]...)
	bTurn := append(append(binary.AppendUvarint(nil, uint64(len(body))), body...), empty...)
	want := annotatedHex(t, vector(t, example, "acknowledging skip,\\s+`([^`]+)`"), expand)
	got, _ = exampleTurn(t, scope, evs[:1], bTurn)
	if !bytes.HasPrefix(got, want) {
		t.Errorf("A's answer to B's ID list is\n%x\nthe document says it starts with\n%x", got, want)
	}
}
