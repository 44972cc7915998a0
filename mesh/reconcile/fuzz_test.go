package reconcile

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// countingSet counts the calls and items Process reads.
type countingSet struct {
	memSet
	calls, items int
}

func (s *countingSet) Items(lo, hi Bound) ([]Item, error) {
	s.calls++
	items, err := s.memSet.Items(lo, hi)
	s.items += len(items)
	return items, err
}

// naiveProcess is Process as it was first written: one query per range.
func naiveProcess(set Set, floor Bound, msg []Range) *Result {
	res := &Result{}
	lower := floor
	pending := false
	for _, r := range msg {
		mine, _ := set.Items(lower, r.Upper)
		switch r.Mode {
		case ModeSkip:
			res.Reply = appendSkip(res.Reply, r.Upper)
		case ModeFingerprint:
			if FingerprintOf(mine) == r.FP {
				res.Reply = appendSkip(res.Reply, r.Upper)
			} else {
				res.Reply = append(res.Reply, split(mine, r.Upper)...)
				pending = true
			}
		case ModeIDList:
			theirs := map[event.ID]bool{}
			for _, id := range r.IDs {
				theirs[id] = true
			}
			for _, it := range mine {
				if theirs[it.ID] {
					delete(theirs, it.ID)
				} else {
					res.Have = append(res.Have, it.ID)
				}
			}
			for _, id := range r.IDs {
				if theirs[id] {
					res.Need = append(res.Need, id)
					delete(theirs, id)
				}
			}
			res.Reply = appendSkip(res.Reply, r.Upper)
		}
		lower = r.Upper
	}
	if !pending {
		res.Reply = nil
	}
	return res
}

// fuzzMessage builds a set and a message from fuzz input: the set from a
// seed, the message range by range from the bytes, with IDs drawn from the
// set or made up, so that most messages are well formed and many are not.
func fuzzMessage(data []byte) (memSet, Bound, []Range) {
	if len(data) < 3 {
		return nil, Bound{}, nil
	}
	rng := rand.New(rand.NewPCG(uint64(data[0]), uint64(data[1])))
	n := int(data[2]) * 8
	var items []Item
	for range n {
		items = append(items, item(rng, n))
	}
	set := newSet(items)
	closeAtEnd := data[0]&1 == 0
	data = data[3:]
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	var floor Bound
	if b := next(); b&1 == 1 && len(set) > 0 {
		floor = BoundAt(set[int(b)%len(set)])
	}
	var msg []Range
	t := uint64(990)
	for len(data) > 0 {
		op := next()
		var r Range
		r.Mode = Mode(op % 4)
		t += uint64(op>>2) % 8
		r.Upper = Bound{Time: t}
		if k := int(next()) % 5; k > 0 {
			r.Upper.Prefix = bytes.Repeat([]byte{next()}, k)
		}
		if op&0x80 != 0 && len(data) < 4 {
			r.Upper = Bound{Inf: true}
		}
		switch r.Mode {
		case ModeFingerprint:
			if op&0x40 != 0 && len(set) > 0 {
				// The right fingerprint of some stretch of the set.
				i := int(next()) % len(set)
				r.FP = FingerprintOf(set[i:min(len(set), i+int(next()))])
			} else {
				r.FP[0] = next()
			}
		case ModeIDList:
			for k := int(next()) % 40; k > 0; k-- {
				b := next()
				if b&1 == 1 && len(set) > 0 {
					r.IDs = append(r.IDs, set[int(b>>1)%len(set)].ID)
				} else {
					r.IDs = append(r.IDs, event.ID{b, next()})
				}
			}
		}
		msg = append(msg, r)
	}
	if len(msg) > 0 && closeAtEnd {
		msg[len(msg)-1].Upper = Bound{Inf: true}
	}
	return set, floor, msg
}

