package wallet_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/wallet"
)

// forkSim makes random histories in which people run copied devices: a
// device is a chain head that writes on its own, so two devices of one
// person fork the chain wherever the copy was made. A copy's clock may lag,
// so that a second branch is dated before the first, as a forker would
// date it to win a "first one wins" rule. Devices write every entry type:
// grants (person 0 is a guarantor and forks too), payments, receipts of
// what the ledger shows as theirs, refunds (sometimes too large), red
// envelopes, claims (some dated before the envelope, some twice),
// settlements, payment requests paid by several payers, with the right
// amount, a wrong one or the nonce alone.
//
// Entries are signed with Head.Next, without the builder's other checks
// (a device may receipt twice, refund too much, claim twice or early);
// only debits beyond the limit are not signed, as no node's builder signs
// them, so that a debit counted when it was made.
type forkSim struct {
	t       testing.TB
	rng     *rand.Rand
	v       *village
	devices map[int][]*device
	envs    []simEnvelope
	reqs    []*wallet.Request
	pays    []*event.Event
	issued  map[wallet.RequestID]*wallet.Request
	// noCopies: nobody copies a device (no forks)
	noCopies bool
}

type device struct {
	head wallet.Head
	lag  int64 // ms this device's clock is behind
}

func newForkSim(t testing.TB, seed uint64, people int) *forkSim {
	s := &forkSim{
		t:       t,
		rng:     rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d)),
		devices: map[int][]*device{},
		issued:  map[wallet.RequestID]*wallet.Request{},
	}
	// Person 0 is a guarantor as well as the village's.
	s.v = newVillage(t, people, wallet.Config{OfflineCap: 150, Guarantors: []wallet.Account{acct(ident(t, 1))}})
	for i := -1; i < people; i++ {
		s.devices[i] = []*device{{head: wallet.Head{Owner: s.acc(i)}}}
	}
	return s
}

// person -1 is the village's guarantor.
func (s *forkSim) id(i int) *crypto.Identity {
	if i < 0 {
		return s.v.g
	}
	return s.v.p(i)
}

func (s *forkSim) acc(i int) wallet.Account { return acct(s.id(i)) }

func (s *forkSim) index(a wallet.Account) int {
	for i := -1; i < len(s.v.people); i++ {
		if s.acc(i) == a {
			return i
		}
	}
	return -2
}

// write signs en on device d of person i and adds it. Like a node's
// builder, a device does not sign a debit that its view (the ledger so
// far) shows over the limit: what it signs counted when it signed it.
func (s *forkSim) write(i int, d *device, en wallet.Entry) *event.Event {
	s.t.Helper()
	s.v.now += 1 + s.rng.Int64N(800)
	return s.writeAt(i, d, en, s.v.now-d.lag)
}

// writeAt is write at a chosen time (at least the device head's + 1).
func (s *forkSim) writeAt(i int, d *device, en wallet.Entry, now int64) *event.Event {
	s.t.Helper()
	if en.IsDebit() {
		var spend int64
		if d.head.Seq > 0 {
			info, _ := s.v.l.Entry(d.head.ID)
			spend = info.Spendable
		}
		if spend-int64(en.Amount) < -int64(s.v.l.LimitAt(s.acc(i), max(now, d.head.Time+1))) {
			return nil
		}
	}
	b, err := d.head.Next(testUnit, en, now)
	if err != nil {
		return nil // a malformed choice (an amount too large for the balance field, ...)
	}
	e, err := event.Sign(s.id(i), b)
	if err != nil {
		s.t.Fatal(err)
	}
	s.v.add(e)
	if sum := sumBalances(s.v.l); sum != 0 {
		s.t.Fatalf("balances sum to %d after %s", sum, e.ID)
	}
	d.head = headOf(s.t, e)
	return e
}

func (s *forkSim) other(i int) int {
	for {
		if j := s.rng.IntN(len(s.v.people)); j != i {
			return j
		}
	}
}

