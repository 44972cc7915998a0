package wallet_test

import (
	"bytes"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/wallet"
)

// sim generates a random village history with honest and misbehaving
// members: over-limit payments, requests paid twice, over-refunds,
// duplicate and bogus receipts, forks (copied devices, withheld branches),
// broken chains, red envelopes. Every event goes into one ledger in the
// order it was made (the incremental path); the properties are then
// checked on it and on ledgers fed the same events in other orders.
type sim struct {
	t      testing.TB
	rng    *rand.Rand
	v      *village
	forked map[wallet.Account]bool
	saved  map[int]wallet.Head // stale heads, to fork from later
	branch map[int]wallet.Head // heads of second branches
	dead   map[int]bool        // chain broken on purpose
	nonces []wallet.Nonce
	envs   []simEnvelope
	skew   []int64 // each person's clock error, ms
	pays   []*event.Event
	// acceptance checks made by payees before adding payments
	accepted []*event.Event
	refused  map[event.ID]error
}

type simEnvelope struct {
	id     event.ID
	sender int
	seed   wallet.Seed
	expiry int64
}

func newSim(t testing.TB, seed uint64, people int) *sim {
	s := &sim{
		t:       t,
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		v:       newVillage(t, people, wallet.Config{}),
		forked:  map[wallet.Account]bool{},
		saved:   map[int]wallet.Head{},
		branch:  map[int]wallet.Head{},
		dead:    map[int]bool{},
		refused: map[event.ID]error{},
	}
	for range people {
		s.skew = append(s.skew, s.rng.Int64N(40_001)-20_000)
	}
	for i := range 4 {
		s.nonces = append(s.nonces, wallet.Nonce{byte(i + 1), 0xbe})
	}
	return s
}

func (s *sim) person() int { return s.rng.IntN(len(s.v.people)) }

func (s *sim) other(i int) int {
	j := s.rng.IntN(len(s.v.people) - 1)
	if j >= i {
		j++
	}
	return j
}

func (s *sim) now() int64 {
	s.v.now += 1 + s.rng.Int64N(1500)
	return s.v.now
}

// clock is person i's clock, which is off by its skew.
func (s *sim) clock(i int) int64 { return s.now() + s.skew[i] }

func (s *sim) index(a wallet.Account) int {
	for k := range s.v.people {
		if s.v.a(k) == a {
			return k
		}
	}
	return -1
}

// add adds e and checks that balances still sum to zero.
func (s *sim) add(e *event.Event) {
	s.t.Helper()
	s.v.add(e)
	if sum := sumBalances(s.v.l); sum != 0 {
		s.t.Fatalf("balances sum to %d after adding %s", sum, e.ID)
	}
}

// build makes person i's entry through the ledger's builder; it may be
// refused (frozen, over limit, ...), which is fine.
func (s *sim) build(i int, en wallet.Entry) *event.Event {
	id, now := s.v.p(i), s.clock(i)
	if en.Type == wallet.TypeLimit {
		id = s.v.g
	}
	e, err := s.v.l.BuildSigned(id, en, now)
	if err != nil {
		return nil
	}
	s.add(e)
	return e
}

// rawPay makes a payment without the builder's checks; the payee runs
// CheckPayment first, as it would offline.
func (s *sim) rawPay(i int, h wallet.Head, en wallet.Entry) *event.Event {
	e := raw(s.t, s.v.p(i), h, en, s.clock(i))
	err := s.v.l.CheckPayment(e, en.Counterparty, wallet.Policy{})
	s.add(e)
	s.pays = append(s.pays, e)
	if err != nil {
		s.refused[e.ID] = err
		return e
	}
	// The payee accepts it: it appends a receipt at once.
	s.accepted = append(s.accepted, e)
	if payee := s.index(en.Counterparty); s.build(payee, wallet.Receipt(e.ID)) == nil && !s.v.l.Frozen(en.Counterparty) {
		if _, err := s.v.l.Head(en.Counterparty); err == nil {
			s.t.Fatalf("payee cannot receipt an accepted payment")
		}
	}
	return e
}

