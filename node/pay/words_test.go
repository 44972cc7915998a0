package pay

import (
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node/people"
	"github.com/banyan-mesh/banyan/wallet"
)

type names map[peer.ID]people.Names

func (n names) Names(p peer.ID) people.Names { return n[p] }

func account(t *testing.T) (wallet.Account, peer.ID) {
	t.Helper()
	id, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	a, err := wallet.AccountOf(id.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return a, id.PeerID()
}

// Wallet lines read as a person would say them, from this person's side,
// with people shown as everywhere else.
func TestWalletWords(t *testing.T) {
	me, mePeer := account(t)
	bob, bobPeer := account(t)
	mei, meiPeer := account(t)
	dir := people.New(mePeer)
	dir.Add(names{bobPeer: {Nickname: "bob"}, meiPeer: {Claimed: "mei"}})
	l, err := wallet.NewLedger(wallet.Config{Unit: "village"})
	if err != nil {
		t.Fatal(err)
	}
	w := &Service{me: me, people: dir, ledger: l}
	meiLabel := "~mei (" + people.Short(meiPeer.String()) + ")"
	// This year's 25 November, said without the year.
	at := time.Date(time.Now().Year(), 11, 25, 1, 20, 0, 0, time.Local)
	expiry := at.UnixMilli()
	tests := []struct {
		author wallet.Account
		en     wallet.Entry
		want   string
		with   string
	}{
		{me, wallet.Entry{Type: wallet.TypePay, Counterparty: bob, Amount: 250}, "paid bob 250", "bob"},
		{bob, wallet.Entry{Type: wallet.TypePay, Counterparty: me, Amount: 250}, "bob paid you 250", "bob"},
		{mei, wallet.Entry{Type: wallet.TypePay, Counterparty: me, Amount: 5}, meiLabel + " paid you 5", meiLabel},
		{me, wallet.Entry{Type: wallet.TypeRefund, Counterparty: bob, Amount: 40}, "refunded bob 40", "bob"},
		{bob, wallet.Entry{Type: wallet.TypeRefund, Counterparty: me, Amount: 40}, "bob refunded you 40", "bob"},
		{me, wallet.Entry{Type: wallet.TypeReceipt, Counterparty: bob, Amount: 250}, "accepted 250 from bob", "bob"},
		{bob, wallet.Entry{Type: wallet.TypeReceipt, Counterparty: me, Amount: 250}, "bob accepted your 250", "bob"},
		{me, wallet.Entry{Type: wallet.TypeLimit, Counterparty: mei, Amount: 500}, "gave " + meiLabel + " a credit limit of 500", meiLabel},
		{me, wallet.Entry{Type: wallet.TypeEnvelope, Amount: 100, Count: 5, Expiry: expiry},
			"you put 100 in a red envelope of 5 shares, claimable until " + at.Format("Mon") + " 25 Nov, 01:20; what is not claimed by then goes back to you", ""},
		{me, wallet.Entry{Type: wallet.TypeClaim, Counterparty: bob}, "claimed a share of bob's red envelope", "bob"},
		{bob, wallet.Entry{Type: wallet.TypeClaim, Counterparty: me}, "bob claimed a share of your red envelope", "bob"},
		{me, wallet.Entry{Type: wallet.TypeSettle, Amount: 30, Claims: make([]event.ID, 2)}, "dealt your red envelope: 2 shares claimed, 30 back to you", ""},
		{bob, wallet.Entry{Type: wallet.TypeSettle}, "bob dealt a red envelope", "bob"},
	}
	for _, tc := range tests {
		text, with := w.say(wallet.EntryInfo{Author: tc.author, Entry: tc.en})
		if text != tc.want {
			t.Errorf("%s by %s:\n got %q\nwant %q", tc.en.Type, tc.author, text, tc.want)
		}
		switch {
		case tc.with == "" && with != nil:
			t.Errorf("%q: with %+v, want nobody", tc.want, *with)
		case tc.with != "" && (with == nil || with.Label != tc.with):
			t.Errorf("%q: with %+v, want %s", tc.want, with, tc.with)
		}
		if strings.Contains(text, "…") && !strings.Contains(text, meiLabel) {
			t.Errorf("%q shows a bare ID", text)
		}
	}
}
