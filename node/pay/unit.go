package pay

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/store"
	"github.com/banyan-mesh/banyan/wallet"
)

// UnitProtocol answers with the node's unit definition, so that nodes that
// meet can tell whether they count credit alike.
const UnitProtocol protocol.ID = "/banyan/wallet-unit/1"

// unitKey is where the unit's definition is kept, in the table "unit".
var unitKey = []byte("definition")

// unitAskTimeout bounds asking a peer for its definition.
const unitAskTimeout = 10 * time.Second

// ErrUnitChanged reports options that define the unit otherwise than the
// definition this node keeps.
var ErrUnitChanged = errors.New("the wallet options define the unit otherwise than this node's kept definition")

// chooseUnit returns the unit's definition: the one kept in table, unless
// the options give another and Redefine is set; with none kept, the
// options' (the default unit without guarantors if they give nothing),
// signed by id and kept. Options that disagree with what is kept are
// refused: a node started once without --wallet-guarantor would otherwise
// count credit differently from everyone else and say nothing.
func chooseUnit(id *crypto.Identity, table *store.Table, opts WalletOptions, now time.Time) (*wallet.UnitDef, error) {
	given := opts.Unit != "" || len(opts.Guarantors) > 0
	var guarantors []wallet.Account
	for _, g := range opts.Guarantors {
		a, err := ParseWalletAccount(g)
		if err != nil {
			return nil, fmt.Errorf("wallet guarantor: %w", err)
		}
		guarantors = append(guarantors, a)
	}
	unit := opts.Unit
	if unit == "" {
		unit = DefaultWalletUnit
	}
	want, err := wallet.NewUnitDef(id, unit, guarantors, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("wallet unit: %w", err)
	}
	raw, err := table.Get(unitKey)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("wallet unit: %w", err)
	}
	if raw != nil {
		kept, err := wallet.DecodeUnitDef(raw)
		if err != nil {
			return nil, fmt.Errorf("wallet unit: the kept definition: %w", err)
		}
		switch {
		case !given || kept.Same(want):
			return kept, nil
		case !opts.Redefine:
			return nil, fmt.Errorf("%w: it keeps unit %q with %s; the options ask for unit %q with %s. Give the same options or none, or start once with --wallet-redefine to replace the kept definition (every node of the unit must then use the new one)",
				ErrUnitChanged, kept.Unit, guarantorsText(kept.Guarantors), want.Unit, guarantorsText(want.Guarantors))
		}
	}
	if err := table.Put(unitKey, want.Encode()); err != nil {
		return nil, fmt.Errorf("wallet unit: keep the definition: %w", err)
	}
	return want, nil
}

// guarantorsText names guarantors by their peer IDs, as the options that
// set them do.
func guarantorsText(gs []wallet.Account) string {
	if len(gs) == 0 {
		return "no guarantors"
	}
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.String()
		if p, err := crypto.PeerIDFromPublicKey(g[:]); err == nil {
			names[i] = p.String()
		}
	}
	if len(gs) == 1 {
		return "guarantor " + names[0]
	}
	return fmt.Sprintf("%d guarantors %s", len(gs), strings.Join(names, ", "))
}

// Adopt keeps def as the unit's definition from the next start on (the
// ledger of the running node keeps counting by the current one).
func (w *Service) Adopt(def *wallet.UnitDef) error {
	if err := w.unitTable.Put(unitKey, def.Encode()); err != nil {
		return fmt.Errorf("keep the unit definition: %w", err)
	}
	w.units.mu.Lock()
	w.units.adopted = def
	w.units.mu.Unlock()
	w.log.Info("unit definition kept for the next start", "unit", def.Unit, "guarantors", len(def.Guarantors))
	return nil
}

// UnitDef returns the definition the ledger counts by.
func (w *Service) UnitDef() *wallet.UnitDef { return w.units.def }

// unitPeers compares this node's unit definition with its peers'.
type unitPeers struct {
	def  *wallet.UnitDef
	host host.Host
	ask  chan peer.ID

	mu sync.Mutex
	// differ are the peers that define this node's unit otherwise.
	differ map[peer.ID]*wallet.UnitDef
	// adopted is a definition kept for the next start.
	adopted *wallet.UnitDef
	// malformed counts answers that were not a valid definition.
	malformed uint64
}

// maxUnitAsks bounds the peers waiting to be asked; more are asked at
// their next connection.
const maxUnitAsks = 64

func newUnitPeers(def *wallet.UnitDef, h host.Host) *unitPeers {
	return &unitPeers{def: def, host: h, ask: make(chan peer.ID, maxUnitAsks), differ: map[peer.ID]*wallet.UnitDef{}}
}

// connected queues a peer to be asked, without blocking the network.
func (u *unitPeers) connected(p peer.ID) {
	select {
	case u.ask <- p:
	default:
	}
}

