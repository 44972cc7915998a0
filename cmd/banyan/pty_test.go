//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ptyProc is the command run on a pseudo-terminal, as a person at a
// terminal runs it: stdin, stdout and stderr are the terminal, which is
// the process's controlling terminal, so that Ctrl-C sends SIGINT.
type ptyProc struct {
	cmd    *exec.Cmd
	master *os.File
	slave  *os.File
	done   chan struct{}

	mu  sync.Mutex
	out bytes.Buffer
}

// openPty opens a new pseudo-terminal pair.
func openPty() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return m, s, nil
}

// startPty runs banyan with args on a new terminal.
func startPty(t *testing.T, args ...string) *ptyProc {
	t.Helper()
	m, s, err := openPty()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	p := &ptyProc{master: m, slave: s, done: make(chan struct{})}
	p.cmd = exec.Command(banyanBin, args...)
	p.cmd.Env = testEnv
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = s, s, s
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		m.Close()
		s.Close()
		if t.Failed() {
			t.Logf("terminal of banyan %s:\n%s", strings.Join(args, " "), p.output())
		}
	})
	return p
}

// output is what the process wrote to its terminal so far.
func (p *ptyProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitOutput waits until the terminal shows want.
func (p *ptyProc) waitOutput(t *testing.T, want string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("the terminal to show %q", want), func() (bool, string) {
		return strings.Contains(p.output(), want), p.output()
	})
}

// type_ types text at the terminal.
func (p *ptyProc) typeText(t *testing.T, text string) {
	t.Helper()
	if _, err := p.master.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *ptyProc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(waitTimeout):
		t.Fatalf("banyan did not exit within %v", waitTimeout)
	}
	return p.cmd.ProcessState.ExitCode()
}

// echoes reports whether the terminal echoes what is typed.
func (p *ptyProc) echoes(t *testing.T) bool {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(p.slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag&unix.ECHO != 0
}
