package wallet_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/wallet"
)

// sameState checks that the events, added in several orders to fresh
// ledgers, give v's state.
func sameState(t *testing.T, v *village, evs []*event.Event) {
	t.Helper()
	want := v.l.StateHash()
	for _, order := range [][]*event.Event{evs, reversed(evs)} {
		l, _ := wallet.NewLedger(v.l.Config())
		for _, e := range order {
			if _, err := l.Add(e); err != nil {
				t.Fatal(err)
			}
		}
		if l.StateHash() != want {
			t.Fatal("another order gives another state")
		}
	}
}

// The sender settles an envelope, a claimant spends its share, and the
// sender then forks: an earlier-dated second settlement pays throwaway
// claims of its own. Both settlements count; the spent share and the
// payment made from it stand; the sender carries the difference.
func TestForkedSettleCannotEraseShares(t *testing.T) {
	v := newVillage(t, 4, wallet.Config{})
	sender, b, c, d := 0, 1, 2, 3
	v.do(v.g, wallet.LimitGrant(v.a(sender), 1000, ""))
	seed := wallet.Seed{5}
	env := v.do(v.p(sender), wallet.Envelope(100, 2, seed, v.now+3_600_000, ""))
	cb := v.do(v.p(b), wallet.Claim(env.ID))
	cc := v.do(v.p(c), wallet.Claim(env.ID))
	atEnvelope := v.head(v.p(sender))
	// Throwaway keys claim too, later.
	var throwaway []*event.Event
	for i := range 2 {
		x := ident(t, byte(0x50+i))
		throwaway = append(throwaway, raw(t, x, wallet.Head{}, wallet.Entry{Type: wallet.TypeClaim, Counterparty: v.a(sender), Ref: env.ID}, v.tick()))
		v.add(throwaway[i])
	}
	settle := v.do(v.p(sender), wallet.Settle(env.ID, seed, []event.ID{cb.ID, cc.ID}))
	info, _ := v.l.Envelope(env.ID)
	share := info.Shares[v.a(b)]
	v.do(v.p(b), wallet.Receipt(settle.ID))
	spent := v.do(v.p(b), wallet.Payment(v.a(d), share, "spent the share"))
	v.wantStatus(spent, wallet.StatusOK, nil)

	// The fork: a second settlement on the envelope's position + 1, dated
	// before the first, paying the throwaway claims.
	claims := []event.ID{throwaway[0].ID, throwaway[1].ID}
	slices.SortFunc(claims, func(x, y event.ID) int { return cmpID(x, y) })
	_, rem, _ := wallet.Assign(seed, 100, 2, claims)
	forked := raw(t, v.p(sender), atEnvelope, wallet.Entry{Type: wallet.TypeSettle, Ref: env.ID, Seed: seed, Claims: claims, Amount: rem}, atEnvelope.Time+1)
	if forked.Time >= settle.Time {
		t.Fatal("the forked settlement is not earlier")
	}
	v.add(forked)
	if !v.l.Frozen(v.a(sender)) {
		t.Fatal("the fork is not detected")
	}
	for _, e := range []*event.Event{settle, spent} {
		v.wantStatus(e, wallet.StatusOK, nil)
	}
	v.wantStatus(forked, wallet.StatusOK, nil)
	if got := v.l.Balance(v.a(d)); got != int64(share) {
		t.Fatalf("the payee of the spent share has %d, want %d", got, share)
	}
	if got := v.l.Balance(wallet.Escrow(env.ID)); got != 0 {
		t.Fatalf("escrow %d", got)
	}
	if s := sumBalances(v.l); s != 0 {
		t.Fatalf("sum %d", s)
	}
	// The sender paid both settlements: -100 into the escrow, and the
	// throwaway shares from its own account.
	if got, want := v.l.Balance(v.a(sender)), int64(-100-(100-int64(rem))); got != want {
		t.Fatalf("sender %d, want %d", got, want)
	}
	r, _ := v.l.ForkReport(v.a(sender))
	if r.Seq != atEnvelope.Seq+1 {
		t.Fatalf("fork report at %d", r.Seq)
	}
	sameState(t, v, v.events)
}