func FuzzProcess(f *testing.F) {
	f.Add([]byte{1, 2, 50, 0, 0x81, 0})
	f.Add([]byte{3, 4, 100, 1, 1, 0, 5, 2, 1, 3, 7, 9, 0x81, 0})
	f.Add([]byte{5, 6, 200, 0, 0x41, 0, 10, 30, 0x45, 0, 40, 50, 0x82, 0, 3, 1, 3, 5})
	f.Add([]byte{7, 8, 4, 0, 2, 0, 35, 1, 3, 5, 7, 9, 11, 13, 15, 17, 0x80, 0})
	f.Add([]byte{9, 9, 120, 3, 5, 0, 5, 1, 4, 0, 9, 2, 0x81, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		set, floor, msg := fuzzMessage(data)
		cs := &countingSet{memSet: set}
		res, err := Process(cs, floor, msg)
		if checkErr := checkMessage(floor, msg); checkErr != nil {
			if err == nil {
				t.Fatalf("a malformed message was processed: %v", checkErr)
			}
			if cs.calls > 0 {
				t.Fatalf("a malformed message made %d store calls", cs.calls)
			}
			return
		}
		if err != nil {
			t.Fatalf("a well-formed message was refused: %v", err)
		}
		// The work is bounded by the set, not by the message.
		if cs.calls > maxQueries+1 {
			t.Fatalf("%d store calls", cs.calls)
		}
		if cs.items > len(set) {
			t.Fatalf("%d items read from a set of %d", cs.items, len(set))
		}
		// The answer is the one the first, naive implementation gives.
		want := naiveProcess(set, floor, msg)
		if !reflect.DeepEqual(res.Have, want.Have) || !reflect.DeepEqual(res.Need, want.Need) || !reflect.DeepEqual(res.Reply, want.Reply) {
			t.Fatalf("Process differs from the naive answer:\n%+v\n%+v", res, want)
		}
		mine := map[event.ID]bool{}
		for _, it := range set {
			mine[it.ID] = true
		}
		listed := map[event.ID]bool{}
		ids := 0
		for _, r := range msg {
			for _, id := range r.IDs {
				listed[id] = true
				ids++
			}
		}
		// Each of my items is offered at most once, and only IDs the peer
		// listed are asked for. (A peer that lists one of my IDs in the
		// wrong range makes it both.)
		have := map[event.ID]bool{}
		for _, id := range res.Have {
			if !mine[id] || have[id] {
				t.Fatal("Have holds an ID twice or one not mine")
			}
			have[id] = true
		}
		if len(res.Need) > ids {
			t.Fatalf("Need holds %d IDs of %d listed", len(res.Need), ids)
		}
		for _, id := range res.Need {
			if !listed[id] {
				t.Fatal("Need holds an ID the peer did not list")
			}
		}
		if res.Reply == nil {
			return
		}
		// The reply is well formed and within what the peer accepts from
		// an answer to this message.
		if err := checkMessage(floor, res.Reply); err != nil {
			t.Fatalf("the reply is malformed: %v", err)
		}
		fps, _ := counts(msg)
		c := (&scopeState{sentFP: fps}).newCheck()
		if err := c.begin(floor); err != nil {
			t.Fatal(err)
		}
		if err := c.add(res.Reply); err != nil {
			t.Fatalf("the peer would refuse the reply: %v", err)
		}
		if _, ids := counts(res.Reply); ids > len(set) {
			t.Fatalf("the reply lists %d IDs of a set of %d", ids, len(set))
		}
	})
}

// fakeStream is a network.Stream in memory that hands a session the peer's
// turns one at a time: the next only once the session has ended its own
// turn, as an honest peer would.
type fakeStream struct {
	network.Stream
	mu    sync.Mutex
	cond  *sync.Cond
	turns [][]byte
	cur   []byte
	// released counts the turns handed over; complete is whether the last
	// turn ends with an end frame (then the session answers it before it
	// reads the end of the stream).
	released int
	complete bool
	closed   bool
	out      bytes.Buffer
	// onTurn is called each time the session ends a turn, with the bytes
	// it wrote in it.
	onTurn   func(written int)
	turnFrom int
}

func newFakeStream(turns [][]byte, complete, initiator bool) *fakeStream {
	s := &fakeStream{turns: turns, complete: complete}
	s.cond = sync.NewCond(&s.mu)
	if !initiator {
		s.release()
	}
	return s
}

func (s *fakeStream) release() {
	if s.released < len(s.turns) {
		s.cur = append(s.cur, s.turns[s.released]...)
	}
	s.released++
	s.cond.Broadcast()
}

