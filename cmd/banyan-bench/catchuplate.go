package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/heapgoal"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/store"
)

// The late node of 'catchup' runs in a process of its own, so that the
// memory a catch-up costs the node that receives it is measured apart
// from the node that sends it. The two processes speak JSON lines: the
// late process says lateHello once its node and group exist, the
// benchmark answers with lateRequest once the holder is ready, the late
// process syncs and says lateReport, then stops when its stdin closes.

// lateHello is the late node's first line: who it is and the invite of
// the group it created (inviter left out, so the nodes never meet before
// the measured sync).
type lateHello struct {
	Peer   peer.ID `json:"peer"`
	Invite string  `json:"invite"`
}

// lateRequest tells the late node whom to sync with.
type lateRequest struct {
	Holder string `json:"holder"` // a /p2p multiaddr
}

// lateReport is the measured sync, as the late node saw it.
type lateReport struct {
	Sync *oneSync `json:"sync"`
	// Stored is what the late store holds of the group afterwards.
	Stored int `json:"stored"`
	// CPU is the late process's CPU over the sync; PeakRSSMB its VmHWM
	// since the sync started (0 where it cannot be reset).
	CPU       time.Duration `json:"cpu"`
	PeakRSSMB float64       `json:"peak_rss_mb"`
	// AnonMB and FileMB split its RSS when the sync has ended: its own
	// memory, and the pages of files it maps (its program and Badger's
	// tables and value log).
	AnonMB float64 `json:"anon_mb"`
	FileMB float64 `json:"file_mb"`
}

// lateNode is the benchmark's handle on the late process.
type lateNode struct {
	hello lateHello
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines *bufio.Scanner
}

// startLate starts the late process on h and waits for its hello.
// profile and trace, if set, are where it writes a CPU profile and an
// execution trace of the sync.
func startLate(ctx context.Context, h home.Home, carry bool, profile, trace string) (_ *lateNode, err error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "catchup-late", "--home", string(h),
		fmt.Sprintf("--carry=%t", carry), "--sync-cpuprofile", profile, "--sync-trace", trace)
	cmd.Stderr = os.Stderr
	n := &lateNode{cmd: cmd}
	if n.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("late node: %w", err)
	}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	n.lines = bufio.NewScanner(stdout)
	n.lines.Buffer(nil, 1<<20)
	if err := n.read(&n.hello); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *lateNode) read(v any) error {
	if !n.lines.Scan() {
		return errors.New("late node: ended before it answered (see its errors above)")
	}
	if err := json.Unmarshal(n.lines.Bytes(), v); err != nil {
		return fmt.Errorf("late node: %w", err)
	}
	return nil
}

// sync has the late node sync once with holder and returns its report.
func (n *lateNode) sync(holder peer.AddrInfo) (*lateReport, error) {
	addrs, err := peer.AddrInfoToP2pAddrs(&holder)
	if err != nil || len(addrs) == 0 {
		return nil, fmt.Errorf("holder address: %v", err)
	}
	if err := json.NewEncoder(n.stdin).Encode(lateRequest{Holder: addrs[0].String()}); err != nil {
		return nil, fmt.Errorf("late node: %w", err)
	}
	var rep lateReport
	if err := n.read(&rep); err != nil {
		return nil, err
	}
	if rep.Sync == nil || rep.Sync.Stats == nil {
		return nil, errors.New("late node: report without a sync")
	}
	return &rep, nil
}

// close ends the late process and waits for it to stop its node.
func (n *lateNode) close() error {
	n.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- n.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("late node: %w", err)
		}
		return nil
	case <-time.After(30 * time.Second):
		n.cmd.Process.Kill()
		<-done
		return errors.New("late node: did not stop within 30s")
	}
}

// newCatchupLateCmd is the late node L of 'catchup', started by it.
func newCatchupLateCmd() *cobra.Command {
	var (
		dir, profile, trace string
		carry               bool
	)
	c := &cobra.Command{
		Use:    "catchup-late",
		Short:  "The late node of 'catchup' (started by it)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", "late")
			return runLate(cmd.Context(), home.Home(dir), carry, profile, trace, log, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	f := c.Flags()
	f.StringVar(&dir, "home", "", "initialised data directory of the late node")
	f.BoolVar(&carry, "carry", true, "carry mail of every mailbox bucket")
	f.StringVar(&profile, "sync-cpuprofile", "", "write a CPU profile of the sync to this file")
	f.StringVar(&trace, "sync-trace", "", "write an execution trace of the sync to this file")
	return c
}

func runLate(ctx context.Context, h home.Home, carry bool, profile, trace string, log *slog.Logger, stdin io.Reader, stdout io.Writer) (err error) {
	n, err := startSoloNode(h, log, func(no *node.Options) {
		no.SyncInterval = time.Hour
		no.Mailbox.NoCarry = !carry
	})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, n.stop()) }()
	// As in 'banyan run': the collector's policy is the process's.
	defer heapgoal.Start(heapgoal.Options{Preallocated: n.Store().Preallocated(), Logger: log})()
	g, err := n.Groups().Create("bench")
	if err != nil {
		return err
	}
	inv := n.Groups().Invite(g)
	inv.Inviter = peer.AddrInfo{}
	out := json.NewEncoder(stdout)
	if err := out.Encode(lateHello{Peer: n.ID(), Invite: inv.String()}); err != nil {
		return err
	}
	in := bufio.NewScanner(stdin)
	if !in.Scan() {
		return errors.New("no holder to sync with")
	}
	var req lateRequest
	if err := json.Unmarshal(in.Bytes(), &req); err != nil {
		return fmt.Errorf("request: %w", err)
	}
	holder, err := peer.AddrInfoFromString(req.Holder)
	if err != nil {
		return fmt.Errorf("holder: %w", err)
	}
	stopRecording, err := startSyncRecordings(profile, trace)
	if err != nil {
		return err
	}
	peakReset := resetPeakRSS()
	cpu0 := cpuTime()
	st, err := syncOnce(ctx, n, *holder)
	cpu1 := cpuTime()
	if perr := stopRecording(); err == nil {
		err = perr
	}
	if err != nil {
		return err
	}
	rep := lateReport{Sync: st, CPU: cpu1 - cpu0}
	if hwm, _, err := procStatusMB(0); err == nil && peakReset {
		rep.PeakRSSMB = hwm
	}
	rep.AnonMB, rep.FileMB, _ = procAnonFileMB(0)
	if rep.Stored, err = n.Store().CountAfter(g.Scope(), store.Cursor{}); err != nil {
		return err
	}
	if err := out.Encode(&rep); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, stdin)
	return err
}

// inviteGroup is the group record an invite describes: what signing a
// history for it needs.
func inviteGroup(in *groupchat.Invite) *groupchat.Group {
	return &groupchat.Group{ID: in.GroupID, Name: in.Name, Key: in.Key}
}
