package reconcile

import (
	"encoding/binary"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// For the tests of package reconcile_test, which mount attacks on real
// nodes.

func encodeTurn(fs ...*frame) []byte {
	var out []byte
	for _, f := range append(fs, endFrame) {
		b, err := encMode.Marshal(f)
		if err != nil {
			panic(err)
		}
		out = append(binary.AppendUvarint(out, uint64(len(b))), b...)
	}
	return out
}

// AmplifyTurn is a first turn of one frame of ranges alternating "up to
// infinity, I have nothing" and "back down to the floor" (floorTime,
// empty).
func AmplifyTurn(sc event.Scope, floorTime uint64, ranges int) []byte {
	fl := wireBound{Time: floorTime}
	rs := make([]wireRange, ranges)
	for i := range rs {
		rs[i] = wireRange{Upper: inf, Mode: ModeIDList}
		if i%2 == 1 {
			rs[i].Upper = fl
		}
	}
	return encodeTurn(reconcileFrame(sc, fl, rs...))
}

// NothingTurn is a turn that says "I have nothing" about scope sc: one
// empty ID list from the floor (floorTime, empty) up to infinity.
func NothingTurn(sc event.Scope, floorTime uint64) []byte {
	return encodeTurn(reconcileFrame(sc, wireBound{Time: floorTime}, wireRange{Upper: inf, Mode: ModeIDList}))
}

// peerState counts the entries the syncer keeps per peer.
func (s *Syncer) peerState() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.wanted) + len(s.lastStart) + len(s.lastLazy) + len(s.failures)
}

// answering counts the syncs this node is answering.
func (s *Syncer) answering() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.inbound)
}
