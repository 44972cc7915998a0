package reconcile_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh/reconcile"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/node/private"
	"github.com/banyan-mesh/banyan/store"
)

// carrier starts a real node carrying events sealed messages of size bytes
// in mailbox bucket 0, a public scope any peer may sync.
func carrier(t *testing.T, events, size int) (*nodetest.Node, event.Scope, int64) {
	n := nodetest.Start(t, "")
	sc := private.MailboxScope(0)
	var evs []*event.Event
	var total int64
	now := time.Now().UnixMilli()
	for i := range events {
		id, err := crypto.NewIdentity()
		if err != nil {
			t.Fatal(err)
		}
		payload := make([]byte, size)
		rand.Read(payload)
		e, err := event.Sign(id, event.Body{Scope: sc[:], Seq: 1, Time: now - int64(i), Kind: event.KindSealed, Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
		total += int64(len(e.Raw))
	}
	if _, err := n.Store().PutEvents(evs, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	return n, sc, total
}

// recentFloor is a floor above a carrier's (its mail's age limit) and
// below its mail, so that it answers from there.
func recentFloor() uint64 { return store.SortTime(time.Now().Add(-time.Hour).UnixMilli()) }

// attack opens a sync stream to n, writes turn and then reads what n sends
// until the stream ends, answering each of n's turns with again (nil: an
// empty turn, which ends the sync).
func attack(t *testing.T, n *nodetest.Node, turn []byte, again []byte, turns int) (out int64, err error) {
	h, _ := nodetest.RawHost(t, n)
	defer h.Close() // a fresh peer for each attack, within the limit per address
	st, err := h.NewStream(context.Background(), n.ID(), reconcile.ProtocolID)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Reset()
	st.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := st.Write(turn); err != nil {
		return 0, err
	}
	r := bufio.NewReader(st)
	for {
		// Read one turn of n's: frames up to an end frame.
		for {
			l, err := binary.ReadUvarint(r)
			if err != nil {
				return out, err
			}
			body := make([]byte, l)
			if _, err := io.ReadFull(r, body); err != nil {
				return out, err
			}
			out += int64(len(binary.AppendUvarint(nil, l))) + int64(l)
			if l == 3 && string(body) == "\xa1\x01\x04" {
				break
			}
		}
		if turns--; turns <= 0 {
			return out, nil
		}
		next := again
		if next == nil {
			next = []byte{0x03, 0xa1, 0x01, 0x04}
		}
		if _, err := st.Write(next); err != nil {
			return out, err
		}
	}
}