func (s *sim) step() {
	v := s.v
	i := s.person()
	switch r := s.rng.IntN(100); {
	case r < 8: // a guarantor grants or changes a limit
		s.build(i, wallet.LimitGrant(v.a(i), uint64(s.rng.IntN(500)), ""))
	case r < 30: // an honest payment
		if e := s.build(i, wallet.Payment(v.a(s.other(i)), 1+uint64(s.rng.IntN(150)), "")); e != nil {
			s.pays = append(s.pays, e)
		}
	case r < 36: // a payment that skips the payer's checks
		if h, err := v.l.Head(v.a(i)); err == nil {
			s.rawPay(i, h, wallet.Payment(v.a(s.other(i)), 1+uint64(s.rng.IntN(300)), ""))
		}
	case r < 42: // several people pay one request
		payee := s.person()
		nonce := s.nonces[s.rng.IntN(len(s.nonces))]
		amount := 1 + uint64(s.rng.IntN(40))
		for range 1 + s.rng.IntN(3) {
			p := s.other(payee)
			if h, err := v.l.Head(v.a(p)); err == nil {
				s.rawPay(p, h, wallet.Entry{Type: wallet.TypePay, Counterparty: v.a(payee), Amount: amount, Nonce: nonce})
			}
		}
	case r < 60: // receipts, sometimes a bogus one
		for _, id := range v.l.Unreceipted(v.a(i)) {
			s.build(i, wallet.Receipt(id))
		}
		if s.rng.IntN(5) == 0 && len(s.pays) > 0 {
			p := s.pays[s.rng.IntN(len(s.pays))]
			if h, err := v.l.Head(v.a(i)); err == nil {
				payer, _ := wallet.AccountOf(p.Author)
				if payer != v.a(i) {
					s.add(raw(s.t, v.p(i), h, wallet.Entry{Type: wallet.TypeReceipt, Counterparty: payer, Amount: 1 + uint64(s.rng.IntN(50)), Ref: p.ID}, s.clock(i)))
				}
			}
		}
	case r < 66: // refunds, sometimes too much
		if len(s.pays) == 0 {
			return
		}
		p := s.pays[s.rng.IntN(len(s.pays))]
		en, _ := wallet.CheckEvent(p)
		payee := s.index(en.Counterparty)
		left, err := v.l.Refundable(p.ID)
		if err != nil || payee < 0 {
			return
		}
		if s.rng.IntN(3) == 0 {
			if h, err := v.l.Head(en.Counterparty); err == nil {
				payer, _ := wallet.AccountOf(p.Author)
				s.add(raw(s.t, v.p(payee), h, wallet.Entry{Type: wallet.TypeRefund, Counterparty: payer, Amount: left + 1 + uint64(s.rng.IntN(10)), Ref: p.ID}, s.clock(payee)))
			}
		} else if left > 0 {
			s.build(payee, wallet.Refund(p.ID, 1+s.rng.Uint64N(left), ""))
		}
	case r < 70: // a red envelope
		var seed wallet.Seed
		seed[0], seed[1] = byte(s.rng.UintN(256)), byte(s.rng.UintN(256))
		n := 1 + s.rng.IntN(5)
		expiry := v.now + s.skew[i] + 25_000
		if e := s.build(i, wallet.Envelope(uint64(n)+uint64(s.rng.IntN(100)), n, seed, expiry, "")); e != nil {
			s.envs = append(s.envs, simEnvelope{e.ID, i, seed, expiry})
		}
	case r < 76: // someone claims
		if len(s.envs) > 0 {
			s.build(i, wallet.Claim(s.envs[s.rng.IntN(len(s.envs))].id))
		}
	case r < 80: // the sender settles, after expiry
		if len(s.envs) == 0 {
			return
		}
		env := s.envs[s.rng.IntN(len(s.envs))]
		info, ok := v.l.Envelope(env.id)
		if !ok || info.Settled {
			return
		}
		v.now = max(v.now, env.expiry-s.skew[env.sender])
		claims := info.Claims[:min(len(info.Claims), info.Count)]
		s.build(env.sender, wallet.Settle(env.id, env.seed, claims))
	case r < 84: // remember a head, to fork from later
		if h, err := v.l.Head(v.a(i)); err == nil {
			s.saved[i] = h
		}
	case r < 86: // a copied device pays from a stale head
		h, ok := s.saved[i]
		if !ok {
			return
		}
		cur, err := v.l.Head(v.a(i))
		if err == nil && cur.Seq == h.Seq {
			return // nothing written since: not a fork
		}
		e := s.rawPay(i, h, wallet.Payment(v.a(s.other(i)), 1+uint64(s.rng.IntN(100)), "copy"))
		s.forked[v.a(i)] = true
		s.branch[i] = headOf(s.t, e)
		delete(s.saved, i)
	case r < 90: // the second branch goes on
		if h, ok := s.branch[i]; ok {
			e := s.rawPay(i, h, wallet.Payment(v.a(s.other(i)), 1+uint64(s.rng.IntN(60)), "branch"))
			s.branch[i] = headOf(s.t, e)
		}
	case r < 91: // a fork whose first entry is withheld
		h, err := v.l.Head(v.a(i))
		if err != nil {
			return
		}
		shown := raw(s.t, v.p(i), h, wallet.Entry{Type: wallet.TypeLimit, Counterparty: v.a(s.other(i))}, s.clock(i))
		s.add(shown)
		hidden := raw(s.t, v.p(i), h, wallet.Payment(v.a(s.other(i)), 1, "hidden"), s.clock(i))
		s.rawPay(i, headOf(s.t, hidden), wallet.Payment(v.a(s.other(i)), 1, "on the hidden one"))
		s.forked[v.a(i)] = true
	case r < 92: // a broken chain: wrong balance
		h, err := v.l.Head(v.a(i))
		if err != nil {
			return
		}
		h.Balance += 7
		s.add(raw(s.t, v.p(i), h, wallet.Payment(v.a(s.other(i)), 1, "bad"), s.clock(i)))
		s.dead[i] = true
	default: // time passes
		v.now += s.rng.Int64N(60_000)
	}
}

