package wallet_test

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"testing"

	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/wallet"
)

// workload returns n signed events of a busy village: 50 people with
// limits paying each other, every payment receipted by its payee.
func workload(b *testing.B, n int) (wallet.Config, [][]byte) {
	b.Helper()
	v := newVillage(b, 50, wallet.Config{})
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range v.people {
		v.do(v.g, wallet.LimitGrant(v.a(i), 1_000_000, ""))
	}
	for len(v.events) < n {
		i := rng.IntN(len(v.people))
		j := (i + 1 + rng.IntN(len(v.people)-1)) % len(v.people)
		p := v.do(v.p(i), wallet.Payment(v.a(j), 1+rng.Uint64N(1000), "bench"))
		v.do(v.p(j), wallet.Receipt(p.ID))
	}
	raws := make([][]byte, n)
	for i, e := range v.events[:n] {
		raws[i] = e.Raw
	}
	return v.l.Config(), raws
}

func benchAdd(b *testing.B, shuffle bool) {
	const n = 10_000
	cfg, raws := workload(b, n)
	if shuffle {
		rng := rand.New(rand.NewPCG(2, 2))
		rng.Shuffle(len(raws), func(i, j int) { raws[i], raws[j] = raws[j], raws[i] })
	}
	b.ReportAllocs()
	b.ResetTimer()
	var l *wallet.Ledger
	for i := range b.N {
		if i%n == 0 {
			if l != nil {
				l.StateHash() // evaluate what is left
			}
			l, _ = wallet.NewLedger(cfg)
		}
		e, err := event.Decode(raws[i%n])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := l.Add(e); err != nil {
			b.Fatal(err)
		}
	}
	l.StateHash()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkLedgerAdd measures entries verified (event.Decode: signature
// included) and merged per second, arriving in the order they were made.
func BenchmarkLedgerAdd(b *testing.B) { benchAdd(b, false) }

// BenchmarkLedgerAddShuffled is the same with the entries in random order
// (as after a long partition): most wait as pending or force a full pass,
// which runs once when the state is read.
func BenchmarkLedgerAddShuffled(b *testing.B) { benchAdd(b, true) }

// BenchmarkLedgerAddNoVerify is BenchmarkLedgerAdd without the signature
// check, to show the ledger's own cost.
func BenchmarkLedgerAddNoVerify(b *testing.B) {
	const n = 10_000
	cfg, raws := workload(b, n)
	evs := make([]*event.Event, n)
	for i, r := range raws {
		evs[i], _ = event.Decode(r)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var l *wallet.Ledger
	for i := range b.N {
		if i%n == 0 {
			l, _ = wallet.NewLedger(cfg)
		}
		if _, err := l.Add(evs[i%n]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkBuildSign measures building (with the ledger's checks) and
// signing a payment, then adding it.
func BenchmarkBuildSign(b *testing.B) {
	v := newVillage(b, 2, wallet.Config{})
	v.do(v.g, wallet.LimitGrant(v.a(0), wallet.MaxAmount, ""))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		e, err := v.l.BuildSigned(v.p(0), wallet.Payment(v.a(1), 1, "bench"), v.tick())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.l.Add(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckPayment measures a payee's offline check of a payment.
func BenchmarkCheckPayment(b *testing.B) {
	v := newVillage(b, 2, wallet.Config{OfflineCap: 1000})
	v.do(v.g, wallet.LimitGrant(v.a(0), wallet.MaxAmount, ""))
	for range 100 {
		v.do(v.p(0), wallet.Payment(v.a(1), 1, ""))
	}
	e := raw(b, v.p(0), v.head(v.p(0)), wallet.Payment(v.a(1), 1, ""), v.tick())
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := v.l.CheckPayment(e, v.a(1), wallet.Policy{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLedgerLoad measures what a node's start does with its stored
// entries (parsed, not verified again, in the order of their IDs, as
// store.ScopeEvents gives them): AddAll, per entry, into ledgers that read
// events back through Config.Events (up to 100,000 entries each), and the
// heap such a ledger holds per entry.
func BenchmarkLedgerLoad(b *testing.B) {
	const n = 100_000
	cfg, raws := workload(b, n)
	held := heldEvents{}
	evs := make([]*event.Event, n)
	for i, r := range raws {
		evs[i], _ = event.Parse(r)
		held[evs[i].ID] = evs[i]
	}
	cfg.Events = held
	slices.SortFunc(evs, func(a, b *event.Event) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	b.ReportAllocs()
	b.ResetTimer()
	var perEntry float64
	for i := 0; i < b.N; i += n {
		batch := evs[:min(n, b.N-i)]
		b.StopTimer()
		before := heapInUse()
		b.StartTimer()
		l, _ := wallet.NewLedger(cfg)
		if _, err := l.AddAll(slices.Values(batch)); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		perEntry = float64(heapInUse()-before) / float64(len(batch))
		runtime.KeepAlive(l)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(perEntry, "heap-B/entry")
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkEntriesAtOnePosition adds b.N entries that one author signed
// for the same position of its chain (a fork as wide as an attacker
// likes): the time per entry must not grow with b.N.
func BenchmarkEntriesAtOnePosition(b *testing.B) {
	v := newVillage(b, 3, wallet.Config{})
	v.do(v.g, wallet.LimitGrant(v.a(0), 1_000_000, ""))
	h := v.head(v.p(0))
	evs := make([]*event.Event, b.N)
	for i := range evs {
		evs[i] = raw(b, v.p(0), h, wallet.Payment(v.a(1), 1, strconv.Itoa(i)), v.tick())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for _, e := range evs {
		if _, err := v.l.Add(e); err != nil {
			b.Fatal(err)
		}
	}
}
