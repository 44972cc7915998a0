package main

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// byteCounter is a libp2p bandwidth reporter whose totals are exact at any
// moment. (metrics.BandwidthCounter's totals are only brought up to date by
// a sweeper once a second, too coarse for a ten-second phase.) It still
// feeds a metrics.BandwidthCounter, for per-protocol and per-peer figures.
type byteCounter struct {
	*metrics.BandwidthCounter
	in, out atomic.Int64

	mu      sync.Mutex
	inProto map[protocol.ID]*atomic.Int64
}

func newByteCounter() *byteCounter {
	return &byteCounter{BandwidthCounter: metrics.NewBandwidthCounter()}
}

func (c *byteCounter) LogSentMessage(n int64) {
	c.out.Add(n)
	c.BandwidthCounter.LogSentMessage(n)
}

func (c *byteCounter) LogRecvMessage(n int64) {
	c.in.Add(n)
	c.BandwidthCounter.LogRecvMessage(n)
}

func (c *byteCounter) LogSentMessageStream(n int64, p protocol.ID, id peer.ID) {
	c.BandwidthCounter.LogSentMessageStream(n, p, id)
}

func (c *byteCounter) LogRecvMessageStream(n int64, p protocol.ID, id peer.ID) {
	c.mu.Lock()
	ctr := c.inProto[p]
	if ctr == nil {
		if c.inProto == nil {
			c.inProto = map[protocol.ID]*atomic.Int64{}
		}
		ctr = new(atomic.Int64)
		c.inProto[p] = ctr
	}
	c.mu.Unlock()
	ctr.Add(n)
	c.BandwidthCounter.LogRecvMessageStream(n, p, id)
}

// InByProtocol returns the bytes received so far per protocol.
func (c *byteCounter) InByProtocol() map[protocol.ID]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[protocol.ID]int64, len(c.inProto))
	for p, v := range c.inProto {
		out[p] = v.Load()
	}
	return out
}

// sumByProtocol adds up the per-protocol bytes of several counters.
func sumByProtocol(cs []*byteCounter) map[protocol.ID]int64 {
	out := map[protocol.ID]int64{}
	for _, c := range cs {
		for p, v := range c.InByProtocol() {
			out[p] += v
		}
	}
	return out
}

// In returns the bytes received so far (stream payload: after Noise and
// Yamux framing are removed).
func (c *byteCounter) In() int64 { return c.in.Load() }

var _ metrics.Reporter = (*byteCounter)(nil)

// cpuTime returns the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSSMB returns the process's peak resident set size in MiB (Linux
// reports ru_maxrss in KiB).
func peakRSSMB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return round2(float64(ru.Maxrss) / 1024)
}

// procStatusMB reads VmHWM and VmRSS (in MiB) from /proc/PID/status; pid 0
// means this process.
func procStatusMB(pid int) (hwm, rss float64, err error) {
	v, err := procStatus(pid, "VmHWM", "VmRSS")
	if err != nil {
		return 0, 0, err
	}
	return v[0], v[1], nil
}

// procAnonFileMB reads RssAnon and RssFile (in MiB) from /proc/PID/status
// (pid 0: this process): the process's own memory, and the pages of files
// it maps (its program's code, shared by every process that runs it, and
// Badger's mapped files), which the kernel can drop and read again.
func procAnonFileMB(pid int) (anon, file float64, err error) {
	v, err := procStatus(pid, "RssAnon", "RssFile")
	if err != nil {
		return 0, 0, err
	}
	return v[0], v[1], nil
}

// procStatus reads the named fields of /proc/PID/status, each "N kB", in
// MiB rounded to two places, in the order named; pid 0 means this process.
func procStatus(pid int, names ...string) ([]float64, error) {
	path := "/proc/self/status"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(names))
	found := 0
	for line := range strings.Lines(string(b)) {
		name, val, ok := strings.Cut(line, ":")
		i := slices.Index(names, name)
		if !ok || i < 0 {
			continue
		}
		fields := strings.Fields(val) // "12345 kB"
		if len(fields) != 2 || fields[1] != "kB" {
			return nil, fmt.Errorf("%s: unexpected %s line %q", path, name, val)
		}
		kb, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, name, err)
		}
		out[i] = round2(kb / 1024)
		found++
	}
	if found != len(names) {
		return nil, fmt.Errorf("%s: not all of %s", path, strings.Join(names, ", "))
	}
	return out, nil
}

// Quantiles summarises a distribution in milliseconds.
type Quantiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// quantiles sorts ds and returns its nearest-rank percentiles in ms.
func quantiles(ds []time.Duration) Quantiles {
	if len(ds) == 0 {
		return Quantiles{}
	}
	slices.Sort(ds)
	at := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(ds)))) - 1
		i = max(0, min(i, len(ds)-1))
		return ms(ds[i])
	}
	return Quantiles{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: ms(ds[len(ds)-1])}
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

func round2(f float64) float64 { return math.Round(f*100) / 100 }
func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// ratio returns a/b rounded, or 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return round3(a / b)
}

// ringLattice returns the edges of a connected graph on n nodes in which
// every node has exactly degree neighbours: node i is linked to
// i+1..i+degree/2 (mod n), and for an odd degree also to the node opposite
// it (which needs an even n).
func ringLattice(n, degree int) ([][2]int, error) {
	switch {
	case n < 2:
		return nil, fmt.Errorf("--nodes %d: need at least 2 nodes", n)
	case degree < 1 || degree >= n:
		return nil, fmt.Errorf("--degree %d: must be between 1 and nodes-1 (%d)", degree, n-1)
	case degree == 1 && n != 2:
		return nil, fmt.Errorf("--degree 1 cannot connect %d nodes; use 2 or more", n)
	case degree%2 == 1 && n%2 == 1:
		return nil, fmt.Errorf("--degree %d is odd and --nodes %d is odd: no graph has every node of odd degree on an odd number of nodes", degree, n)
	}
	seen := map[[2]int]bool{}
	var edges [][2]int
	add := func(a, b int) {
		e := [2]int{min(a, b), max(a, b)}
		if a != b && !seen[e] {
			seen[e] = true
			edges = append(edges, e)
		}
	}
	for i := range n {
		for k := 1; k <= degree/2; k++ {
			add(i, (i+k)%n)
		}
	}
	if degree%2 == 1 {
		for i := range n / 2 {
			add(i, i+n/2)
		}
	}
	deg := make([]int, n)
	for _, e := range edges {
		deg[e[0]]++
		deg[e[1]]++
	}
	for i, d := range deg {
		if d != degree {
			return nil, fmt.Errorf("topology: node %d has degree %d, want %d", i, d, degree)
		}
	}
	return edges, nil
}

// machineCPU returns the CPU time all processes of the machine have used
// (user, nice, system, irq, softirq) and the time stolen by the hypervisor,
// from /proc/stat; zeros when it cannot be read.
func machineCPU() (busy, steal time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0
	}
	tick := func(i int) time.Duration {
		v, _ := strconv.ParseUint(f[i], 10, 64)
		return time.Duration(v) * time.Second / 100 // USER_HZ is 100 on Linux
	}
	return tick(1) + tick(2) + tick(3) + tick(6) + tick(7), tick(8)
}