func runSim(t testing.TB, seed uint64, people, steps int) *sim {
	s := newSim(t, seed, people)
	for range steps {
		s.step()
	}
	return s
}

// TestPropertyInvariants checks, on random histories, the invariants of
// the issue: balances sum to zero (after every Add, in sim.add); limits
// hold at acceptance; refunds never exceed the original; a request is paid
// at most once; forks are detected and their proofs verify alone; chains
// are contiguous with correct hashes and balances; red-envelope shares sum
// to the total.
func TestPropertyInvariants(t *testing.T) {
	for seed := range uint64(10) {
		s := runSim(t, seed, 7, 600)
		l := s.v.l
		byID := map[event.ID]*event.Event{}
		for _, e := range s.v.events {
			byID[e.ID] = e
		}
		infos := map[event.ID]wallet.EntryInfo{}
		for _, e := range s.v.events {
			info, _ := l.Entry(e.ID)
			infos[e.ID] = info
		}
		counts := map[wallet.Status]int{}
		refunded := map[event.ID]uint64{}
		paid := map[[2]any]int{}
		for _, e := range s.v.events {
			info := infos[e.ID]
			counts[info.Status]++
			en := info.Entry
			// Chains: contiguous, hash-linked, balances add up.
			if info.Status == wallet.StatusOK || info.Status == wallet.StatusVoid {
				var prevBal int64
				if e.Seq > 1 {
					p, ok := byID[e.PrevID()]
					if !ok {
						t.Fatalf("seed %d: evaluated entry without its predecessor", seed)
					}
					pi := infos[p.ID]
					if !bytes.Equal(p.Author, e.Author) || p.Seq+1 != e.Seq || p.Time >= e.Time ||
						(pi.Status != wallet.StatusOK && pi.Status != wallet.StatusVoid) {
						t.Fatalf("seed %d: entry %d linked to a bad predecessor", seed, e.Seq)
					}
					prevBal = pi.Entry.Balance
				} else if len(e.Prev) != 0 {
					t.Fatal("first entry with prev")
				}
				if prevBal+en.Delta() != en.Balance {
					t.Fatalf("seed %d: balance does not add up", seed)
				}
			}
			if info.Status != wallet.StatusOK {
				continue
			}
			// Limits: every effective debit leaves the author within its limit.
			if en.IsDebit() && info.Spendable < -int64(l.LimitAt(info.Author, info.Time)) {
				t.Fatalf("seed %d: debit leaves spendable %d, limit %d", seed, info.Spendable, l.LimitAt(info.Author, info.Time))
			}
			switch en.Type {
			case wallet.TypeRefund:
				refunded[en.Ref] += en.Amount
				if refunded[en.Ref] > infos[en.Ref].Entry.Amount {
					t.Fatalf("seed %d: refunds %d exceed payment %d", seed, refunded[en.Ref], infos[en.Ref].Entry.Amount)
				}
			case wallet.TypePay:
				if !en.Nonce.IsZero() {
					k := [2]any{en.Counterparty, en.Nonce}
					if paid[k]++; paid[k] > 1 {
						t.Fatalf("seed %d: request paid twice", seed)
					}
				}
			case wallet.TypeSettle:
				env, _ := l.Envelope(en.Ref)
				sum := env.Returned
				for _, sh := range env.Shares {
					if sh < 1 {
						t.Fatal("share below 1")
					}
					sum += sh
				}
				if sum != env.Total || env.Held != 0 || len(env.Shares) > env.Count {
					t.Fatalf("seed %d: envelope %+v", seed, env)
				}
			}
		}
		// Limits hold at acceptance: what a payee accepted is counted.
		for _, e := range s.accepted {
			if info := infos[e.ID]; info.Status != wallet.StatusOK && !s.forked[info.Author] {
				t.Fatalf("seed %d: accepted payment is %s (%v)", seed, info.Status, info.Reason)
			}
		}
		for id, err := range s.refused {
			if errors.Is(err, wallet.ErrOverLimit) && infos[id].Status == wallet.StatusOK {
				t.Fatalf("seed %d: refused over-limit payment counts", seed)
			}
		}
		// Accounts that did not fork: the balance is at least the
		// spendable balance (which the limit bounds).
		for _, a := range l.Accounts() {
			if !a.Frozen && !a.Escrow && a.Invalid == 0 && a.Balance < a.Spendable {
				t.Fatalf("seed %d: balance %d below spendable %d", seed, a.Balance, a.Spendable)
			}
			if lines := l.Statement(a.Account); len(lines) > 0 && lines[len(lines)-1].Balance != a.Balance {
				t.Fatalf("seed %d: statement ends at %d, balance %d", seed, lines[len(lines)-1].Balance, a.Balance)
			}
		}
		// Forks: exactly the forkers are frozen, and proofs verify alone.
		frozen := l.FrozenAccounts()
		if !slices.Equal(frozen, sortedAccounts(s.forked)) {
			t.Fatalf("seed %d: frozen %d accounts, forked %d", seed, len(frozen), len(s.forked))
		}
		for _, p := range l.FraudProofs() {
			q, err := wallet.DecodeFraudProof(p.Encode())
			if err != nil || !s.forked[q.Author()] {
				t.Fatalf("seed %d: proof: %v", seed, err)
			}
		}
		if counts[wallet.StatusVoid] == 0 || counts[wallet.StatusOK] < 30 || len(s.accepted) == 0 {
			t.Fatalf("seed %d: a dull history: %v", seed, counts)
		}
		t.Logf("seed %d: %d events %v, %d forked, %d accepted, %d refused", seed, len(s.v.events), counts, len(s.forked), len(s.accepted), len(s.refused))
	}
}

