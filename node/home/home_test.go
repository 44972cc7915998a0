package home_test

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/banyan-mesh/banyan/node/home"
)

// What a stopped node last said does not outlive it: a node that has just
// taken the lock, before it says anything, is starting, not stopping.
func TestStatusOfANewLockHolder(t *testing.T) {
	h := home.Home(t.TempDir())
	l, err := h.Lock()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	alive := exec.Command("sleep", "60")
	if err := alive.Start(); err != nil {
		t.Skipf("cannot run sleep: %v", err)
	}
	defer func() { alive.Process.Kill(); alive.Wait() }()
	for _, c := range []struct {
		pid  int
		want home.State
	}{{gone.Process.Pid, home.StateStarting}, {alive.Process.Pid, home.StateStopping}} {
		if err := os.WriteFile(h.LockFile(), fmt.Appendf(nil, "stopping %d\n", c.pid), 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := h.Status()
		if err != nil {
			t.Fatal(err)
		}
		if !st.Running || st.State != c.want {
			t.Errorf("stopping by pid %d: %+v, want running and %s", c.pid, st, c.want)
		}
	}
}
