// Command banyan-bench measures Banyan and prints the results as JSON.
//
// Scenarios are subcommands:
//
//	banyan-bench chat   N in-process nodes in a fixed-degree topology chat at a
//	                    fixed rate; delivery, latency, bytes and CPU, compared
//	                    with plain gossipsub on the same topology (--compare)
//	banyan-bench rss    N real 'banyan run' processes chat through their local
//	                    API; peak and current resident memory per process
//	banyan-bench flood  a hostile peer floods the node two honest nodes chat
//	                    through; honest latency with and without it
//	banyan-bench observer  what a carrier connected to everyone learns about
//	                    who writes to whom
//	banyan-bench relay-disk  a relay's disk before and after its quota evicts
//	banyan-bench relay  a relay process serving in-process clients in several
//	                    groups: its CPU and memory, and delivery latency
//	banyan-bench scale  a village group of 200 members, 50 of them online
//	                    and chatting: delivery, latency, bytes and CPU
//
// Every scenario runs with deadlines and cleans up its temporary
// directories and processes. Results go to stdout as JSON; progress goes to
// stderr.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd(os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "banyan-bench:", err)
		os.Exit(1)
	}
}

// rootFlags are the flags every scenario shares.
type rootFlags struct {
	cpuProfile   string
	memProfile   string
	blockProfile string
	mutexProfile string
	verbose      bool
	stopProf     func() error
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	rf := &rootFlags{}
	root := &cobra.Command{
		Use:   "banyan-bench",
		Short: "Benchmarks for Banyan; results are printed as JSON",
		Long: `banyan-bench runs a benchmark scenario and prints its results as JSON on
stdout (progress on stderr).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if rf.blockProfile != "" {
				// Every blocking event: the waits that cost latency are
				// few and long (fsync, locks held across a disk write).
				runtime.SetBlockProfileRate(1)
			}
			if rf.mutexProfile != "" {
				runtime.SetMutexProfileFraction(1)
			}
			stop, err := startCPUProfile(rf.cpuProfile)
			if err != nil {
				return err
			}
			rf.stopProf = stop
			// Profiles are written however the scenario ends: those of a
			// run that failed or was interrupted are often the ones wanted.
			if run := cmd.RunE; run != nil {
				cmd.RunE = func(cmd *cobra.Command, args []string) error {
					return errors.Join(run(cmd, args), rf.finishProfiles())
				}
			}
			return nil
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&rf.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	root.PersistentFlags().StringVar(&rf.memProfile, "memprofile", "", "write an allocation profile at the end of the run to this file")
	root.PersistentFlags().StringVar(&rf.blockProfile, "blockprofile", "", "write a profile of where goroutines waited (channels, locks, select) to this file")
	root.PersistentFlags().StringVar(&rf.mutexProfile, "mutexprofile", "", "write a profile of contended mutexes to this file")
	root.PersistentFlags().BoolVarP(&rf.verbose, "verbose", "v", false, "log progress and node logs to stderr")
	root.AddCommand(newChatCmd(rf), newRSSCmd(rf), newCatchupCmd(rf), newDMCmd(rf), newWalletCmd(rf), newFloodCmd(rf), newFloodPeerCmd(), newLoadPeerCmd(), newCatchupLateCmd(), newObserverCmd(rf), newRelayDiskCmd(), newRelayBenchCmd(rf), newScaleCmd(rf))
	return root
}

// finishProfiles stops the CPU profile and writes the others asked for.
func (rf *rootFlags) finishProfiles() error {
	if err := rf.stopProf(); err != nil {
		return err
	}
	for _, p := range []struct{ file, name string }{
		{rf.memProfile, "allocs"}, {rf.blockProfile, "block"}, {rf.mutexProfile, "mutex"},
	} {
		if err := writeProfile(p.file, p.name); err != nil {
			return err
		}
	}
	return nil
}

// writeProfile writes the named runtime profile to file, if file is set.
func writeProfile(file, name string) error {
	if file == "" {
		return nil
	}
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("%s profile: %w", name, err)
	}
	defer f.Close()
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		return fmt.Errorf("%s profile: %w", name, err)
	}
	return nil
}

// writeJSON prints v indented, followed by a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// scenarioOutput returns a scenario's node logger and progress reporter:
// warnings and progress lines on stderr with -v, silence otherwise.
func scenarioOutput(cmd *cobra.Command, rf *rootFlags) (*slog.Logger, func(string, ...any)) {
	if !rf.verbose {
		return slog.New(slog.DiscardHandler), func(string, ...any) {}
	}
	w := cmd.ErrOrStderr()
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn})),
		func(format string, args ...any) { fmt.Fprintf(w, "banyan-bench: "+format+"\n", args...) }
}

// startTrace starts an execution trace into name, if set, and returns
// what stops it (catch-up's --sync-trace).
func startTrace(name string) (stop func() error, err error) {
	return startRecording("trace", name, trace.Start, trace.Stop)
}

// startCPUProfile starts a CPU profile into name, if set, and returns
// what stops it (--cpuprofile, and catch-up's --sync-cpuprofile).
func startCPUProfile(name string) (stop func() error, err error) {
	return startRecording("cpu profile", name, pprof.StartCPUProfile, pprof.StopCPUProfile)
}

// startSyncRecordings starts catch-up's --sync-cpuprofile and
// --sync-trace (either may be unset) and returns what stops both.
func startSyncRecordings(profile, trace string) (stop func() error, err error) {
	stopProfile, err := startCPUProfile(profile)
	if err != nil {
		return nil, err
	}
	stopTrace, err := startTrace(trace)
	if err != nil {
		return nil, errors.Join(err, stopProfile())
	}
	return func() error { return errors.Join(stopTrace(), stopProfile()) }, nil
}

// startRecording starts what writes to a file (a profile, a trace) into
// name, if set, and returns what stops it and closes the file.
func startRecording(what, name string, start func(io.Writer) error, end func()) (stop func() error, err error) {
	if name == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return func() error {
		end()
		return f.Close()
	}, nil
}
