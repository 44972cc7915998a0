package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTicks reads a process's user and system CPU from /proc, in clock
// ticks.
func cpuTicks(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	var utime, stime int
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	return utime + stime
}

// --load keeps a process of its own busy while the benchmark runs, and
// stopping it ends it.
func TestLoadRunsAndStops(t *testing.T) {
	stop, pid, err := startLoad(1)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for cpuTicks(t, pid) < 20 {
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("the load process used %d ticks of CPU in 20 s", cpuTicks(t, pid))
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
		t.Errorf("the load process is still there after stop: %v", err)
	}
	if _, pid, err := startLoad(0); err != nil || pid != 0 {
		t.Errorf("no load: pid %d, %v", pid, err)
	}
}
