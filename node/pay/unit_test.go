package pay_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/node/pay"
	"github.com/banyan-mesh/banyan/wallet"
)

// newNode builds a node on h without serving it, for what New refuses.
func newNode(h home.Home, w pay.WalletOptions) (*node.Node, error) {
	return node.New(node.Options{Home: h, Listen: []string{"/ip4/127.0.0.1/tcp/0"}, API: "off", NoMDNS: true,
		Logger: nodetest.QuietLogger(), Wallet: w})
}

// The unit's definition is kept from the first start: a node started
// later without the guarantor still counts the guarantor's grants; one
// started with other guarantors is refused, saying how to go on; and
// --wallet-redefine replaces the definition.
func TestUnitDefinitionKept(t *testing.T) {
	h, _ := walletHome(t)
	_, g := walletHome(t)
	_, other := walletHome(t)
	guarantors := func(n *nodetest.Node) []wallet.Account { return n.Wallet().Ledger().Config().Guarantors }
	n := nodetest.StartWith(t, h, withWallet(g))
	n.Stop()
	n = nodetest.Start(t, h)
	if got := guarantors(n); n.Wallet().Unit() != "testunit" || !slices.Equal(got, []wallet.Account{g}) {
		t.Fatalf("restarted without wallet options: unit %q, guarantors %v", n.Wallet().Unit(), got)
	}
	n.Stop()
	_, err := newNode(h, pay.WalletOptions{Unit: "testunit", Guarantors: []string{other.String()}})
	if !errors.Is(err, pay.ErrUnitChanged) || !strings.Contains(err.Error(), "--wallet-redefine") {
		t.Fatalf("other guarantors: %v", err)
	}
	// By peer ID, as --wallet-guarantor takes them.
	if kept, _ := crypto.PeerIDFromPublicKey(g[:]); !strings.Contains(err.Error(), "guarantor "+kept.String()) {
		t.Errorf("the refusal does not name the kept guarantor %s: %v", kept, err)
	}
	n = nodetest.StartWith(t, h, func(o *node.Options) {
		withWallet(other)(o)
		o.Wallet.Redefine = true
	})
	if got := guarantors(n); !slices.Equal(got, []wallet.Account{other}) {
		t.Fatalf("after redefining: %v", got)
	}
}

// Connected nodes that define the unit with other guarantors say so, on
// both sides; one that adopts the other's code agrees from its next start.
func TestUnitDisagreementSaid(t *testing.T) {
	ctx := context.Background()
	_, g := walletHome(t)
	_, h2 := walletHome(t)
	a := nodetest.StartWith(t, "", withWallet(g))
	bHome, _ := walletHome(t)
	b := nodetest.StartWith(t, bHome, withWallet(h2), a.Info())
	c := nodetest.StartWith(t, "", withWallet(g), a.Info())
	disagree := func(n *nodetest.Node) []peer.ID {
		w, err := pay.NewClient(n.Client(t)).Wallet(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []peer.ID
		for _, d := range w.Disagree {
			p, _ := peer.Decode(d.Peer.PeerID)
			out = append(out, p)
		}
		return out
	}
	nodetest.Eventually(t, 10*time.Second, "A and B to see that they disagree", func() (bool, string) {
		da, db := disagree(a), disagree(b)
		return slices.Equal(da, []peer.ID{b.ID()}) && slices.Equal(db, []peer.ID{a.ID()}), "A: " + fmtIDs(da) + " B: " + fmtIDs(db)
	})
	if d := disagree(c); len(d) != 0 {
		t.Errorf("C, which agrees with A, disagrees with %v", d)
	}
	u, err := pay.NewClient(a.Client(t)).Unit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next, err := pay.NewClient(b.Client(t)).AdoptUnit(ctx, u.Code)
	if err != nil {
		t.Fatal(err)
	}
	if next.Next == nil || next.Next.Unit != "testunit" || len(next.Next.Guarantors) != 1 || next.Unit != "testunit" {
		t.Fatalf("adopted: %+v", next)
	}
	b.Stop()
	b = nodetest.Start(t, bHome, a.Info())
	if got := b.Wallet().Ledger().Config().Guarantors; !slices.Equal(got, []wallet.Account{g}) {
		t.Fatalf("B after adopting A's definition counts by %v", got)
	}
	nodetest.Eventually(t, 10*time.Second, "A and B to agree", func() (bool, string) {
		da, db := disagree(a), disagree(b)
		return len(da) == 0 && len(db) == 0, "A: " + fmtIDs(da) + " B: " + fmtIDs(db)
	})
}

func fmtIDs(ids []peer.ID) string {
	s := make([]string, len(ids))
	for i, p := range ids {
		s[i] = p.ShortString()
	}
	return "[" + strings.Join(s, " ") + "]"
}

// A raw peer that answers with garbage, a length beyond the bound, or a
// definition it tampered with is counted and changes nothing.
func TestUnitHostileAnswers(t *testing.T) {
	ctx := context.Background()
	n := nodetest.StartWith(t, "", withWallet())
	good, err := pay.NewClient(n.Client(t)).Unit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	def, err := wallet.ParseUnitLink(good.Code)
	if err != nil {
		t.Fatal(err)
	}
	tampered := def.Encode()
	tampered[len(tampered)-1] ^= 1
	answers := [][]byte{
		append(binary.AppendUvarint(nil, 10), "not a unit"...),
		binary.AppendUvarint(nil, 1<<40),
		append(binary.AppendUvarint(nil, uint64(len(tampered))), tampered...),
		{0xff, 0xff},
	}
	for i, answer := range answers {
		raw, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		raw.SetStreamHandler(pay.UnitProtocol, func(st network.Stream) {
			st.Write(answer)
			st.Close()
		})
		if err := raw.Connect(ctx, n.Info()); err != nil {
			t.Fatal(err)
		}
		want := uint64(i + 1)
		nodetest.Eventually(t, 10*time.Second, "the bad answer to be counted", func() (bool, string) {
			u, err := pay.NewClient(n.Client(t)).Unit(ctx)
			if err != nil {
				return false, err.Error()
			}
			return u.BadAnswers == want && len(u.Disagree) == 0, "counted " + strings.Repeat("|", int(u.BadAnswers))
		})
	}
}

// A peer that connects before it answers for its unit (a node that is
// still starting) is asked once it says it does.
func TestUnitAskedOnceThePeerAnswers(t *testing.T) {
	ctx := context.Background()
	_, g := walletHome(t)
	n := nodetest.StartWith(t, "", withWallet(g))
	raw, id := nodetest.RawHost(t, n)
	// The same unit, with the raw peer as its only guarantor.
	def, err := wallet.NewUnitDef(id, "testunit", []wallet.Account{wallet.Account(id.PublicKey())}, time.Now().UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	enc := def.Encode()
	nodetest.Eventually(t, 10*time.Second, "the node to identify the peer, which does not answer yet", func() (bool, string) {
		ps, err := n.Host().Peerstore().GetProtocols(raw.ID())
		return err == nil && len(ps) > 0, "not identified yet"
	})
	raw.SetStreamHandler(pay.UnitProtocol, func(st network.Stream) {
		st.Write(append(binary.AppendUvarint(nil, uint64(len(enc))), enc...))
		st.Close()
	})
	nodetest.Eventually(t, 10*time.Second, "the node to see the peer's other guarantor", func() (bool, string) {
		u, err := pay.NewClient(n.Client(t)).Unit(ctx)
		if err != nil {
			return false, err.Error()
		}
		return len(u.Disagree) == 1 && u.Disagree[0].Peer.PeerID == raw.ID().String(), fmt.Sprint(u.Disagree)
	})
}