// A payee refunds, the payer receipts the refund and spends it, and the
// payee forks with an earlier-dated refund of the same payment on another
// branch: the first refund, and what the payer did with it, stand.
func TestForkedRefundCannotEraseRefund(t *testing.T) {
	v := newVillage(t, 3, wallet.Config{})
	payer, payee, shop := 0, 1, 2
	v.do(v.g, wallet.LimitGrant(v.a(payer), 40, ""))
	p := v.do(v.p(payer), wallet.Payment(v.a(payee), 40, "shoes"))
	v.do(v.p(payee), wallet.Receipt(p.ID))
	before := v.head(v.p(payee))
	r1 := v.do(v.p(payee), wallet.Refund(p.ID, 40, "wrong size"))
	v.do(v.p(payer), wallet.Receipt(r1.ID))
	spent := v.do(v.p(payer), wallet.Payment(v.a(shop), 40, "other shoes"))
	r2 := raw(t, v.p(payee), before, wallet.Entry{Type: wallet.TypeRefund, Counterparty: v.a(payer), Amount: 40, Ref: p.ID}, before.Time+1)
	if r2.Time >= r1.Time {
		t.Fatal("not earlier")
	}
	v.add(r2)
	if !v.l.Frozen(v.a(payee)) {
		t.Fatal("fork not detected")
	}
	for _, e := range []*event.Event{r1, r2, spent} {
		v.wantStatus(e, wallet.StatusOK, nil)
	}
	v.wantBalance(shop, 40)
	if s := sumBalances(v.l); s != 0 {
		t.Fatal(s)
	}
	sameState(t, v, v.events)
}

// A guarantor that forks with a smaller grant at the same position does
// not void what the grantee spent under the larger one.
func TestForkedGrantCannotLowerLimit(t *testing.T) {
	v := newVillage(t, 2, wallet.Config{})
	h := v.head(v.g)
	grant := v.do(v.g, wallet.LimitGrant(v.a(0), 100, ""))
	spent := v.do(v.p(0), wallet.Payment(v.a(1), 90, ""))
	smaller := raw(t, v.g, h, wallet.LimitGrant(v.a(0), 10, ""), grant.Time-1+1)
	v.add(smaller)
	if !v.l.Frozen(acct(v.g)) {
		t.Fatal("fork not detected")
	}
	v.wantStatus(spent, wallet.StatusOK, nil)
	if got := v.l.Limit(v.a(0)); got != 100 {
		t.Fatalf("limit %d", got)
	}
	sameState(t, v, v.events)
}

// requestPayment makes a payment entry with arbitrary request fields,
// bypassing the encoder's checks, as an attacker could.
func requestPayment(t *testing.T, id *crypto.Identity, h wallet.Head, cp wallet.Account, amount uint64, nonce wallet.Nonce, expiry int64, reqID wallet.RequestID, now int64) []byte {
	t.Helper()
	em, _ := cbor.CoreDetEncOptions().EncMode()
	payload, err := em.Marshal(map[int]any{1: uint64(wallet.TypePay), 2: cp[:], 3: amount, 4: testUnit, 5: h.Balance - int64(amount),
		8: nonce[:], 11: expiry, 14: reqID[:]})
	if err != nil {
		t.Fatal(err)
	}
	scope := wallet.UnitScope(testUnit)
	b := event.Body{Author: id.PublicKey(), Scope: scope[:], Seq: h.Seq + 1, Time: now, Kind: wallet.KindWalletEntry, Payload: payload}
	if h.Seq > 0 {
		b.Prev = h.ID[:]
	}
	e, err := event.Sign(id, b)
	if err != nil {
		t.Fatal(err)
	}
	return e.Raw
}