func (s *fakeStream) Read(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.cur) == 0 && !s.closed && (s.released < len(s.turns) || s.released == len(s.turns) && s.complete) {
		s.cond.Wait()
	}
	if s.closed {
		return 0, network.ErrReset
	}
	if len(s.cur) == 0 {
		return 0, io.EOF
	}
	n := copy(b, s.cur)
	s.cur = s.cur[n:]
	return n, nil
}

var endBytes = []byte{0x03, 0xa1, 0x01, 0x04}

func (s *fakeStream) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, network.ErrReset
	}
	s.out.Write(b)
	if bytes.HasSuffix(s.out.Bytes(), endBytes) {
		if s.onTurn != nil {
			s.onTurn(s.out.Len() - s.turnFrom)
		}
		s.turnFrom = s.out.Len()
		s.release()
	}
	return len(b), nil
}

func (s *fakeStream) shut() error {
	s.mu.Lock()
	s.closed = true
	s.cond.Broadcast()
	s.mu.Unlock()
	return nil
}

func (s *fakeStream) Close() error                     { return s.shut() }
func (s *fakeStream) CloseRead() error                 { return s.shut() }
func (s *fakeStream) Reset() error                     { return s.shut() }
func (s *fakeStream) SetDeadline(time.Time) error      { return nil }
func (s *fakeStream) SetReadDeadline(time.Time) error  { return nil }
func (s *fakeStream) SetWriteDeadline(time.Time) error { return nil }
func (s *fakeStream) Conn() network.Conn               { return fakeConn{} }

type fakeConn struct{ network.Conn }

func (fakeConn) RemotePeer() peer.ID { return "fuzz" }

type noProgress struct{}

func (noProgress) addProgress(event.Scope, uint64, uint64)   {}
func (noProgress) clearProgress(map[event.Scope]*scopeState) {}

// splitTurns cuts a peer's input into turns: frames up to and including
// each end frame. What does not parse as frames goes into the last turn;
// complete reports whether the last turn ends with an end frame.
func splitTurns(data []byte) (turns [][]byte, complete bool) {
	start, i := 0, 0
	for i < len(data) {
		n, k := binary.Uvarint(data[i:])
		if k <= 0 || n > maxFrameSize || uint64(len(data)-i-k) < n {
			break
		}
		body := data[i+k : i+k+int(n)]
		i += k + int(n)
		if bytes.Equal(body, endBytes[1:]) {
			turns = append(turns, data[start:i])
			start = i
		}
	}
	if start < len(data) {
		return append(turns, data[start:]), false
	}
	return turns, true
}

