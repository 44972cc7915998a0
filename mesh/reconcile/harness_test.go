package reconcile

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
)

// The harness: a Store in memory that counts what sync asks of it, a
// Syncer on a real libp2p host on loopback, and raw peers that speak the
// wire protocol by hand.

// fakeEnvelope returns an envelope-shaped blob: a version byte, 64 bytes
// where a signature would be, and a body (the sort time and padding) whose
// hash is the ID, as event.PeekID computes it.
func fakeEnvelope(sortTime uint64, size int, salt uint64) ([]byte, Item) {
	raw := make([]byte, 65, max(size, 65+16))
	raw[0] = event.Version
	raw = binary.BigEndian.AppendUint64(raw, sortTime)
	raw = binary.BigEndian.AppendUint64(raw, salt)
	raw = raw[:cap(raw)]
	id, _ := event.PeekID(raw)
	return raw, Item{Time: sortTime, ID: id}
}

type testScope struct {
	floor Bound
	items memSet
	envs  map[event.ID][]byte
}

// testStore is a Store in memory. It counts the calls sync makes and the
// items and envelopes they return: the work a peer makes this node do.
type testStore struct {
	mu     sync.Mutex
	scopes map[event.Scope]*testScope
	synced map[event.Scope][]peer.ID

	itemCalls, itemsRead atomic.Int64 // Items calls, items returned
	envLookups, envsRead atomic.Int64 // IDs looked up, envelopes returned
	accepted, rejected   atomic.Int64
	// dups counts envelopes accepted that the store already held.
	dups atomic.Int64

	// gate, if set, runs at the start of every Items call; acceptGate at
	// the start of every Accept call.
	gate, acceptGate func()
}

func newTestStore() *testStore {
	return &testStore{scopes: map[event.Scope]*testScope{}, synced: map[event.Scope][]peer.ID{}}
}

// addScope adds a scope holding n events of size bytes each (times spread
// so that equal times are common).
func (s *testStore) addScope(sc event.Scope, n, size int, seed uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := &testScope{envs: map[event.ID][]byte{}}
	s.scopes[sc] = ts
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := range n {
		raw, it := fakeEnvelope(uint64(1000+rng.IntN(n/4+1)), size, seed<<32|uint64(i))
		ts.envs[it.ID] = raw
		ts.items = append(ts.items, it)
	}
	slices.SortFunc(ts.items, Item.Compare)
}

func (s *testStore) add(sc event.Scope, raw []byte) bool {
	id, ok := event.PeekID(raw)
	if !ok || len(raw) < 65+8 {
		return false
	}
	it := Item{Time: binary.BigEndian.Uint64(raw[65:]), ID: id}
	ts := s.scopes[sc]
	if _, dup := ts.envs[id]; dup {
		s.dups.Add(1)
		return true
	}
	if ts.floor.Below(it) {
		return true
	}
	ts.envs[id] = raw
	i := sort.Search(len(ts.items), func(i int) bool { return ts.items[i].Compare(it) >= 0 })
	ts.items = slices.Insert(ts.items, i, it)
	return true
}

func (s *testStore) count(sc event.Scope) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.scopes[sc].items)
}

func (s *testStore) ids(sc event.Scope) []event.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []event.ID
	for _, it := range s.scopes[sc].items {
		out = append(out, it.ID)
	}
	return dedup(out)
}

func (s *testStore) Scopes() []Scope {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Scope
	for id, ts := range s.scopes {
		out = append(out, Scope{ID: id, Floor: ts.floor})
	}
	return out
}

func (s *testStore) Items(sc event.Scope, lo, hi Bound) ([]Item, error) {
	s.itemCalls.Add(1)
	if s.gate != nil {
		s.gate()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := s.scopes[sc]
	if ts == nil {
		return nil, nil
	}
	items, _ := ts.items.Items(lo, hi)
	s.itemsRead.Add(int64(len(items)))
	return slices.Clone(items), nil
}

func (s *testStore) Envelopes(sc event.Scope, _ peer.ID, ids []event.ID) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.envLookups.Add(int64(len(ids)))
	var out [][]byte
	if ts := s.scopes[sc]; ts != nil {
		for _, id := range ids {
			if raw, ok := ts.envs[id]; ok {
				out = append(out, raw)
			}
		}
	}
	s.envsRead.Add(int64(len(out)))
	return out, nil
}

func (s *testStore) Accept(sc event.Scope, _ peer.ID, raws [][]byte) (int, error) {
	if s.acceptGate != nil {
		s.acceptGate()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rejected := 0
	for _, raw := range raws {
		if s.add(sc, raw) {
			s.accepted.Add(1)
		} else {
			rejected++
			s.rejected.Add(1)
		}
	}
	return rejected, nil
}

func (s *testStore) Synced(sc event.Scope, p peer.ID, _ uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.synced[sc] = append(s.synced[sc], p)
}

func (s *testStore) syncedWith(sc event.Scope, p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.synced[sc], p)
}

func (s *testStore) Arrival() uint64 { return 0 }

// work is a snapshot of the store's counters.
type work struct{ calls, items, lookups, envs int64 }

