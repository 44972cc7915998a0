package reconcile

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"testing"

	"github.com/banyan-mesh/banyan/crypto/event"
)

type rwBuffer struct{ bytes.Buffer }

func TestWriteRangesSplitsLargeMessages(t *testing.T) {
	var rs []Range
	for i := range 6000 {
		ids := make([]event.ID, idListMax)
		for j := range ids {
			ids[j] = event.ID(sha256.Sum256(binary.AppendUvarint(nil, uint64(i*idListMax+j))))
		}
		rs = append(rs, Range{Upper: Bound{Time: uint64(i + 1)}, Mode: ModeIDList, IDs: ids})
	}
	rs = append(rs, Range{Upper: Bound{Inf: true}, Mode: ModeFingerprint})
	var buf rwBuffer
	w := newConn(&buf)
	var scope event.Scope
	if err := writeRanges(w, scope, Bound{}, rs); err != nil {
		t.Fatal(err)
	}
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}
	if buf.Len() <= maxFrameSize {
		t.Fatalf("test message is only %d bytes; it should need several frames", buf.Len())
	}
	r := newConn(&buf)
	var got []Range
	frames := 0
	for {
		f, err := r.read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("frame %d: %v", frames, err)
		}
		frames++
		part, err := fromWireRanges(f.Ranges)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, part...)
	}
	if frames < 2 || len(got) != len(rs) {
		t.Fatalf("%d frames carried %d ranges, want %d ranges in several frames", frames, len(got), len(rs))
	}
	for i := range rs {
		if got[i].Upper.Compare(rs[i].Upper) != 0 || got[i].Mode != rs[i].Mode || len(got[i].IDs) != len(rs[i].IDs) {
			t.Fatalf("range %d differs after the round trip", i)
		}
	}
}

func frameBytes(t testing.TB, f *frame) []byte {
	var buf rwBuffer
	c := newConn(&buf)
	if err := c.write(f); err != nil {
		t.Fatal(err)
	}
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func FuzzReadFrame(f *testing.F) {
	scope := make([]byte, event.ScopeSize)
	fl := wireBound{Time: 7}
	f.Add(frameBytes(f, &frame{Type: frameEnd}))
	f.Add(frameBytes(f, &frame{Type: frameReconcile, Scope: scope, Floor: &fl, Ranges: toWireRanges([]Range{
		{Upper: Bound{Time: 9, Prefix: []byte{1, 2}}, Mode: ModeFingerprint},
		{Upper: Bound{Inf: true}, Mode: ModeIDList, IDs: []event.ID{{1}, {2}}},
	})}))
	f.Add(frameBytes(f, &frame{Type: frameWant, Scope: scope, IDs: make([]byte, 64)}))
	f.Add(frameBytes(f, &frame{Type: frameEvents, Scope: scope, Events: [][]byte{{1, 2, 3}}, Remaining: 4}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := newConn(&rwBuffer{*bytes.NewBuffer(data)})
		fr, err := c.read()
		if err != nil {
			return
		}
		if fr.Floor != nil {
			if _, err := fr.Floor.bound(); err != nil {
				return
			}
		}
		rs, err := fromWireRanges(fr.Ranges)
		if err != nil {
			return
		}
		// What decodes must survive a round trip.
		again := frameBytes(t, &frame{Type: fr.Type, Scope: fr.Scope, Floor: fr.Floor, Ranges: toWireRanges(rs), Events: fr.Events, Remaining: fr.Remaining, IDs: fr.IDs})
		fr2, err := newConn(&rwBuffer{*bytes.NewBuffer(again)}).read()
		if err != nil {
			t.Fatalf("re-encoded frame does not decode: %v", err)
		}
		if fr2.Type != fr.Type || len(fr2.Ranges) != len(fr.Ranges) || len(fr2.Events) != len(fr.Events) {
			t.Fatal("re-encoded frame differs")
		}
	})
}