func sortedAccounts(m map[wallet.Account]bool) []wallet.Account {
	out := slices.Collect(maps.Keys(m))
	slices.SortFunc(out, func(a, b wallet.Account) int { return bytes.Compare(a[:], b[:]) })
	return out
}

type snapshot struct {
	hash     [32]byte
	balances map[wallet.Account]int64
	frozen   []wallet.Account
	proofs   [][]byte
}

func snap(l *wallet.Ledger) snapshot {
	s := snapshot{hash: l.StateHash(), balances: l.Balances(), frozen: l.FrozenAccounts()}
	for _, p := range l.FraudProofs() {
		s.proofs = append(s.proofs, p.Encode())
	}
	return s
}

func (s snapshot) equal(o snapshot) bool {
	return s.hash == o.hash && maps.Equal(s.balances, o.balances) && slices.Equal(s.frozen, o.frozen) &&
		slices.EqualFunc(s.proofs, o.proofs, bytes.Equal)
}

// TestPropertyOrderIndependence feeds the same events in many orders,
// with duplicates, and checks that balances, frozen accounts, fraud proofs
// and the state hash are the same, and that balances sum to zero at every
// step.
func TestPropertyOrderIndependence(t *testing.T) {
	for seed := range uint64(8) {
		s := runSim(t, 100+seed, 6, 500)
		want := snap(s.v.l)
		s.v.l.Recompute()
		if !snap(s.v.l).equal(want) {
			t.Fatalf("seed %d: incremental state differs from a full recomputation", seed)
		}
		evs := s.v.events
		orders := map[string][]*event.Event{
			"reversed": reversed(evs),
			"by id": slices.SortedFunc(slices.Values(evs), func(a, b *event.Event) int {
				return bytes.Compare(a.ID[:], b.ID[:])
			}),
			"by time": slices.SortedStableFunc(slices.Values(evs), func(a, b *event.Event) int {
				return int(a.Time - b.Time)
			}),
		}
		for k := range 4 {
			perm := slices.Clone(evs)
			s.rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
			// Duplicate a random tenth.
			for range len(perm) / 10 {
				perm = slices.Insert(perm, s.rng.IntN(len(perm)), perm[s.rng.IntN(len(perm))])
			}
			orders["shuffle "+string(rune('a'+k))] = perm
		}
		for name, order := range orders {
			l, err := wallet.NewLedger(s.v.l.Config())
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range order {
				if _, err := l.Add(e); err != nil {
					t.Fatal(err)
				}
				if i%7 == 0 || name == "by time" {
					if sum := sumBalances(l); sum != 0 {
						t.Fatalf("seed %d %s: sum %d at step %d", seed, name, sum, i)
					}
				}
			}
			if got := snap(l); !got.equal(want) {
				t.Fatalf("seed %d: order %q gives another state (frozen %d/%d, balances %d/%d)",
					seed, name, len(got.frozen), len(want.frozen), len(got.balances), len(want.balances))
			}
		}
	}
}

