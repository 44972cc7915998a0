package main

import (
	"crypto/rand"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/node/relay"
)

// relayDiskOptions are the flags of 'banyan-bench relay-disk'.
type relayDiskOptions struct {
	groups, authors, events, size int
	quotaMiB                      int64
}

// relayDiskResult is what 'banyan-bench relay-disk' prints.
type relayDiskResult struct {
	Events        int     `json:"events"`
	EnvelopeBytes int64   `json:"envelope_bytes"`
	WriteSeconds  float64 `json:"write_s"`
	// DiskWritten is the store's size on disk (allocated blocks, as du
	// counts them) once everything is written and the relay closed.
	DiskWritten int64 `json:"disk_written_bytes"`
	QuotaBytes  int64 `json:"quota_bytes"`
	Evicted     int   `json:"evicted"`
	// EvictSeconds is the time of one Enforce: eviction and Reclaim.
	EvictSeconds float64 `json:"evict_s"`
	HeldAfter    int64   `json:"held_after_bytes"`
	DiskAfter    int64   `json:"disk_after_bytes"`
	// StatusSeconds is the time of one 'banyan relay status' on the
	// reopened relay (from the counts kept, no scan).
	StatusSeconds float64 `json:"status_s"`
	// RSSMB and PeakRSSMB are this process's resident memory after the
	// relay was reopened, quotas enforced and its status read, and its
	// peak since it was reopened (0 where the peak cannot be reset);
	// what writing left on the heap was given back first.
	RSSMB     float64 `json:"rss_mb"`
	PeakRSSMB float64 `json:"peak_rss_mb"`
	// AnonMB and FileMB split RSSMB: memory of the process's own, and
	// pages of files it maps (Badger's tables), which the kernel takes
	// back when it needs them.
	AnonMB float64 `json:"rss_anon_mb"`
	FileMB float64 `json:"rss_file_mb"`
}

func newRelayDiskCmd() *cobra.Command {
	o := &relayDiskOptions{}
	c := &cobra.Command{
		Use:   "relay-disk",
		Short: "A relay's disk before and after its quota evicts",
		Long: `Build a relay on disk (no network), register --groups groups and store
--events envelopes of --size payload bytes in each, written by --authors
authors per group, with no quota; close it and measure the store on disk.
Then open it again with a total quota of --quota-mib, enforce the quotas
once (evict the oldest events of the heaviest authors, then give the space
back: store.Reclaim) and measure again. Sizes are allocated blocks, as du
counts them. With a quota above what was written, nothing is evicted:
the figures are then those of a relay that holds it all (its memory, and
the time of 'banyan relay status').`,
		Example: `  banyan-bench relay-disk --groups 5 --events 20000 --quota-mib 20`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.groups < 1 || o.authors < 1 || o.events < o.authors || o.size < 1 || o.size > 16<<10 || o.quotaMiB < 1 {
				return fmt.Errorf("need --groups, --authors, --quota-mib >= 1, --events >= --authors and --size from 1 to 16384")
			}
			r, err := runRelayDisk(cmd, o)
			if err != nil {
				return err
			}
			return writeJSON(cmd.OutOrStdout(), r)
		},
	}
	f := c.Flags()
	f.IntVar(&o.groups, "groups", 5, "groups registered")
	f.IntVar(&o.authors, "authors", 10, "authors per group")
	f.IntVar(&o.events, "events", 20000, "events per group")
	f.IntVar(&o.size, "size", 1000, "payload bytes per event (random, as ciphertext is)")
	f.Int64Var(&o.quotaMiB, "quota-mib", 20, "the total quota the relay is opened with the second time, in MiB")
	return c
}

func openRelay(h home.Home, q relay.Quotas) (*node.Node, error) {
	return node.New(node.Options{
		Home: h, Listen: []string{"/ip4/127.0.0.1/tcp/0"}, API: "off", NoMDNS: true,
		Relay: true, RelayQuotas: q, Logger: slog.New(slog.DiscardHandler),
	})
}

func runRelayDisk(cmd *cobra.Command, o *relayDiskOptions) (*relayDiskResult, error) {
	dir, err := os.MkdirTemp("", "banyan-bench-relay-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	h := home.Home(dir)
	if _, err := h.Init(nil); err != nil {
		return nil, err
	}
	const unbounded = 1 << 50
	n, err := openRelay(h, relay.Quotas{Total: unbounded, Group: unbounded, Author: unbounded})
	if err != nil {
		return nil, err
	}
	res := &relayDiskResult{QuotaBytes: o.quotaMiB << 20}
	start := time.Now()
	payload := make([]byte, o.size)
	for range o.groups {
		var scope event.Scope
		rand.Read(scope[:])
		if err := n.Relay().Register(peer.ID("bench"), scope); err != nil {
			n.Close()
			return nil, err
		}
		for range o.authors {
			id, err := crypto.NewIdentity()
			if err != nil {
				n.Close()
				return nil, err
			}
			var prev []byte
			var raws [][]byte
			for seq := 1; seq <= o.events/o.authors; seq++ {
				rand.Read(payload)
				e, err := event.Sign(id, event.Body{
					Scope: scope[:], Seq: uint64(seq), Prev: prev, Time: start.Add(time.Duration(seq) * time.Millisecond).UnixMilli(),
					Kind: event.KindGroupMessage, Payload: payload,
				})
				if err != nil {
					n.Close()
					return nil, err
				}
				prev = e.ID[:]
				raws = append(raws, e.Raw)
				res.Events++
				res.EnvelopeBytes += int64(len(e.Raw))
				if len(raws) == 500 || seq == o.events/o.authors {
					if _, _, err := n.Engine().Accept(scope, raws); err != nil {
						n.Close()
						return nil, err
					}
					raws = nil
				}
			}
		}
	}
	res.WriteSeconds = time.Since(start).Seconds()
	// As a relay that stops cleanly does: its counts are kept for the
	// next start.
	if _, err := n.Relay().Enforce(); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.Relay().SaveCounts(); err != nil {
		n.Close()
		return nil, err
	}
	n.Close()
	if res.DiskWritten, err = diskBlocks(h.StoreDir()); err != nil {
		return nil, err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "banyan-bench: wrote %d events, %d bytes on disk; evicting to %d MiB\n", res.Events, res.DiskWritten, o.quotaMiB)
	debug.FreeOSMemory()
	peakReset := resetPeakRSS()
	if n, err = openRelay(h, relay.Quotas{Total: res.QuotaBytes, Group: unbounded, Author: unbounded}); err != nil {
		return nil, err
	}
	start = time.Now()
	res.Evicted, err = n.Relay().Enforce()
	res.EvictSeconds = time.Since(start).Seconds()
	if err != nil {
		n.Close()
		return nil, err
	}
	_, res.HeldAfter, _ = n.Relay().Usage()
	start = time.Now()
	if _, err := n.Relay().Status(); err != nil {
		n.Close()
		return nil, err
	}
	res.StatusSeconds = time.Since(start).Seconds()
	res.AnonMB, res.FileMB, _ = procAnonFileMB(0)
	if hwm, rss, err := procStatusMB(0); err == nil {
		res.RSSMB = rss
		if peakReset {
			res.PeakRSSMB = hwm
		}
	}
	n.Close()
	res.DiskAfter, err = diskBlocks(h.StoreDir())
	return res, err
}

// diskBlocks is what a directory's files take on disk: Badger's files are
// preallocated sparse, so their lengths say little.
func diskBlocks(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		}
		return nil
	})
	return n, err
}
