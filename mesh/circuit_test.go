package mesh

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	pbv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/pb"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/banyan-mesh/banyan/crypto"
)

func newCircuitHost(t *testing.T) host.Host {
	t.Helper()
	id, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHost(HostOptions{Identity: id, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}, Circuits: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// newRelayHost is a host serving circuits within l.
func newRelayHost(t *testing.T, l CircuitLimits) host.Host {
	t.Helper()
	r := newCircuitHost(t)
	cr, err := NewCircuitRelay(r, l)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cr.Close() })
	return r
}

const sinkProtocol protocol.ID = "/banyan-test/sink/1"

// circuitConnect connects a to c through a circuit of relay r, on which c
// takes a slot.
func circuitConnect(t *testing.T, r, a, c host.Host) {
	t.Helper()
	connect(t, c, r)
	if _, err := Reserve(context.Background(), c, r.ID()); err != nil {
		t.Fatal(err)
	}
	connect(t, a, r)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: c.ID(), Addrs: []ma.Multiaddr{CircuitAddr(r.ID())}}); err != nil {
		t.Fatalf("dial through the relay: %v", err)
	}
	if got := a.Network().Connectedness(c.ID()); got != network.Limited {
		t.Fatalf("a is %v to c, want limited (a circuit)", got)
	}
}

// circuitStream opens a stream from a to c through a circuit of relay r;
// c's end of it is sent on ends.
func circuitStream(t *testing.T, r, a, c host.Host) (network.Stream, <-chan network.Stream) {
	t.Helper()
	ends := make(chan network.Stream, 1)
	c.SetStreamHandler(sinkProtocol, func(s network.Stream) { ends <- s })
	circuitConnect(t, r, a, c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := a.NewStream(network.WithAllowLimitedConn(ctx, "test"), c.ID(), sinkProtocol)
	if err != nil {
		t.Fatal(err)
	}
	return s, ends
}

// An envelope handed straight to a peer goes over a circuit too.
func TestDirectDeliveryOverACircuit(t *testing.T) {
	r := newRelayHost(t, CircuitLimits{})
	a, c := newCircuitHost(t), newCircuitHost(t)
	got := make(chan []byte, 1)
	HandleDirect(c, DirectProtocol, func(_ peer.ID, raw []byte) (func(), error) {
		got <- raw
		return nil, nil
	})
	circuitConnect(t, r, a, c)
	if err := SendDirect(context.Background(), a, DirectProtocol, c.ID(), []byte("sealed mail")); err != nil {
		t.Fatal(err)
	}
	if raw := <-got; string(raw) != "sealed mail" {
		t.Fatalf("got %q", raw)
	}
}

// A circuit is reset once it has carried its data limit: the far end
// reads less than was sent, then an error, not the end of the stream.
func TestCircuitCutAtItsDataLimit(t *testing.T) {
	// Above what identify takes on a new connection (a few KiB).
	const limit = 64 << 10
	r := newRelayHost(t, CircuitLimits{Data: limit})
	a, c := newCircuitHost(t), newCircuitHost(t)
	s, ends := circuitStream(t, r, a, c)
	defer s.Reset()
	// The stream reaches the far end before the circuit can be cut.
	if _, err := s.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	end := farEnd(t, ends)
	go func() {
		chunk := make([]byte, 1024)
		for range 1024 {
			if _, err := s.Write(chunk); err != nil {
				return
			}
		}
		s.CloseWrite()
	}()
	end.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, err := io.Copy(io.Discard, end)
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read %d bytes then %v; want a reset before %d bytes", n, err, limit)
	}
	if n >= limit {
		t.Fatalf("the far end read %d bytes through a circuit limited to %d", n, limit)
	}
}

// A circuit is reset once it has lasted its duration, though idle.
func TestCircuitCutAtItsDuration(t *testing.T) {
	r := newRelayHost(t, CircuitLimits{Duration: time.Second})
	a, c := newCircuitHost(t), newCircuitHost(t)
	s, ends := circuitStream(t, r, a, c)
	defer s.Reset()
	if _, err := s.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	end := farEnd(t, ends)
	// Far beyond the limit: the read must end by the relay's reset first.
	end.SetReadDeadline(time.Now().Add(30 * time.Second))
	start := time.Now()
	_, err := io.Copy(io.Discard, end)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 20*time.Second {
		t.Fatalf("the idle circuit was not cut: %v after %v", err, time.Since(start))
	}
	eventually(t, 10*time.Second, "the circuit to be gone", func() bool {
		return a.Network().Connectedness(c.ID()) == network.NotConnected
	})
}

// Peers with fresh identities cannot take more slots than the relay has,
// nor, from one address, more than that address's share; a peer that
// renews its slot takes no second one.
func TestCircuitReservationsBounded(t *testing.T) {
	for _, tc := range []struct {
		name          string
		limits        CircuitLimits
		granted, asks int
	}{
		{"every slot taken", CircuitLimits{Reservations: 3, ReservationsPerIP: 3}, 3, 5},
		{"one address's share", CircuitLimits{Reservations: 16, ReservationsPerIP: 2}, 2, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRelayHost(t, tc.limits)
			var peers []host.Host
			for i := range tc.asks {
				p := newCircuitHost(t)
				connect(t, p, r)
				_, err := Reserve(context.Background(), p, r.ID())
				var re client.ReservationError
				switch {
				case i < tc.granted && err != nil:
					t.Fatalf("slot %d refused: %v", i, err)
				case i >= tc.granted && (!errors.As(err, &re) || re.Status != pbv2.Status_RESERVATION_REFUSED):
					t.Fatalf("slot %d of %d: %v, want refused", i, tc.granted, err)
				}
				peers = append(peers, p)
			}
			if _, err := Reserve(context.Background(), peers[0], r.ID()); err != nil {
				t.Fatalf("renewing a slot: %v", err)
			}
			// A slot freed by a peer that leaves is free for the next.
			peers[1].Close()
			eventually(t, 10*time.Second, "a freed slot to be given", func() bool {
				_, err := Reserve(context.Background(), peers[tc.granted], r.ID())
				return err == nil
			})
		})
	}
}

// eventually waits for cond, failing after d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// farEnd returns the far end of a stream, once it came.
func farEnd(t *testing.T, ends <-chan network.Stream) network.Stream {
	t.Helper()
	select {
	case s := <-ends:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not reach the far end")
		return nil
	}
}
