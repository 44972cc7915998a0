package pay_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/node/nodetest"
	"github.com/banyan-mesh/banyan/node/pay"
	"github.com/banyan-mesh/banyan/wallet"
)

const testUnit = "testunit"

// walletAttacker is a raw gossipsub peer, with no Banyan validation and no
// sync, on the wallet topic of the test unit: it publishes what it is told.
type walletAttacker struct {
	topic *pubsub.Topic
}

func newWalletAttacker(t *testing.T, target *nodetest.Node) *walletAttacker {
	t.Helper()
	_, topic := nodetest.RawPeer(t, target, pay.TopicName(testUnit))
	return &walletAttacker{topic: topic}
}

func (a *walletAttacker) publish(t *testing.T, raws ...[]byte) {
	t.Helper()
	for _, raw := range raws {
		if err := a.topic.Publish(context.Background(), raw); err != nil {
			t.Fatal(err)
		}
	}
}

// identityOf loads the identity of a home.
func identityOf(t *testing.T, h home.Home) *crypto.Identity {
	t.Helper()
	id, err := h.Identity(nil)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// sign signs en on top of h as id, without the ledger's checks.
func sign(t *testing.T, id *crypto.Identity, h wallet.Head, en wallet.Entry, now int64) *event.Event {
	t.Helper()
	h.Owner, _ = wallet.AccountOf(id.PublicKey())
	b, err := h.Next(testUnit, en, now)
	if err != nil {
		t.Fatal(err)
	}
	e, err := event.Sign(id, b)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func headOf(t *testing.T, e *event.Event) wallet.Head {
	t.Helper()
	en, err := wallet.CheckEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := wallet.AccountOf(e.Author)
	return wallet.Head{Owner: a, Seq: e.Seq, ID: e.ID, Balance: en.Balance, Time: e.Time}
}

func grant(t *testing.T, g *nodetest.Node, limit uint64, nodes []*nodetest.Node, accts ...wallet.Account) {
	t.Helper()
	for _, a := range accts {
		if _, err := g.Wallet().Grant(context.Background(), a.String(), limit); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range nodes {
		nodetest.Eventually(t, walletWait, fmt.Sprintf("node %d to see the grants", i), func() (bool, string) {
			for _, a := range accts {
				if n.Wallet().Ledger().Limit(a) != limit {
					return false, a.String()
				}
			}
			return true, ""
		})
	}
}

// Strangers cannot empty a red envelope: throwaway keys claim it with
// claims dated before everyone else's (some before the envelope itself),
// and an account with standing outside the group claims too; the sender
// pays only the group's members, and refuses a member's second claim and
// a claim after the shares are gone, with 409.
func TestWalletEnvelopeOnlyForMembers(t *testing.T) {
	ctx := context.Background()
	gHome, gAcct := walletHome(t)
	aHome, aAcct := walletHome(t)
	bHome, bAcct := walletHome(t)
	cHome, cAcct := walletHome(t)
	dHome, _ := walletHome(t)
	sHome, sAcct := walletHome(t)
	opt := withWallet(gAcct)
	g := nodetest.StartWith(t, gHome, opt)
	a := nodetest.StartWith(t, aHome, opt, g.Info())
	b := nodetest.StartWith(t, bHome, opt, a.Info())
	c := nodetest.StartWith(t, cHome, opt, a.Info())
	d := nodetest.StartWith(t, dHome, opt, a.Info())
	s := nodetest.StartWith(t, sHome, opt, a.Info())
	// B has credit, C none: members need no standing. S has credit but is
	// not in the group.
	grant(t, g, 500, []*nodetest.Node{a, b, s}, aAcct, bAcct, sAcct)
	members := []*nodetest.Node{a, b, c, d}
	grp := nodetest.JoinAll(t, members)

	before := balances(a, aAcct, bAcct, cAcct)
	env := sendEnvelope(t, a, grp, 100, 2, []*nodetest.Node{b, c, d})
	envEv, _ := a.Wallet().Ledger().Event(env)
	scope := a.Wallet().Ledger().Scope()

	// The strangers' claims, dated before the members', injected at the
	// sender and on its gossip topic.
	var raws [][]byte
	strangers := map[wallet.Account]bool{sAcct: true}
	for i := range 6 {
		x, _ := crypto.NewIdentity()
		xa, _ := wallet.AccountOf(x.PublicKey())
		strangers[xa] = true
		when := envEv.Time + 1 + int64(i)
		if i%2 == 0 {
			when = envEv.Time - 1000 // before the envelope
		}
		en := wallet.Entry{Type: wallet.TypeClaim, Counterparty: aAcct, Ref: env, Tag: [32]byte{byte(i + 1)}}
		raws = append(raws, sign(t, x, wallet.Head{}, en, when).Raw)
	}
	sID := identityOf(t, sHome)
	sHead, err := s.Wallet().Ledger().Head(sAcct)
	if err != nil {
		t.Fatal(err)
	}
	sClaim := sign(t, sID, sHead, wallet.Entry{Type: wallet.TypeClaim, Counterparty: aAcct, Ref: env, Tag: [32]byte{9}}, envEv.Time+2)
	raws = append(raws, sClaim.Raw)
	if _, _, err := a.Engine().Accept(scope, raws); err != nil {
		t.Fatal(err)
	}
	att := newWalletAttacker(t, b)
	att.publish(t, raws...)
	// The stranger with standing is kept (its entries count for the
	// ledger); the throwaway keys are not.
	nodetest.Eventually(t, walletWait, "the sender to hold the claim with standing", func() (bool, string) {
		_, ok := a.Wallet().Ledger().Entry(sClaim.ID)
		return ok, ""
	})
	for i, raw := range raws[:6] {
		id, _ := event.PeekID(raw)
		for _, n := range []*nodetest.Node{a, b} {
			if _, ok := n.Wallet().Ledger().Entry(id); ok {
				t.Errorf("a throwaway claim %d was kept", i)
			}
		}
	}
	if info, _ := a.Wallet().Ledger().Envelope(env); info.Settled {
		t.Fatal("settled with strangers' claims")
	}

	// The members claim; the sender settles with them.
	claim(t, b, env)
	claim(t, c, env)
	nodes := []*nodetest.Node{g, a, b, c, d, s}
	checkSettled(t, nodes, env, 100, 2, before, aAcct, bAcct, cAcct)
	info, _ := a.Wallet().Ledger().Envelope(env)
	settledStrangers := 0
	for acc := range info.Shares {
		if strangers[acc] {
			settledStrangers++
		}
	}
	t.Logf("strangers' claims settled: %d of %d shares (%d throwaway claims, 1 from an account with standing outside the group)", settledStrangers, info.Count, 6)
	if settledStrangers != 0 {
		t.Fatalf("strangers got %d shares", settledStrangers)
	}

	// A member's second claim, and a claim after the shares are gone, are
	// refused with 409 through the API.
	cb := pay.NewClient(b.Client(t))
	if _, err := cb.Claim(ctx, env.String()); !api.IsStatus(err, 409) {
		t.Errorf("second claim: %v", err)
	}
	cd := pay.NewClient(d.Client(t))
	if _, err := cd.Claim(ctx, env.String()); !api.IsStatus(err, 409) {
		t.Errorf("claim after the shares are gone: %v", err)
	}
	// A member of no group of the envelope cannot claim.
	if _, err := pay.NewClient(s.Client(t)).Claim(ctx, env.String()); !api.IsStatus(err, 400) {
		t.Errorf("claim by a non-member: %v", err)
	}
	// While shares are left, a claim that would be one too many is refused
	// before the settlement: envelope 2 has one share, B claims it, C is
	// told the shares are gone.
	env2 := sendEnvelope(t, a, grp, 10, 1, []*nodetest.Node{b, c})
	claim(t, b, env2)
	nodetest.Eventually(t, walletWait, "C to hold B's claim or the settlement", func() (bool, string) {
		i, _ := c.Wallet().Ledger().Envelope(env2)
		return len(i.Claims) == 1, fmt.Sprint(len(i.Claims))
	})
	if _, err := pay.NewClient(c.Client(t)).Claim(ctx, env2.String()); !api.IsStatus(err, 409) {
		t.Errorf("claim of an envelope whose shares members claimed: %v", err)
	}
}

// A payment request cannot be front-run: a thief who saw the link pays 1
// unit with its nonce, dated before the honest payment, with the request's
// ID (refused at the edge), without it, or with an ID of its own making.
// The honest payment is the one the payee accepts. Then two payers pay one
// request at the same moment: one is accepted, the other is told (409).
func TestWalletRequestFrontRunAndRace(t *testing.T) {
	ctx := context.Background()
	gHome, gAcct := walletHome(t)
	shopHome, shopAcct := walletHome(t)
	aHome, aAcct := walletHome(t)
	bHome, bAcct := walletHome(t)
	mHome, mAcct := walletHome(t)
	opt := withWallet(gAcct)
	g := nodetest.StartWith(t, gHome, opt)
	shop := nodetest.StartWith(t, shopHome, opt, g.Info())
	a := nodetest.StartWith(t, aHome, opt, shop.Info(), g.Info())
	b := nodetest.StartWith(t, bHome, opt, shop.Info(), g.Info())
	m := nodetest.StartWith(t, mHome, opt, shop.Info())
	grant(t, g, 500, []*nodetest.Node{shop, a, b, m}, aAcct, bAcct, mAcct)
	cshop, ca, cb := pay.NewClient(shop.Client(t)), pay.NewClient(a.Client(t)), pay.NewClient(b.Client(t))

	req, err := cshop.Request(ctx, pay.RequestIn{Amount: 120, Memo: "rice", ExpiryS: 3600})
	if err != nil {
		t.Fatal(err)
	}
	r, err := wallet.ParseRequestLink(req.Link)
	if err != nil {
		t.Fatal(err)
	}
	// The thief signs its payments a minute in the past, before anyone's.
	mID := identityOf(t, mHome)
	mHead, err := m.Wallet().Ledger().Head(mAcct)
	if err != nil {
		t.Fatal(err)
	}
	early := time.Now().Add(-time.Minute).UnixMilli()
	bare := sign(t, mID, mHead, wallet.Entry{Type: wallet.TypePay, Counterparty: shopAcct, Amount: 1, Nonce: r.Nonce}, early)
	own := sign(t, mID, headOf(t, bare), wallet.Entry{Type: wallet.TypePay, Counterparty: shopAcct, Amount: 1, Memo: "rice", Nonce: r.Nonce, Expiry: r.Expiry,
		Request: wallet.RequestIDOf(shopAcct, 1, testUnit, "rice", r.Nonce, r.Expiry)}, early+1)
	scope := shop.Wallet().Ledger().Scope()
	if _, rejected, err := shop.Engine().Accept(scope, [][]byte{bare.Raw, own.Raw}); err != nil || rejected != 0 {
		t.Fatal(rejected, err)
	}
	// A payment of 1 naming the request's own ID does not pass the edge.
	forged := forgedRequestPayment(t, mID, headOf(t, own), shopAcct, r, early+2)
	if _, rejected, _ := shop.Engine().Accept(scope, [][]byte{forged}); rejected != 1 {
		t.Fatalf("a payment of 1 naming a request of 120: %d rejected", rejected)
	}

	honest, err := ca.PayRequestWait(ctx, pay.PayRequestIn{Link: req.Link, WaitS: 20})
	if err != nil {
		t.Fatal(err)
	}
	if honest.Status != "ok" || !honest.Accepted {
		t.Fatalf("the honest payment: %+v", honest)
	}
	// The shop's receipt is published before the shop's own ledger hears
	// of it: the payer may see it first.
	nodetest.Eventually(t, walletWait, "the shop to hold its acceptance", func() (bool, string) {
		st := shop.Wallet().Ledger().Request(shopAcct, r.ID())
		return st.Accepted && st.Payment.String() == honest.ID, fmt.Sprintf("%+v", st)
	})
	if info, _ := shop.Wallet().Ledger().Entry(bare.ID); info.Status != wallet.StatusVoid || !errors.Is(info.Reason, wallet.ErrRequestUnnamed) {
		t.Errorf("the bare nonce: %s %v", info.Status, info.Reason)
	}

	// Two payers at once.
	req2, err := cshop.Request(ctx, pay.RequestIn{Amount: 30, Memo: "eggs", ExpiryS: 3600})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]*pay.Entry, 2)
	errs := make([]error, 2)
	for i, cl := range []pay.Client{ca, cb} {
		wg.Go(func() { results[i], errs[i] = cl.PayRequestWait(ctx, pay.PayRequestIn{Link: req2.Link, WaitS: 30}) })
	}
	wg.Wait()
	won, lost := 0, 0
	for i := range 2 {
		switch {
		case errs[i] == nil && results[i].Accepted:
			won++
		case api.IsStatus(errs[i], 409) || api.IsStatus(errs[i], 400):
			lost++
			t.Logf("payer %d told: %v", i, errs[i])
		default:
			t.Errorf("payer %d: %+v, %v", i, results[i], errs[i])
		}
	}
	if won != 1 || lost != 1 {
		t.Fatalf("%d accepted, %d told they lost", won, lost)
	}
	r2, _ := wallet.ParseRequestLink(req2.Link)
	nodetest.Eventually(t, walletWait, "every node to agree on the request", func() (bool, string) {
		want := shop.Wallet().Ledger().Request(shopAcct, r2.ID())
		for _, n := range []*nodetest.Node{a, b, g} {
			if got := n.Wallet().Ledger().Request(shopAcct, r2.ID()); got != want || !got.Accepted {
				return false, fmt.Sprint(got, want)
			}
		}
		return true, ""
	})
	if s := sumBalances(shop.Wallet().Ledger()); s != 0 {
		t.Fatalf("balances sum to %d", s)
	}
}

// forgedRequestPayment is a payment of 1 that names request r (of another
// amount): it bypasses the encoder, which refuses it.
func forgedRequestPayment(t *testing.T, id *crypto.Identity, h wallet.Head, payee wallet.Account, r *wallet.Request, now int64) []byte {
	t.Helper()
	good := wallet.PaymentFor(r)
	good.Amount = r.Amount
	b, err := h.Next(testUnit, good, now)
	if err != nil {
		t.Fatal(err)
	}
	// Re-sign the same body with the amount changed to 1 in the payload,
	// by swapping the encoded amount (120 = 0x18 0x78, 1 = 0x01) and the
	// balance accordingly is not needed: the edge refuses it first.
	payload := append([]byte(nil), b.Payload...)
	for i := 0; i+2 < len(payload); i++ {
		if payload[i] == 0x03 && payload[i+1] == 0x18 && payload[i+2] == byte(r.Amount) {
			payload = append(append(payload[:i+1:i+1], 0x01), payload[i+3:]...)
			break
		}
	}
	b.Payload = payload
	e, err := event.Sign(id, b)
	if err != nil {
		t.Fatal(err)
	}
	return e.Raw
}

// A restored identity (a key copied onto an empty store) writes nothing —
// not even the receipt of a payment it is served — until it has caught up
// with its own chain: a peer that withholds its old entries cannot make it
// fork. Once it syncs with an honest peer, it receipts at the right place.
func TestWalletRestoredIdentityWaitsForItsHead(t *testing.T) {
	ctx := context.Background()
	gHome, gAcct := walletHome(t)
	aHome, aAcct := walletHome(t)
	pHome, pAcct := walletHome(t)
	opt := withWallet(gAcct)
	g := nodetest.StartWith(t, gHome, opt)
	a := nodetest.StartWith(t, aHome, opt, g.Info())
	p := nodetest.StartWith(t, pHome, opt, g.Info())
	grant(t, g, 500, []*nodetest.Node{a, p}, aAcct, pAcct)
	// A has a history: it pays P twice.
	for _, amount := range []uint64{10, 20} {
		if _, err := a.Wallet().Pay(ctx, pAcct.String(), amount, "before the restore"); err != nil {
			t.Fatal(err)
		}
	}
	nodetest.Eventually(t, walletWait, "P to receipt A's payments", func() (bool, string) {
		return len(p.Wallet().Ledger().Unreceipted(pAcct)) == 0 && p.Wallet().Ledger().Balance(pAcct) == 30, ""
	})
	aHead, err := a.Wallet().Ledger().Head(aAcct)
	if err != nil {
		t.Fatal(err)
	}
	a.Stop()

	// A's key is restored onto an empty store; the node's only peer is an
	// attacker that serves G's and P's chains and a new payment from P,
	// and withholds A's own entries.
	rHome := home.Home(t.TempDir())
	key, err := os.ReadFile(aHome.KeyFile())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rHome.KeyFile(), key, 0o600); err != nil {
		t.Fatal(err)
	}
	r := nodetest.StartWith(t, rHome, opt)
	if w, err := pay.NewClient(r.Client(t)).Wallet(ctx); err != nil || !w.CatchingUp {
		t.Fatalf("the restored wallet: %+v, %v", w, err)
	}
	newPay, err := p.Wallet().Pay(ctx, aAcct.String(), 5, "after the restore")
	if err != nil {
		t.Fatal(err)
	}
	var served [][]byte
	for _, who := range []wallet.Account{gAcct, pAcct} {
		for _, info := range p.Wallet().Ledger().Chain(who) {
			e, _ := p.Wallet().Ledger().Event(info.ID)
			served = append(served, e.Raw)
		}
	}
	att := newWalletAttacker(t, r)
	att.publish(t, served...)
	nodetest.Eventually(t, walletWait, "the restored node to hold the new payment", func() (bool, string) {
		info, ok := r.Wallet().Ledger().Entry(newPay.ID)
		return ok && info.Status == wallet.StatusOK, fmt.Sprint(info.Status)
	})
	r.Wallet().ReceiptNow(ctx)
	if seq, _, err := r.Store().Head(r.Wallet().Ledger().Scope(), aAcct[:]); err != nil || seq != 0 {
		t.Fatalf("the restored node wrote on its chain at %d (%v)", seq, err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := r.Wallet().Pay(short, pAcct.String(), 1, ""); !errors.Is(err, pay.ErrCatchingUp) {
		t.Fatalf("a payment while catching up: %v", err)
	}

	// An honest peer: the restored node catches up and receipts the new
	// payment right after its real head.
	if err := r.Host().Connect(ctx, g.Info()); err != nil {
		t.Fatal(err)
	}
	r.Syncer().TriggerNow(g.ID())
	nodetest.Eventually(t, walletWait, "the restored node to catch up and receipt", func() (bool, string) {
		l := r.Wallet().Ledger()
		return r.Wallet().HeadKnown() && len(l.Unreceipted(aAcct)) == 0, fmt.Sprint(r.Wallet().HeadKnown(), l.Len())
	})
	head, err := r.Wallet().Ledger().Head(aAcct)
	if err != nil {
		t.Fatal(err)
	}
	if head.Seq != aHead.Seq+1 {
		t.Fatalf("the receipt is at %d, the chain's head was %d", head.Seq, aHead.Seq)
	}
	for i, n := range []*nodetest.Node{g, p, r} {
		nodetest.Eventually(t, walletWait, fmt.Sprintf("node %d to hold the receipt", i), func() (bool, string) {
			_, ok := n.Wallet().Ledger().Entry(head.ID)
			return ok, ""
		})
		if n.Wallet().Ledger().Frozen(aAcct) {
			t.Fatalf("node %d: the restored identity forked", i)
		}
	}
}

// A fraud proof is exported as text through the API, and checks alone.
func TestWalletFraudProofExport(t *testing.T) {
	ctx := context.Background()
	gHome, gAcct := walletHome(t)
	xHome, xAcct := walletHome(t)
	opt := withWallet(gAcct)
	g := nodetest.StartWith(t, gHome, opt)
	x := nodetest.StartWith(t, xHome, opt, g.Info())
	grant(t, g, 100, []*nodetest.Node{g, x}, xAcct)
	e1, err := x.Wallet().Pay(ctx, gAcct.String(), 40, "first")
	if err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, walletWait, "G to hold X's payment", func() (bool, string) {
		_, ok := g.Wallet().Ledger().Entry(e1.ID)
		return ok, ""
	})
	// X's copied device pays again at the same position.
	h, _ := g.Wallet().Ledger().Head(gAcct)
	_ = h
	var prev wallet.Head
	if e1.Seq > 1 {
		pe, _ := g.Wallet().Ledger().Event(e1.PrevID())
		prev = headOf(t, pe)
	}
	e2 := sign(t, identityOf(t, xHome), prev, wallet.Payment(gAcct, 41, "second"), e1.Time+1)
	if _, _, err := g.Engine().Accept(g.Wallet().Ledger().Scope(), [][]byte{e2.Raw}); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, walletWait, "G to freeze X", func() (bool, string) { return g.Wallet().Ledger().Frozen(xAcct), "" })
	cg := pay.NewClient(g.Client(t))
	ps, err := cg.FraudProofs(ctx, x.ID().String())
	if err != nil || len(ps.Proofs) == 0 {
		t.Fatal(ps, err)
	}
	p, err := wallet.ParseFraudProof(ps.Proofs[0].Text)
	if err != nil {
		t.Fatal(err)
	}
	info, err := p.Info()
	if err != nil || info.Author != xAcct || info.Seq != e1.Seq || info.Unit != testUnit || ps.Account != xAcct.String() {
		t.Fatalf("proof %+v, %v", info, err)
	}
	if _, err := cg.FraudProofs(ctx, gAcct.String()); !api.IsStatus(err, 404) {
		t.Errorf("proof against an honest account: %v", err)
	}
	if _, err := cg.FraudProofs(ctx, "nobody"); !api.IsStatus(err, 400) {
		t.Errorf("proof against nobody: %v", err)
	}
}