func (s *forkSim) step() {
	v := s.v
	i := s.rng.IntN(len(v.people))
	ds := s.devices[i]
	d := ds[s.rng.IntN(len(ds))]
	switch r := s.rng.IntN(100); {
	case r < 7: // a guarantor grants: the village's, or person 0
		g := -1
		if s.rng.IntN(3) == 0 {
			g = 0
		}
		gd := s.devices[g][s.rng.IntN(len(s.devices[g]))]
		s.write(g, gd, wallet.LimitGrant(s.acc(s.other(g)), uint64(s.rng.IntN(400)), ""))
	case r < 27: // a payment
		if e := s.write(i, d, wallet.Payment(s.acc(s.other(i)), 1+uint64(s.rng.IntN(120)), "")); e != nil {
			s.pays = append(s.pays, e)
		}
	case r < 45: // receipts of what the ledger shows as this person's
		for _, id := range v.l.Unreceipted(s.acc(i)) {
			info, _ := v.l.Entry(id)
			s.write(i, d, wallet.Entry{Type: wallet.TypeReceipt, Counterparty: info.Author, Amount: creditOf(v.l, id, s.acc(i)), Ref: id})
		}
	case r < 51: // a refund, sometimes of more than is left
		if len(s.pays) == 0 {
			return
		}
		p := s.pays[s.rng.IntN(len(s.pays))]
		info, _ := v.l.Entry(p.ID)
		payee := s.index(info.Entry.Counterparty)
		if payee < 0 || info.Status != wallet.StatusOK {
			return
		}
		pd := s.devices[payee][s.rng.IntN(len(s.devices[payee]))]
		amount := 1 + s.rng.Uint64N(info.Entry.Amount)
		s.write(payee, pd, wallet.Entry{Type: wallet.TypeRefund, Counterparty: info.Author, Amount: amount, Ref: p.ID})
	case r < 56: // a red envelope
		var seed wallet.Seed
		seed[0], seed[1] = byte(s.rng.UintN(256)), byte(1+s.rng.UintN(255))
		n := 1 + s.rng.IntN(4)
		expiry := v.now + 30_000
		if e := s.write(i, d, wallet.Envelope(uint64(n)+uint64(s.rng.IntN(80)), n, seed, expiry, "")); e != nil {
			s.envs = append(s.envs, simEnvelope{e.ID, i, seed, expiry})
		}
	case r < 67: // a claim, sometimes twice, sometimes from a lagging clock
		if len(s.envs) == 0 {
			return
		}
		env := s.envs[s.rng.IntN(len(s.envs))]
		if env.sender != i {
			s.write(i, d, wallet.Entry{Type: wallet.TypeClaim, Counterparty: s.acc(env.sender), Ref: env.id})
		}
	case r < 70: // the sender settles, from one of its devices
		if len(s.envs) == 0 {
			return
		}
		env := s.envs[s.rng.IntN(len(s.envs))]
		info, ok := v.l.Envelope(env.id)
		if !ok {
			return
		}
		v.now = max(v.now, env.expiry+1)
		pick := map[event.ID]wallet.Account{}
		for _, c := range info.Claims {
			ci, _ := v.l.Entry(c)
			pick[c] = ci.Author
		}
		claims := wallet.SelectClaims(env.seed, info.Count, pick)
		_, rem, err := wallet.Assign(env.seed, info.Total, info.Count, claims)
		if err != nil {
			return
		}
		sd := s.devices[env.sender][s.rng.IntN(len(s.devices[env.sender]))]
		s.write(env.sender, sd, wallet.Entry{Type: wallet.TypeSettle, Ref: env.id, Seed: env.seed, Claims: claims, Amount: rem})
	case r < 72: // a forker settles again on another branch, dated before
		s.resettle()
	case r < 73: // a forker refunds again on another branch, dated before
		s.rerefund()
	case r < 74: // a shop asks to be paid
		req, err := wallet.NewRequest(s.id(i), testUnit, 1+uint64(s.rng.IntN(60)), "", v.now+120_000)
		if err != nil {
			s.t.Fatal(err)
		}
		s.reqs = append(s.reqs, req)
		s.issued[req.ID()] = req
	case r < 81: // someone pays a request: right, with a wrong amount, or by nonce alone
		if len(s.reqs) == 0 {
			return
		}
		req := s.reqs[s.rng.IntN(len(s.reqs))]
		payer := s.other(s.index(req.Payee))
		pd := s.devices[payer][s.rng.IntN(len(s.devices[payer]))]
		en := wallet.PaymentFor(req)
		switch s.rng.IntN(4) {
		case 0: // a wrong amount names another request
			en.Amount = 1 + s.rng.Uint64N(5)
			en.Request = wallet.RequestIDOf(req.Payee, en.Amount, testUnit, en.Memo, en.Nonce, en.Expiry)
		case 1:
			en.Request, en.Expiry = wallet.RequestID{}, 0
		}
		if e := s.write(payer, pd, en); e != nil {
			s.pays = append(s.pays, e)
		}
	case r < 86: // a copy of a device, its clock behind
		if len(ds) < 3 && !s.noCopies {
			s.devices[i] = append(ds, &device{head: d.head, lag: s.rng.Int64N(20_000)})
		}
	case r < 88: // a copy of a guarantor's device; the original writes at
		// once, so that whatever the copy writes is a second branch (a
		// guarantor that backdates on a chain of one branch is trusted
		// not to, see docs/WALLET.md)
		g := []int{-1, 0}[s.rng.IntN(2)]
		if gs := s.devices[g]; len(gs) < 3 && !s.noCopies {
			cp := &device{head: gs[0].head, lag: s.rng.Int64N(20_000)}
			if s.write(g, gs[0], wallet.LimitGrant(s.acc(s.other(g)), uint64(s.rng.IntN(400)), "")) != nil {
				s.devices[g] = append(gs, cp)
			}
		}
	default:
		v.now += s.rng.Int64N(20_000)
	}
}