// Front-running a request: someone who saw the link pays 1 unit with the
// same nonce, dated earlier. It names another request, or none, so the
// honest payment still pays the request.
func TestRequestFrontRunning(t *testing.T) {
	v := newVillage(t, 3, wallet.Config{})
	shop, honest, thief := 2, 0, 1
	for _, i := range []int{honest, thief} {
		v.do(v.g, wallet.LimitGrant(v.a(i), 100, ""))
	}
	req, err := wallet.NewRequest(v.p(shop), testUnit, 25, "2 loaves", v.now+3_600_000)
	if err != nil {
		t.Fatal(err)
	}
	if id := wallet.RequestIDOf(req.Payee, req.Amount, req.Unit, req.Memo, req.Nonce, req.Expiry); id != req.ID() {
		t.Fatal("the request ID is not the one of its fields")
	}
	honestHead := v.head(v.p(honest))
	pay := raw(t, v.p(honest), honestHead, wallet.PaymentFor(req), v.tick())
	early := pay.Time - 1
	// 1. The request's own ID with another amount does not decode.
	forged := requestPayment(t, v.p(thief), v.head(v.p(thief)), req.Payee, 1, req.Nonce, req.Expiry, req.ID(), early)
	if e, err := event.Decode(forged); err != nil {
		t.Fatal(err)
	} else if _, err := wallet.CheckEvent(e); !errors.Is(err, wallet.ErrBadEntry) {
		t.Fatalf("a payment of 1 naming a request of 25: %v", err)
	}
	// 2. The nonce alone pays no request.
	nonceOnly := raw(t, v.p(thief), v.head(v.p(thief)), wallet.Entry{Type: wallet.TypePay, Counterparty: req.Payee, Amount: 1, Nonce: req.Nonce}, early)
	// 3. A request of its own making, with the same nonce, is another request.
	own := wallet.Entry{Type: wallet.TypePay, Counterparty: req.Payee, Amount: 1, Nonce: req.Nonce, Expiry: req.Expiry,
		Request: wallet.RequestIDOf(req.Payee, 1, testUnit, "", req.Nonce, req.Expiry)}
	ownPay := raw(t, v.p(thief), headOf(t, nonceOnly), own, early+1)
	v.add(nonceOnly)
	v.add(ownPay)
	v.add(pay)
	v.wantStatus(nonceOnly, wallet.StatusVoid, wallet.ErrRequestUnnamed)
	v.wantStatus(pay, wallet.StatusOK, nil)
	st := v.l.Request(req.Payee, req.ID())
	if !st.Paid || st.Payment != pay.ID || st.Accepted {
		t.Fatalf("request state %+v", st)
	}
	// The shop receipts the honest payment: that decides it for good.
	rc := v.do(v.p(shop), wallet.Receipt(pay.ID))
	v.wantStatus(rc, wallet.StatusOK, nil)
	if st := v.l.Request(req.Payee, req.ID()); !st.Accepted || st.Payment != pay.ID {
		t.Fatalf("request state after the receipt %+v", st)
	}
	// A full payment by someone else, dated earlier still, changes nothing.
	late := raw(t, v.p(thief), v.head(v.p(thief)), wallet.PaymentFor(req), v.tick())
	v.add(late)
	v.wantStatus(late, wallet.StatusVoid, wallet.ErrAlreadyPaid)
	v.wantStatus(pay, wallet.StatusOK, nil)
	// A payment after the request's expiry pays nothing.
	req2, _ := wallet.NewRequest(v.p(shop), testUnit, 5, "", v.now+10)
	expired := raw(t, v.p(honest), v.head(v.p(honest)), wallet.PaymentFor(req2), v.now+11)
	v.add(expired)
	v.wantStatus(expired, wallet.StatusVoid, wallet.ErrExpired)
	sameState(t, v, v.events)
}

// A payee that forks receipting different payments of one request on two
// branches keeps both branches' receipts: neither undoes the other.
func TestForkedPayeeDesignation(t *testing.T) {
	v := newVillage(t, 3, wallet.Config{})
	shop := 2
	for i := range 2 {
		v.do(v.g, wallet.LimitGrant(v.a(i), 100, ""))
	}
	req, _ := wallet.NewRequest(v.p(shop), testUnit, 25, "", v.now+3_600_000)
	p0 := raw(t, v.p(0), v.head(v.p(0)), wallet.PaymentFor(req), v.tick())
	p1 := raw(t, v.p(1), v.head(v.p(1)), wallet.PaymentFor(req), v.tick())
	v.add(p0)
	v.add(p1)
	rc1 := v.do(v.p(shop), wallet.Entry{Type: wallet.TypeReceipt, Ref: p0.ID})
	spent := v.do(v.p(shop), wallet.Payment(v.a(0), 25, "spent it"))
	// The other branch receipts p1 at the same position.
	rc2 := raw(t, v.p(shop), wallet.Head{}, wallet.Entry{Type: wallet.TypeReceipt, Counterparty: v.a(1), Amount: 25, Ref: p1.ID}, rc1.Time-1)
	v.add(rc2)
	for _, e := range []*event.Event{p0, p1, rc1, rc2, spent} {
		v.wantStatus(e, wallet.StatusOK, nil)
	}
	sameState(t, v, v.events)
}

