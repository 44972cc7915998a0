package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"

	"github.com/spf13/cobra"
)

// startLoad starts a process of this binary that keeps n threads busy, so
// that "under load" means the same wherever a benchmark runs: n cores'
// worth of other work, outside the measured process (its CPU is the
// benchmark's other_cpu_s, not cpu_s). stop ends it; pid is the load
// process's (0 for none).
func startLoad(n int) (stop func(), pid int, err error) {
	if n <= 0 {
		return func() {}, 0, nil
	}
	self, err := os.Executable()
	if err != nil {
		return nil, 0, err
	}
	cmd := exec.Command(self, "load-peer", strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, 0, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, 0, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "busy\n" {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, 0, errors.New("the load process did not start")
	}
	return func() {
		stdin.Close()
		cmd.Wait()
	}, cmd.Process.Pid, nil
}

// newLoadPeerCmd is the load process of --load: N threads spinning until
// its stdin closes.
func newLoadPeerCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "load-peer N",
		Short:  "Keep N threads busy until stdin closes (started by --load)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[0])
			if err != nil || n <= 0 {
				return fmt.Errorf("N must be a positive number of threads, not %q", args[0])
			}
			runtime.GOMAXPROCS(n + 1)
			done := make(chan struct{})
			for range n {
				go func() {
					runtime.LockOSThread()
					x := uint64(1)
					for {
						select {
						case <-done:
							return
						default:
						}
						for range 1 << 16 {
							x = x*6364136223846793005 + 1442695040888963407
						}
					}
				}()
			}
			fmt.Fprintln(cmd.OutOrStdout(), "busy")
			io.Copy(io.Discard, cmd.InOrStdin())
			close(done)
			return nil
		},
	}
}