// resettle: a sender with two devices settles an envelope that one of
// them settled, from the other, dated before that settlement.
func (s *forkSim) resettle() {
	for _, env := range s.envs {
		info, ok := s.v.l.Envelope(env.id)
		ds := s.devices[env.sender]
		if !ok || !info.Settled || len(ds) < 2 {
			continue
		}
		first, _ := s.v.l.Event(info.Settlement)
		for _, d := range ds {
			if d.head.ID == first.ID || d.head.Time >= first.Time-1 {
				continue
			}
			// Other claims of the envelope, or none.
			pick := map[event.ID]wallet.Account{}
			for _, c := range info.Claims {
				ci, _ := s.v.l.Entry(c)
				pick[c] = ci.Author
			}
			claims := wallet.SelectClaims(wallet.Seed{}, info.Count, pick) // another pick than the seed's
			_, rem, err := wallet.Assign(env.seed, info.Total, info.Count, claims)
			if err != nil {
				return
			}
			s.writeAt(env.sender, d, wallet.Entry{Type: wallet.TypeSettle, Ref: env.id, Seed: env.seed, Claims: claims, Amount: rem},
				d.head.Time+1+s.rng.Int64N(first.Time-1-d.head.Time))
			return
		}
	}
}

// rerefund: a payee with two devices refunds, from one, a payment that it
// refunded from the other, dated before that refund.
func (s *forkSim) rerefund() {
	for _, e := range s.v.events {
		info, _ := s.v.l.Entry(e.ID)
		if info.Entry.Type != wallet.TypeRefund || info.Status != wallet.StatusOK {
			continue
		}
		payee := s.index(info.Author)
		ds := s.devices[payee]
		if len(ds) < 2 {
			continue
		}
		p, _ := s.v.l.Entry(info.Entry.Ref)
		for _, d := range ds {
			if d.head.Time >= e.Time-1 {
				continue
			}
			s.writeAt(payee, d, wallet.Entry{Type: wallet.TypeRefund, Counterparty: p.Author, Amount: p.Entry.Amount, Ref: p.ID},
				d.head.Time+1+s.rng.Int64N(e.Time-1-d.head.Time))
			return
		}
	}
}

// creditOf is what transfer id credits to a (a receipt's amount).
func creditOf(l *wallet.Ledger, id event.ID, a wallet.Account) uint64 {
	info, _ := l.Entry(id)
	switch info.Entry.Type {
	case wallet.TypePay, wallet.TypeRefund:
		return info.Entry.Amount
	case wallet.TypeSettle:
		// A settlement's share: find it in the envelope report.
		env, _ := l.Envelope(info.Entry.Ref)
		if env.Settlement == id {
			return env.Shares[a]
		}
		shares, _, _ := wallet.Assign(info.Entry.Seed, env.Total, env.Count, info.Entry.Claims)
		for k, c := range info.Entry.Claims {
			if ci, _ := l.Entry(c); ci.Author == a {
				return shares[k]
			}
		}
	}
	return 0
}