// FuzzSession feeds a session, as responder, turns of frames a peer sent,
// and checks that each of its turns costs at most a bounded multiple of
// the scope it holds, whatever the peer sends.
func FuzzSession(f *testing.F) {
	sc := scopeOf(1)
	fp := make([]byte, 16)
	var seeds [][]*frame
	seeds = append(seeds,
		[]*frame{reconcileFrame(sc, floor0, wireRange{Upper: inf, Mode: ModeIDList}), endFrame, reconcileFrame(sc, floor0, wireRange{Upper: inf, Mode: ModeFingerprint, FP: fp}), endFrame},
		[]*frame{reconcileFrame(sc, floor0, wireRange{Upper: wireBound{Time: 1100}, Mode: ModeFingerprint, FP: fp}, wireRange{Upper: inf, Mode: ModeFingerprint, FP: fp}), endFrame, endFrame},
		[]*frame{reconcileFrame(sc, floor0, wireRange{Upper: inf, Mode: ModeFingerprint, FP: fp}), endFrame, {Type: frameWant, Scope: sc[:], IDs: make([]byte, 64)}, endFrame},
		[]*frame{{Type: frameEvents, Scope: sc[:], Events: [][]byte{make([]byte, 80)}}, reconcileFrame(sc, wireBound{Time: 1050}, wireRange{Upper: inf, Mode: ModeIDList, IDs: make([]byte, 32)}), endFrame},
		[]*frame{reconcileFrame(sc, floor0, wireRange{Upper: inf}, wireRange{Upper: floor0, Mode: ModeIDList}), endFrame},
	)
	for _, fs := range seeds {
		var b []byte
		for _, fr := range fs {
			b = append(b, encode(f, fr)...)
		}
		f.Add(b)
	}
	const events, size = 300, 200
	base := newTestStore()
	base.addScope(sc, events, size, 1)
	f.Fuzz(func(t *testing.T, data []byte) {
		st := newTestStore()
		st.scopes[sc] = &testScope{items: base.scopes[sc].items, envs: base.scopes[sc].envs}
		turnsIn, complete := splitTurns(data)
		fs := newFakeStream(turnsIn, complete, false)
		var fail error
		last := st.work()
		turns := 0
		fs.onTurn = func(written int) {
			turns++
			w := st.work().minus(last)
			last = st.work()
			switch {
			case w.items > events:
				fail = errors.New("a turn read more items than the scope holds")
			case w.calls > maxQueries+2:
				fail = errors.New("a turn made too many store calls")
			case w.lookups > 2*events:
				fail = errors.New("a turn looked up too many envelopes")
			case written > events*size+events*1100+4096:
				fail = errors.New("a turn wrote too many bytes")
			}
		}
		x := &session{store: st, timeout: time.Minute, progress: noProgress{}}
		ended := make(chan error, 1)
		go func() {
			_, err := x.run(context.Background(), fs, false)
			ended <- err
		}()
		var err error
		select {
		case err = <-ended:
		case <-time.After(20 * time.Second):
			buf := make([]byte, 1<<20)
			t.Fatalf("the session did not end when its input did:\n%s", buf[:runtime.Stack(buf, true)])
		}
		if fail != nil {
			t.Fatal(fail)
		}
		if n := st.envsRead.Load(); n > events {
			t.Fatalf("%d envelopes sent for a scope of %d", n, events)
		}
		if turns > maxTurns+2 {
			t.Fatalf("%d turns", turns)
		}
		_ = err
	})
}

// FuzzReadFrameWork checks what the frame reader accepts and what it costs:
// a frame it accepts has a known type and only the keys of its type, its
// ranges convert or are refused with a reason, and what it decodes is
// bounded by the bytes read.
func FuzzReadFrameWork(f *testing.F) {
	sc := scopeOf(1)
	for _, fr := range []*frame{
		endFrame,
		reconcileFrame(sc, floor0, wireRange{Upper: wireBound{Time: 9, Prefix: []byte{1}}, Mode: ModeFingerprint, FP: make([]byte, 16)}, wireRange{Upper: inf, Mode: ModeIDList, IDs: make([]byte, 64)}),
		{Type: frameWant, Scope: sc[:], IDs: make([]byte, 96)},
		{Type: frameEvents, Scope: sc[:], Events: [][]byte{{1, 2, 3}, {4}}, Remaining: 2},
		{Type: frameEnd, Scope: sc[:]},
	} {
		f.Add(encode(f, fr))
	}
	f.Add([]byte{0x81, 0x80, 0x40})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := newConn(&rwBuffer{*bytes.NewBuffer(data)})
		fr, err := c.read()
		if err != nil {
			if errors.Is(err, errFrame) {
				if _, ok := reasonOf(err); !ok {
					t.Fatalf("a refusal without a reason: %v", err)
				}
			}
			return
		}
		if err := fr.check(); err != nil {
			t.Fatalf("an accepted frame fails its check: %v", err)
		}
		if c.got.Load() > int64(len(data)) {
			t.Fatal("counted more bytes than read")
		}
		// Every range map takes at least 3 bytes, every byte string 1.
		if 3*len(fr.Ranges) > len(data) || len(fr.Events) > len(data) {
			t.Fatalf("%d ranges and %d events from %d bytes", len(fr.Ranges), len(fr.Events), len(data))
		}
		rs, err := fromWireRanges(fr.Ranges)
		if err != nil {
			if _, ok := reasonOf(err); !ok {
				t.Fatalf("a refusal without a reason: %v", err)
			}
			return
		}
		for _, r := range rs {
			if len(r.IDs) > idListMax {
				t.Fatalf("an ID list of %d IDs", len(r.IDs))
			}
		}
		if fr.Floor != nil {
			if _, err := fr.Floor.bound(); err != nil {
				if _, ok := reasonOf(err); !ok {
					t.Fatalf("a refusal without a reason: %v", err)
				}
			}
		}
	})
}