// serve answers peers with this node's definition and asks each connected
// peer that answers too for its own, until ctx is done.
func (u *unitPeers) serve(ctx context.Context, w *Service) error {
	if u.host == nil {
		close(w.started)
		<-ctx.Done()
		return nil
	}
	raw := u.def.Encode()
	u.host.SetStreamHandler(UnitProtocol, func(st network.Stream) {
		defer st.Close()
		st.SetDeadline(time.Now().Add(unitAskTimeout))
		st.Write(append(binary.AppendUvarint(nil, uint64(len(raw))), raw...))
	})
	defer u.host.RemoveStreamHandler(UnitProtocol)
	// A peer is asked once it says it answers: when identify completes, or
	// when it adds the protocol later (a node that connects while it is
	// starting serves it a moment after), not at the connection, which
	// may come first.
	sub, err := u.host.EventBus().Subscribe([]any{new(event.EvtPeerIdentificationCompleted), new(event.EvtPeerProtocolsUpdated)})
	if err != nil {
		return fmt.Errorf("unit peers: %w", err)
	}
	nb := &network.NotifyBundle{
		DisconnectedF: func(n network.Network, c network.Conn) {
			if n.Connectedness(c.RemotePeer()) != network.Connected {
				u.mu.Lock()
				delete(u.differ, c.RemotePeer())
				u.mu.Unlock()
			}
		},
	}
	u.host.Network().Notify(nb)
	defer u.host.Network().StopNotify(nb)
	close(w.started)
	for _, p := range u.host.Network().Peers() {
		u.connected(p)
	}
	// The events are taken apart from the asks, which wait on the
	// network: a subscriber that does not drain holds up identify.
	var events sync.WaitGroup
	defer events.Wait()
	defer sub.Close()
	events.Go(func() {
		for e := range sub.Out() {
			switch e := e.(type) {
			case event.EvtPeerIdentificationCompleted:
				if slices.Contains(e.Protocols, UnitProtocol) {
					u.connected(e.Peer)
				}
			case event.EvtPeerProtocolsUpdated:
				if slices.Contains(e.Added, UnitProtocol) {
					u.connected(e.Peer)
				}
			}
		}
	})
	for {
		select {
		case <-ctx.Done():
			return nil
		case p := <-u.ask:
			u.check(ctx, w, p)
		}
	}
}

// check asks p for its definition and notes whether it differs.
func (u *unitPeers) check(ctx context.Context, w *Service, p peer.ID) {
	def, err := askUnit(ctx, u.host, p)
	if errors.Is(err, wallet.ErrBadUnitDef) {
		u.mu.Lock()
		u.malformed++
		u.mu.Unlock()
		w.log.Debug("peer answered with a bad unit definition", "peer", p, "err", err)
		return
	}
	if err != nil {
		w.log.Debug("ask a peer for its unit definition", "peer", p, "err", err)
		return
	}
	// Other units are other ledgers; only a different definition of this
	// one means two ledgers of the same entries.
	differs := def.Unit == u.def.Unit && !def.Same(u.def)
	u.mu.Lock()
	before := u.differ[p]
	if differs {
		u.differ[p] = def
	} else {
		delete(u.differ, p)
	}
	u.mu.Unlock()
	if differs && (before == nil || !before.Same(def)) {
		w.log.Warn("a peer counts credit in this unit by other guarantors: your balances will differ until you agree",
			"peer", p, "unit", def.Unit, "theirs", guarantorsText(def.Guarantors), "yours", guarantorsText(u.def.Guarantors))
	}
}

// askUnit asks p for its unit definition.
func askUnit(ctx context.Context, h host.Host, p peer.ID) (*wallet.UnitDef, error) {
	ctx, cancel := context.WithTimeout(network.WithNoDial(ctx, "unit definition"), unitAskTimeout)
	defer cancel()
	st, err := h.NewStream(ctx, p, UnitProtocol)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	st.SetDeadline(time.Now().Add(unitAskTimeout))
	r := bufio.NewReader(io.LimitReader(st, wallet.MaxUnitDefSize+binary.MaxVarintLen64))
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", wallet.ErrBadUnitDef, err)
	}
	if n > wallet.MaxUnitDefSize {
		return nil, fmt.Errorf("%w: %d bytes", wallet.ErrBadUnitDef, n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("%w: %v", wallet.ErrBadUnitDef, err)
	}
	return wallet.DecodeUnitDef(buf)
}

// UnitDisagreement is a connected peer that defines this node's unit
// otherwise.
type UnitDisagreement struct {
	Peer       peer.ID
	Guarantors []wallet.Account
}

// disagreements returns the connected peers that define the unit
// otherwise, in a stable order.
func (u *unitPeers) disagreements() []UnitDisagreement {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]UnitDisagreement, 0, len(u.differ))
	for p, d := range u.differ {
		out = append(out, UnitDisagreement{Peer: p, Guarantors: d.Guarantors})
	}
	slices.SortFunc(out, func(a, b UnitDisagreement) int { return strings.Compare(string(a.Peer), string(b.Peer)) })
	return out
}