// TestForkDetectedInAnyOrder adds a fork's events in every order of a
// small set and checks that the fork is found and proven each time.
func TestForkDetectedInAnyOrder(t *testing.T) {
	v := newVillage(t, 5, wallet.Config{})
	a, b := copiedDevice(t, v)
	base := slices.Clone(v.events)
	fork := append(slices.Clone(a), b...)
	var want snapshot
	permutations(len(fork), func(p []int) {
		for skip := range 2 { // with and without b[0], the same-position twin
			l, _ := wallet.NewLedger(v.l.Config())
			for _, i := range p {
				if skip == 1 && fork[i] == b[0] {
					continue
				}
				l.Add(fork[i])
			}
			for _, e := range base {
				l.Add(e)
			}
			if !l.Frozen(v.a(0)) || len(l.FraudProofs()) == 0 {
				t.Fatalf("order %v skip %d: fork not detected", p, skip)
			}
			for _, pr := range l.FraudProofs() {
				if _, err := wallet.DecodeFraudProof(pr.Encode()); err != nil {
					t.Fatal(err)
				}
			}
			if skip == 0 {
				got := snap(l)
				if want.proofs == nil {
					want = got
				} else if !got.equal(want) {
					t.Fatalf("order %v: another state", p)
				}
			}
		}
	})
}

func permutations(n int, f func([]int)) {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	var rec func(k int)
	rec = func(k int) {
		if k == n {
			f(p)
			return
		}
		for i := k; i < n; i++ {
			p[k], p[i] = p[i], p[k]
			rec(k + 1)
			p[k], p[i] = p[i], p[k]
		}
	}
	rec(0)
}

func reversed[T any](s []T) []T {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

// TestIncrementalMatchesFull checks, after every Add of a random history
// (in the order it was made, the common case that Add evaluates
// incrementally), that the state equals a full recomputation.
func TestIncrementalMatchesFull(t *testing.T) {
	for seed := range uint64(3) {
		s := runSim(t, 200+seed, 6, 400)
		l, _ := wallet.NewLedger(s.v.l.Config())
		incremental := 0
		for i, e := range s.v.events {
			l.Add(e)
			if !l.Dirty() {
				incremental++
			}
			h := l.StateHash()
			l.Recompute()
			if l.StateHash() != h {
				t.Fatalf("seed %d: after event %d, the incremental state differs from a full pass", seed, i)
			}
		}
		if incremental < len(s.v.events)/2 {
			t.Fatalf("seed %d: only %d of %d adds were incremental", seed, incremental, len(s.v.events))
		}
	}
}