func (s *testStore) work() work {
	return work{s.itemCalls.Load(), s.itemsRead.Load(), s.envLookups.Load(), s.envsRead.Load()}
}

func (w work) minus(o work) work {
	return work{w.calls - o.calls, w.items - o.items, w.lookups - o.lookups, w.envs - o.envs}
}

// newTestHost returns a libp2p host listening on loopback.
func newTestHost(t testing.TB) host.Host {
	t.Helper()
	id, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	h, err := mesh.NewHost(mesh.HostOptions{Identity: id, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func connect(t testing.TB, a, b host.Host) {
	t.Helper()
	if err := a.Connect(context.Background(), peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
}

// waitFor waits until cond holds, failing the test after a deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// node is a Syncer serving a testStore on a host of its own.
type node struct {
	h  host.Host
	s  *Syncer
	st *testStore
}

func startNode(t testing.TB, st *testStore, configure ...func(*Syncer)) *node {
	t.Helper()
	h := newTestHost(t)
	s := New(h, Options{Store: st, Logger: quietLogger(), Interval: time.Hour})
	for _, c := range configure {
		c(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.Serve(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	waitFor(t, "the sync handler", func() bool { return slices.Contains(h.Mux().Protocols(), ProtocolID) })
	return &node{h: h, s: s, st: st}
}

// rawPeer speaks the sync protocol by hand over one stream.
type rawPeer struct {
	t    testing.TB
	h    host.Host
	st   network.Stream
	r    *bufio.Reader
	sent int64 // bytes written
	got  int64 // bytes read
}

func newRawPeer(t testing.TB) *rawPeer {
	return &rawPeer{t: t, h: newTestHost(t)}
}

// open opens a sync stream to n; reads give up after the deadline.
func (p *rawPeer) open(n *node) *rawPeer {
	p.t.Helper()
	connect(p.t, p.h, n.h)
	st, err := p.h.NewStream(context.Background(), n.h.ID(), ProtocolID)
	if err != nil {
		p.t.Fatal(err)
	}
	st.SetDeadline(time.Now().Add(30 * time.Second))
	q := *p
	q.st, q.r, q.sent, q.got = st, bufio.NewReader(st), 0, 0
	return &q
}

// encode returns a frame as it goes on the wire.
func encode(t testing.TB, f *frame) []byte {
	b, err := encMode.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.AppendUvarint(nil, uint64(len(b))), b...)
}

// writeRaw writes bytes and flushes; it reports the write error.
func (p *rawPeer) writeRaw(b []byte) error {
	n, err := p.st.Write(b)
	p.sent += int64(n)
	return err
}

func (p *rawPeer) send(fs ...*frame) error {
	var buf []byte
	for _, f := range fs {
		buf = append(buf, encode(p.t, f)...)
	}
	return p.writeRaw(buf)
}

// readFrame reads one frame of the other side.
func (p *rawPeer) readFrame() (*frame, error) {
	n, err := binary.ReadUvarint(p.r)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(p.r, buf); err != nil {
		return nil, err
	}
	p.got += int64(len(binary.AppendUvarint(nil, n))) + int64(n)
	var f frame
	if err := decMode.Unmarshal(buf, &f); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return &f, nil
}

// readTurn reads frames up to and including an end frame.
func (p *rawPeer) readTurn() ([]*frame, error) {
	var out []*frame
	for {
		f, err := p.readFrame()
		if err != nil {
			return out, err
		}
		if f.Type == frameEnd {
			return out, nil
		}
		out = append(out, f)
	}
}

// drain reads until the stream ends and returns the error that ended it.
func (p *rawPeer) drain() error {
	n, err := io.Copy(io.Discard, p.r)
	p.got += n
	if err == nil {
		err = io.EOF
	}
	return err
}

func scopeOf(i int) event.Scope {
	return event.Scope(sha256.Sum256(binary.AppendUvarint([]byte("scope"), uint64(i))))
}

var (
	floor0 = wireBound{}
	inf    = wireBound{Inf: true}
)

func reconcileFrame(sc event.Scope, fl wireBound, rs ...wireRange) *frame {
	return &frame{Type: frameReconcile, Scope: sc[:], Floor: &fl, Ranges: rs}
}

var endFrame = &frame{Type: frameEnd}

// memPeak samples the heap while a test runs and reports the growth of
// its peak over the start and the bytes allocated.
type memPeak struct {
	start, peak, alloc0 uint64
	stop                chan struct{}
	done                chan struct{}
}

func startMemPeak() *memPeak {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := &memPeak{start: ms.HeapInuse, peak: ms.HeapInuse, alloc0: ms.TotalAlloc, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-tk.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				m.peak = max(m.peak, ms.HeapInuse)
			}
		}
	}()
	return m
}

// end returns the heap's peak growth and the bytes allocated meanwhile.
func (m *memPeak) end() (peakGrowth, allocated uint64) {
	close(m.stop)
	<-m.done
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.peak = max(m.peak, ms.HeapInuse)
	return m.peak - m.start, ms.TotalAlloc - m.alloc0
}