func runForkSim(t testing.TB, seed uint64, people, steps int) *forkSim {
	s := newForkSim(t, seed, people)
	for range steps {
		s.step()
	}
	return s
}

func ledgerOf(t testing.TB, cfg wallet.Config, evs []*event.Event) *wallet.Ledger {
	l, err := wallet.NewLedger(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if _, err := l.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// branches returns, for every position of a forked author that holds
// several entries, each entry there with everything after it on its
// branch.
func branches(evs []*event.Event, author wallet.Account) [][]*event.Event {
	var mine []*event.Event
	for _, e := range evs {
		if bytes.Equal(e.Author, author[:]) {
			mine = append(mine, e)
		}
	}
	bySeq := map[uint64][]*event.Event{}
	for _, e := range mine {
		bySeq[e.Seq] = append(bySeq[e.Seq], e)
	}
	var out [][]*event.Event
	for _, at := range bySeq {
		if len(at) < 2 {
			continue
		}
		for _, root := range at {
			in := map[event.ID]bool{root.ID: true}
			b := []*event.Event{root}
			for grew := true; grew; {
				grew = false
				for _, e := range mine {
					if !in[e.ID] && e.Seq > 1 && in[e.PrevID()] {
						in[e.ID], grew = true, true
						b = append(b, e)
					}
				}
			}
			out = append(out, b)
		}
	}
	return out
}

// TestPropertyForkNeverErases is the promise that a fork cannot erase a
// payment: for random histories with forks at many points (copied devices
// of payers, payees, envelope senders and guarantors, second branches
// dated before the first), every entry that counted at some point of the
// history still counts at the end. The one exception is by design: a
// payment of a request its payee had not receipted yet may give way to an
// earlier payment of the same request and amount; its amount stays
// reserved on its payer's branch, so nothing else changes. Balances sum to
// zero after every add, and the state is the same in every order.
func TestPropertyForkNeverErases(t *testing.T) {
	stats := map[string]int{}
	for seed := range uint64(10) {
		s := runForkSim(t, 300+seed, 6, 450)
		full := s.v.l
		cfg := full.Config()
		if len(full.FrozenAccounts()) == 0 {
			t.Fatalf("seed %d: no forks", seed)
		}
		stats["forked accounts"] += len(full.FrozenAccounts())
		for k := 25; k < len(s.v.events); k += 25 {
			prefix := ledgerOf(t, cfg, s.v.events[:k])
			stats["prefixes"]++
			for _, e := range s.v.events[:k] {
				was, _ := prefix.Entry(e.ID)
				if was.Status != wallet.StatusOK {
					continue
				}
				stats["entries compared"]++
				now, _ := full.Entry(e.ID)
				if now.Status == wallet.StatusOK {
					if now.Spendable < was.Spendable && !full.Frozen(now.Author) {
						t.Fatalf("seed %d: an unforked chain's spendable fell from %d to %d", seed, was.Spendable, now.Spendable)
					}
					continue
				}
				en := now.Entry
				if en.Type == wallet.TypePay && en.Request != (wallet.RequestID{}) && !slices.Contains(prefix.AcceptedPayments(en.Counterparty, en.Request), e.ID) {
					if now.Spendable != was.Spendable {
						t.Fatalf("seed %d: a displaced payment of a request changed its payer's spendable", seed)
					}
					stats["unreceipted request payments displaced"]++
					continue
				}
				t.Fatalf("seed %d: %s entry %d of %s counted after %d events, but is %s (%v) after %d",
					seed, en.Type, e.Seq, now.Author, k, now.Status, now.Reason, len(s.v.events))
			}
		}
		// The same state in every order, balances summing to zero.
		want := snap(full)
		for k := range 4 {
			perm := slices.Clone(s.v.events)
			s.rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
			if k == 3 {
				perm = reversed(s.v.events)
			}
			l, _ := wallet.NewLedger(cfg)
			for i, e := range perm {
				l.Add(e)
				if i%11 == 0 {
					if sum := sumBalances(l); sum != 0 {
						t.Fatalf("seed %d: sum %d", seed, sum)
					}
				}
			}
			if !snap(l).equal(want) {
				t.Fatalf("seed %d: order %d gives another state", seed, k)
			}
		}
		full.Recompute()
		if !snap(full).equal(want) {
			t.Fatalf("seed %d: incremental state differs from a full pass", seed)
		}
		countKinds(t, full, s.v.events, stats)
	}
	t.Logf("%v", stats)
	for _, k := range []string{"ok settle on a forked chain", "ok refund on a forked chain", "ok receipt of a forked chain's transfer", "grant on a forked guarantor's chain"} {
		if stats[k] == 0 {
			t.Errorf("the histories never made a %s", k)
		}
	}
}

// countKinds counts what the histories exercised, so that the property is
// known to cover forked settlements, refunds and grants.
func countKinds(t testing.TB, l *wallet.Ledger, evs []*event.Event, stats map[string]int) {
	for _, e := range evs {
		info, _ := l.Entry(e.ID)
		if info.Status != wallet.StatusOK {
			continue
		}
		forked := l.Frozen(info.Author)
		switch info.Entry.Type {
		case wallet.TypeSettle:
			if forked {
				stats["ok settle on a forked chain"]++
			}
		case wallet.TypeRefund:
			if forked {
				stats["ok refund on a forked chain"]++
			}
		case wallet.TypeLimit:
			if forked {
				stats["grant on a forked guarantor's chain"]++
			}
		case wallet.TypeReceipt:
			if ref, _ := l.Entry(info.Entry.Ref); l.Frozen(ref.Author) {
				stats["ok receipt of a forked chain's transfer"]++
			}
		}
	}
}

// TestPropertyClaims: whatever the claims' times and the order they
// arrive in, no claim dated before its envelope or after its expiry
// counts, no chain counts two claims of one envelope on one branch, every
// effective settlement pays only effective claims of distinct claimants,
// and SelectClaims picks the same claims from the same set in any order:
// one per claimant, at most the count, by a rank the seed keeps secret.
func TestPropertyClaims(t *testing.T) {
	checked := 0
	for seed := range uint64(12) {
		s := runForkSim(t, 700+seed, 6, 500)
		l := s.v.l
		byID := map[event.ID]*event.Event{}
		for _, e := range s.v.events {
			byID[e.ID] = e
		}
		okClaims := map[event.ID][]*event.Event{}
		for _, e := range s.v.events {
			info, _ := l.Entry(e.ID)
			if info.Status != wallet.StatusOK {
				continue
			}
			switch info.Entry.Type {
			case wallet.TypeClaim:
				env := byID[info.Entry.Ref]
				envInfo, _ := l.Entry(env.ID)
				if e.Time < env.Time || e.Time > envInfo.Entry.Expiry {
					t.Fatalf("seed %d: a claim at %d counts for an envelope of %d..%d", seed, e.Time, env.Time, envInfo.Entry.Expiry)
				}
				for _, o := range okClaims[env.ID] {
					if bytes.Equal(o.Author, e.Author) && onBranch(byID, o, e) {
						t.Fatalf("seed %d: two claims of one envelope count on one branch", seed)
					}
				}
				okClaims[env.ID] = append(okClaims[env.ID], e)
				checked++
			case wallet.TypeSettle:
				seen := map[string]bool{}
				for _, c := range info.Entry.Claims {
					ci, _ := l.Entry(c)
					if ci.Status != wallet.StatusOK || ci.Entry.Ref != info.Entry.Ref || seen[string(ci.Author[:])] {
						t.Fatalf("seed %d: a settlement pays %s claim %v", seed, ci.Status, c)
					}
					seen[string(ci.Author[:])] = true
				}
			}
		}
		// Selection: the same from any order of the same candidates.
		claimsOf := map[event.ID]map[event.ID]wallet.Account{}
		for _, r := range s.v.events {
			if info, _ := l.Entry(r.ID); info.Entry.Type == wallet.TypeClaim {
				if claimsOf[info.Entry.Ref] == nil {
					claimsOf[info.Entry.Ref] = map[event.ID]wallet.Account{}
				}
				claimsOf[info.Entry.Ref][r.ID] = info.Author
			}
		}
		for _, env := range s.envs {
			cands := claimsOf[env.id]
			var authors = map[wallet.Account]bool{}
			for _, a := range cands {
				authors[a] = true
			}
			info, ok := l.Envelope(env.id)
			if !ok {
				continue
			}
			got := wallet.SelectClaims(env.seed, info.Count, cands)
			if len(got) != min(info.Count, len(authors)) || !slices.IsSortedFunc(got, func(a, b event.ID) int { return bytes.Compare(a[:], b[:]) }) {
				t.Fatalf("seed %d: selected %d of %d claimants for %d shares", seed, len(got), len(authors), info.Count)
			}
			picked := map[wallet.Account]bool{}
			for _, c := range got {
				if picked[cands[c]] {
					t.Fatalf("seed %d: two claims of one claimant selected", seed)
				}
				picked[cands[c]] = true
			}
			for range 3 {
				sub := map[event.ID]wallet.Account{}
				ids := make([]event.ID, 0, len(cands))
				for id := range cands {
					ids = append(ids, id)
				}
				s.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
				for _, id := range ids {
					sub[id] = cands[id]
				}
				if again := wallet.SelectClaims(env.seed, info.Count, sub); !slices.Equal(again, got) {
					t.Fatalf("seed %d: the selection depends on the order", seed)
				}
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d effective claims checked", checked)
	}
}

// onBranch reports whether a and b are on one branch: one is an ancestor
// of the other.
func onBranch(byID map[event.ID]*event.Event, a, b *event.Event) bool {
	up := func(x, y *event.Event) bool {
		for z := y; z != nil && z.Seq > x.Seq; z = byID[z.PrevID()] {
			if z.Seq == x.Seq+1 {
				return z.PrevID() == x.ID
			}
		}
		return false
	}
	return up(a, b) || up(b, a)
}

// TestPropertyRequests: for random histories of requests paid by several
// payers at once, with wrong amounts and bare nonces, and payees that
// fork: every effective payment of an issued request carries its amount;
// at most one payment of a request counts per branch of its payee's chain
// (one in all when the payee did not fork); the payment a payee receipted
// first on a branch counts whatever else arrives; a bare nonce pays
// nothing.
func TestPropertyRequests(t *testing.T) {
	stats := map[string]int{}
	for seed := range uint64(8) {
		s := runForkSim(t, 900+seed, 6, 500)
		l := s.v.l
		okPays := map[wallet.RequestID][]*event.Event{}
		for _, e := range s.pays {
			info, _ := l.Entry(e.ID)
			en := info.Entry
			if en.Type != wallet.TypePay || en.Nonce.IsZero() {
				continue
			}
			if en.Request == (wallet.RequestID{}) {
				if info.Status == wallet.StatusOK {
					t.Fatalf("seed %d: a bare nonce paid", seed)
				}
				stats["bare nonces"]++
				continue
			}
			if info.Status != wallet.StatusOK {
				continue
			}
			if req := s.issued[en.Request]; req != nil {
				if en.Amount != req.Amount {
					t.Fatalf("seed %d: a payment of %d counts for a request of %d", seed, en.Amount, req.Amount)
				}
				okPays[en.Request] = append(okPays[en.Request], e)
			} else {
				stats["payments of requests nobody issued"]++
			}
		}
		for id, ps := range okPays {
			req := s.issued[id]
			st := l.Request(req.Payee, id)
			if len(ps) > 1 && !l.Frozen(req.Payee) {
				t.Fatalf("seed %d: a request of a payee that did not fork is paid %d times", seed, len(ps))
			}
			if len(ps) > 1 {
				stats["requests paid on two branches of a forked payee"]++
			}
			if st.Accepted {
				stats["accepted requests"]++
			}
		}
		// A payee's first receipt of a payment of a request decides: that
		// payment counts unless it is over its payer's limit.
		byID := map[event.ID]*event.Event{}
		for _, e := range s.v.events {
			byID[e.ID] = e
		}
		for _, e := range s.v.events {
			info, _ := l.Entry(e.ID)
			if info.Entry.Type != wallet.TypeReceipt {
				continue
			}
			p, ok := l.Entry(info.Entry.Ref)
			if !ok || p.Entry.Type != wallet.TypePay || p.Entry.Request == (wallet.RequestID{}) || p.Author != info.Entry.Counterparty ||
				p.Entry.Amount != info.Entry.Amount || p.Entry.Counterparty != info.Author || p.Status == wallet.StatusPending || p.Status == wallet.StatusInvalid {
				continue
			}
			if firstReceiptOnBranch(byID, l, e, p.Entry.Request) && p.Status == wallet.StatusVoid && errors.Is(p.Reason, wallet.ErrAlreadyPaid) {
				t.Fatalf("seed %d: a payment its payee receipted first is void: %v", seed, p.Reason)
			}
		}
	}
	t.Logf("%v", stats)
	if stats["accepted requests"] == 0 || stats["bare nonces"] == 0 {
		t.Fatal("dull histories")
	}
}

// firstReceiptOnBranch reports whether receipt r is the first receipt of a
// payment of request id on its branch of the payee's chain.
func firstReceiptOnBranch(byID map[event.ID]*event.Event, l *wallet.Ledger, r *event.Event, id wallet.RequestID) bool {
	for x := byID[r.PrevID()]; x != nil && r.Seq > 1; x = byID[x.PrevID()] {
		info, _ := l.Entry(x.ID)
		if info.Entry.Type == wallet.TypeReceipt {
			if p, ok := l.Entry(info.Entry.Ref); ok && p.Entry.Request == id && p.Entry.Counterparty == info.Author {
				return false
			}
		}
		if x.Seq == 1 {
			break
		}
	}
	return true
}

// TestPropertyConfirmation: a payment whose branch a member has confirmed
// at it or at a later entry (a member's entry refers to one of them) is
// never held back by the offline caps, and a member's confirmation never
// makes a check that passed fail.
func TestPropertyConfirmation(t *testing.T) {
	confirmedChecks := 0
	for seed := range uint64(8) {
		s := newForkSim(t, 1100+seed, 6)
		s.noCopies = seed%2 == 0
		for range 500 {
			s.step()
		}
		l := s.v.l
		byID := map[event.ID]*event.Event{}
		for _, e := range s.v.events {
			byID[e.ID] = e
		}
		// referredBy: entry -> authors of entries that refer to it.
		referredBy := map[event.ID][]wallet.Account{}
		for _, e := range s.v.events {
			info, _ := l.Entry(e.ID)
			refs := append([]event.ID{info.Entry.Ref}, info.Entry.Claims...)
			for _, r := range refs {
				if r != (event.ID{}) {
					referredBy[r] = append(referredBy[r], info.Author)
				}
			}
		}
		member := func(a wallet.Account) bool { return l.Limit(a) > 0 || a == acct(s.v.g) || a == acct(ident(t, 1)) }
		pol := wallet.Policy{DefaultCap: 40}
		for _, p := range s.pays {
			info, _ := l.Entry(p.ID)
			if info.Status != wallet.StatusOK || l.Frozen(info.Author) || s.index(info.Entry.Counterparty) < 0 {
				continue
			}
			payer, payee := info.Author, info.Entry.Counterparty
			// Is p, or an entry after it on its branch, referred to by a member?
			confirmed := false
			for _, e := range s.v.events {
				if !bytes.Equal(e.Author, payer[:]) || e.Seq < p.Seq || !(e.ID == p.ID || onBranch(byID, p, e)) {
					continue
				}
				for _, a := range referredBy[e.ID] {
					if a != payer && a != payee && member(a) {
						confirmed = true
					}
				}
			}
			err := l.CheckPayment(p, payee, pol)
			if confirmed {
				confirmedChecks++
				if errors.Is(err, wallet.ErrOfflineCap) || errors.Is(err, wallet.ErrPayerCap) {
					t.Fatalf("seed %d: a payment confirmed at or after it is held back: %v", seed, err)
				}
			}
		}
	}
	if confirmedChecks < 20 {
		t.Fatalf("only %d confirmed payments checked", confirmedChecks)
	}
}