// A payer held back by the offline cap is let through once a member has
// confirmed a later entry of the payer's chain, which commits to the
// payment.
func TestConfirmedByLaterEntry(t *testing.T) {
	v := newVillage(t, 4, wallet.Config{OfflineCap: 30})
	payer, payee, member, stranger := 0, 1, 2, 3
	v.do(v.g, wallet.LimitGrant(v.a(payer), 200, ""))
	v.do(v.g, wallet.LimitGrant(v.a(member), 1, ""))
	v.do(v.p(payer), wallet.Payment(v.a(stranger), 20, ""))
	held := v.do(v.p(payer), wallet.Payment(v.a(payee), 15, ""))
	if err := v.l.CheckPayment(held, v.a(payee), wallet.Policy{}); !errors.Is(err, wallet.ErrOfflineCap) {
		t.Fatalf("20 + 15 unconfirmed: %v", err)
	}
	later := v.do(v.p(payer), wallet.Payment(v.a(member), 5, ""))
	v.do(v.p(member), wallet.Receipt(later.ID))
	if err := v.l.CheckPayment(held, v.a(payee), wallet.Policy{}); err != nil {
		t.Fatalf("after a member confirmed a later entry: %v", err)
	}
	// A confirmation on another branch confirms nothing here.
	v2 := newVillage(t, 4, wallet.Config{OfflineCap: 30})
	v2.do(v2.g, wallet.LimitGrant(v2.a(payer), 200, ""))
	v2.do(v2.g, wallet.LimitGrant(v2.a(member), 1, ""))
	fork := v2.head(v2.p(payer))
	v2.do(v2.p(payer), wallet.Payment(v2.a(stranger), 20, ""))
	held2 := v2.do(v2.p(payer), wallet.Payment(v2.a(payee), 15, ""))
	other := raw(t, v2.p(payer), fork, wallet.Payment(v2.a(member), 5, ""), v2.tick())
	v2.add(other)
	v2.do(v2.p(member), wallet.Receipt(other.ID))
	if err := v2.l.CheckPayment(held2, v2.a(payee), wallet.Policy{}); err == nil {
		t.Fatal("a confirmation on another branch let the payment through")
	}
}

// Claims: dated before the envelope, claimed twice on one chain, or after
// the settlement, they earn nothing, and the builder says why.
func TestClaimRules(t *testing.T) {
	v := newVillage(t, 3, wallet.Config{})
	v.do(v.g, wallet.LimitGrant(v.a(0), 100, ""))
	seed := wallet.Seed{3}
	env := v.do(v.p(0), wallet.Envelope(10, 2, seed, v.now+60_000, ""))
	early := raw(t, v.p(1), wallet.Head{}, wallet.Entry{Type: wallet.TypeClaim, Counterparty: v.a(0), Ref: env.ID}, env.Time-1)
	v.add(early)
	v.wantStatus(early, wallet.StatusVoid, wallet.ErrClaimEarly)
	first := v.do(v.p(1), wallet.Claim(env.ID))
	v.wantStatus(first, wallet.StatusOK, nil)
	if _, err := v.l.Build(v.a(1), wallet.Claim(env.ID), v.tick()); !errors.Is(err, wallet.ErrDuplicateClaim) {
		t.Fatalf("second claim built: %v", err)
	}
	second := raw(t, v.p(1), v.head(v.p(1)), wallet.Entry{Type: wallet.TypeClaim, Counterparty: v.a(0), Ref: env.ID}, v.tick())
	v.add(second)
	v.wantStatus(second, wallet.StatusVoid, wallet.ErrDuplicateClaim)
	v.now += 60_000
	v.do(v.p(0), wallet.Settle(env.ID, seed, []event.ID{first.ID}))
	if _, err := v.l.Build(v.a(2), wallet.Claim(env.ID), env.Time+1); !errors.Is(err, wallet.ErrSettled) {
		t.Fatalf("claim of a settled envelope built: %v", err)
	}
}