// Entries from made-up keys are neither kept nor forwarded: a flood of
// chains from thousands of fresh keys with made-up predecessors, and of
// forks by fresh keys, leaves nothing in the store and starts at most one
// sync per peer. An entry that arrives before what gives its author
// standing (a payment before its payer's grant) is kept once the grant
// arrives.
func TestWalletStrangersNotKept(t *testing.T) {
	ctx := context.Background()
	gHome, gAcct := walletHome(t)
	bHome, bAcct := walletHome(t)
	opt := withWallet(gAcct)
	g := nodetest.StartWith(t, gHome, opt)
	a := nodetest.StartWith(t, "", opt, g.Info())
	b := nodetest.StartWith(t, bHome, opt, a.Info())
	grant(t, g, 100, []*nodetest.Node{a, b}, bAcct)
	before := a.Wallet().Ledger().Len()
	scope := a.Wallet().Ledger().Scope()

	const fresh = 2000
	var flood [][]byte
	var proofs [][]byte
	for i := range fresh {
		x, _ := crypto.NewIdentity()
		h := wallet.Head{Seq: 4 + uint64(i%5), ID: event.ID{byte(i), byte(i >> 8), 7}, Time: time.Now().UnixMilli() - 10_000}
		e := sign(t, x, h, wallet.Payment(bAcct, 1, "spam"), time.Now().UnixMilli())
		flood = append(flood, e.Raw)
		if i < 50 {
			f := sign(t, x, h, wallet.Payment(bAcct, 2, "spam"), time.Now().UnixMilli()+1)
			p, err := wallet.NewFraudProof(e, f)
			if err != nil {
				t.Fatal(err)
			}
			proofs = append(proofs, p.Encode())
		}
	}
	att := newWalletAttacker(t, a)
	att.publish(t, flood...)
	stored, _, err := a.Engine().Accept(scope, flood)
	if err != nil {
		t.Fatal(err)
	}
	if stored != 0 {
		t.Fatalf("%d entries of made-up keys stored", stored)
	}
	if a.Wallet().Held() > pay.MaxHeld {
		t.Fatalf("%d entries held in memory", a.Wallet().Held())
	}
	// The proofs of forks by fresh keys go on the proof topic.
	pt := proofTopic(t, a)
	for _, p := range proofs {
		if err := pt.Publish(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	// A real fork, by an account with standing, spreads and starts syncs,
	// at most one per peer per minute.
	bID := identityOf(t, bHome)
	for k := range 3 {
		h, _ := a.Wallet().Ledger().Head(bAcct)
		e1 := sign(t, bID, h, wallet.Payment(gAcct, 1, fmt.Sprint("fork a", k)), time.Now().UnixMilli()+int64(k))
		e2 := sign(t, bID, h, wallet.Payment(gAcct, 2, fmt.Sprint("fork b", k)), time.Now().UnixMilli()+int64(k))
		if _, _, err := a.Engine().Accept(scope, [][]byte{e1.Raw, e2.Raw}); err != nil {
			t.Fatal(err)
		}
	}
	nodetest.Eventually(t, walletWait, "the fork to reach G", func() (bool, string) { return g.Wallet().Ledger().Frozen(bAcct), "" })
	started, held := a.Wallet().ProofSyncs()
	peers := len(a.Host().Network().Peers())
	t.Logf("made-up entries stored: %d of %d; held in memory %d; proof syncs started %d, held back %d, peers %d",
		a.Wallet().Ledger().Len()-before-6, fresh, a.Wallet().Held(), started, held, peers)
	if started > uint64(peers) {
		t.Fatalf("%d proof syncs for %d peers", started, peers)
	}
	for i, n := range []*nodetest.Node{a, g, b} {
		for _, raw := range flood[:100] {
			id, _ := event.PeekID(raw)
			if _, ok := n.Wallet().Ledger().Entry(id); ok {
				t.Fatalf("node %d holds an entry of a made-up key", i)
			}
		}
		if got := n.Wallet().Ledger().FrozenAccounts(); len(got) != 1 || got[0] != bAcct {
			t.Fatalf("node %d frozen %d accounts", i, len(got))
		}
	}

	// Out of order: C's payment arrives at a node before C's grant.
	cHome, cAcct := walletHome(t)
	cID := identityOf(t, cHome)
	gID := identityOf(t, gHome)
	gHead, _ := a.Wallet().Ledger().Head(gAcct)
	grantC := sign(t, gID, gHead, wallet.LimitGrant(cAcct, 50, ""), time.Now().UnixMilli())
	payC := sign(t, cID, wallet.Head{}, wallet.Payment(gAcct, 7, "before my grant"), time.Now().UnixMilli()+1)
	if stored, _, _ := a.Engine().Accept(scope, [][]byte{payC.Raw}); stored != 0 {
		t.Fatal("a payment without standing stored")
	}
	if stored, _, _ := a.Engine().Accept(scope, [][]byte{grantC.Raw}); stored != 1 {
		t.Fatal("the grant not stored")
	}
	nodetest.Eventually(t, walletWait, "the early payment to be kept once its payer has standing", func() (bool, string) {
		info, ok := a.Wallet().Ledger().Entry(payC.ID)
		return ok && info.Status == wallet.StatusOK, fmt.Sprint(info.Status)
	})
	_ = hex.EncodeToString
}

// proofTopic joins node n's fraud proof topic with a raw gossipsub peer.
func proofTopic(t *testing.T, n *nodetest.Node) *pubsub.Topic {
	t.Helper()
	id, _ := crypto.NewIdentity()
	h, err := mesh.NewHost(mesh.HostOptions{Identity: id, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ps, err := pubsub.NewGossipSub(ctx, h, pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign), pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(func(m *pb.Message) string { s := sha256.Sum256(m.Data); return string(s[:]) }),
		pubsub.WithMaxMessageSize(1<<20), pubsub.WithFloodPublish(true))
	if err != nil {
		t.Fatal(err)
	}
	topic, err := ps.Join(pay.ProofTopicName(testUnit))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := topic.Subscribe(); err != nil {
		t.Fatal(err)
	}
	if err := h.Connect(ctx, n.Info()); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, "the proof topic", func() (bool, string) { return len(topic.ListPeers()) > 0, "" })
	return topic
}

// The group feature's member MAC is the claim tag WALLET.md defines.
func TestWalletClaimTagIsGroupMAC(t *testing.T) {
	n := nodetest.StartWith(t, "", withWallet())
	g, err := n.Groups().Create("family")
	if err != nil {
		t.Fatal(err)
	}
	env, claimant := event.ID{1, 2, 3}, wallet.Account{4, 5, 6}
	mac, ok := n.Groups().GroupMAC(g.Scope(), wallet.ClaimTagLabel, wallet.ClaimTagData(env, claimant))
	if !ok || mac != wallet.ClaimTag(g.Key, env, claimant) {
		t.Fatalf("group MAC %x, claim tag %x", mac, wallet.ClaimTag(g.Key, env, claimant))
	}
	if _, ok := n.Groups().GroupMAC(event.Scope{9}, wallet.ClaimTagLabel, nil); ok {
		t.Fatal("a MAC for a group this node is not in")
	}
}