func cmpID(a, b event.ID) int {
	for i := range a {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return 0
}

// Standing: made-up keys have none; a guarantor's grant (even one still
// waiting for its predecessors) or a payment received gives it.
func TestStanding(t *testing.T) {
	v := newVillage(t, 4, wallet.Config{})
	if v.l.Standing(v.a(0)) || !v.l.Standing(acct(v.g)) {
		t.Fatal("standing before anything")
	}
	v.do(v.g, wallet.LimitGrant(v.a(0), 100, ""))
	pay := v.do(v.p(0), wallet.Payment(v.a(1), 5, ""))
	if !v.l.Standing(v.a(0)) || !v.l.Standing(v.a(1)) || v.l.Standing(v.a(2)) {
		t.Fatal("standing from a grant and a payment")
	}
	if v.l.Referred(pay.ID) {
		t.Fatal("referred before anything refers to it")
	}
	v.do(v.p(1), wallet.Receipt(pay.ID))
	if !v.l.Referred(pay.ID) {
		t.Fatal("not referred by its receipt")
	}
	// A grant whose predecessor is missing still names its grantee.
	l, _ := wallet.NewLedger(v.l.Config())
	g2 := raw(t, v.g, headOf(t, v.events[0]), wallet.LimitGrant(v.a(3), 1, ""), v.tick())
	l.Add(g2)
	if !l.Standing(v.a(3)) {
		t.Fatal("a pending grant gives no standing")
	}
}

// Lacks: the set shows an account's chain has entries not held.
func TestLacks(t *testing.T) {
	v := newVillage(t, 3, wallet.Config{})
	v.do(v.g, wallet.LimitGrant(v.a(0), 100, ""))
	p1 := v.do(v.p(0), wallet.Payment(v.a(1), 5, ""))
	rc := v.do(v.p(1), wallet.Receipt(p1.ID))
	p2 := v.do(v.p(0), wallet.Payment(v.a(1), 6, ""))
	l, _ := wallet.NewLedger(v.l.Config())
	l.Add(v.events[0])
	if l.Lacks(v.a(0)) {
		t.Fatal("an empty chain lacks nothing")
	}
	l.Add(rc) // someone receipted a payment of person 0's not held
	if !l.Lacks(v.a(0)) {
		t.Fatal("a receipt of an unheld payment")
	}
	l2, _ := wallet.NewLedger(v.l.Config())
	l2.Add(p2) // person 0's second entry without its first
	if !l2.Lacks(v.a(0)) {
		t.Fatal("a pending entry")
	}
	l2.Add(p1)
	if l2.Lacks(v.a(0)) {
		t.Fatal("a full chain")
	}
}

// Test vectors of docs/WALLET.md: a request ID and a claim's member tag.
func TestVectors(t *testing.T) {
	rep := func(b byte) (out [32]byte) {
		for i := range out {
			out[i] = b
		}
		return out
	}
	id := wallet.RequestIDOf(wallet.Account(rep(0x44)), 350, "hours", "2 loaves", wallet.Nonce{0x42, 1}, 1750003600000)
	if got := id.String(); got != "a613fe705833c728018adc5ec9b9a44abfeaaded8a2b67cba33cefbbf800033b" {
		t.Errorf("request ID %s", got)
	}
	tag := wallet.ClaimTag(rep(0x22), event.ID(rep(0x11)), wallet.Account(rep(0x33)))
	if got := fmt.Sprintf("%x", tag); got != "a5d0a1df112c8a462f2b616849e8fa4636d06ae55d127855d102b668483e0121" {
		t.Errorf("claim tag %s", got)
	}
	// A request's ID is the one of its fields.
	r := sampleRequest(t)
	if r.ID() != wallet.RequestIDOf(r.Payee, r.Amount, r.Unit, r.Memo, r.Nonce, r.Expiry) {
		t.Error("request ID of a signed request")
	}
}
