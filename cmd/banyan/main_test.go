package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// banyanBin is the command built once for every test; testEnv is the
// environment the tests run it in: no BANYAN_* variables, and a private
// XDG_STATE_HOME and XDG_CONFIG_HOME so that nothing touches the real
// default data directory or configuration file.
var (
	banyanBin string
	testEnv   []string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "banyan-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	banyanBin = filepath.Join(dir, "banyan")
	args := []string{"build", "-o", banyanBin}
	// BANYAN_TEST_RACE=1 builds the command itself with the race detector.
	if os.Getenv("BANYAN_TEST_RACE") != "" {
		args = append(args, "-race")
	}
	build := exec.Command(goTool(), append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "build banyan: %v\n", err)
		return 1
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BANYAN_") && !strings.HasPrefix(kv, "XDG_STATE_HOME=") && !strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			testEnv = append(testEnv, kv)
		}
	}
	testEnv = append(testEnv, "XDG_STATE_HOME="+filepath.Join(dir, "xdg-state"), "XDG_CONFIG_HOME="+filepath.Join(dir, "xdg-config"))
	return m.Run()
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if r := os.Getenv("GOROOT"); r != "" {
		return filepath.Join(r, "bin", "go")
	}
	return "/usr/local/go/bin/go"
}

// result is what one run of the command did.
type result struct {
	args   []string
	stdout string
	stderr string
	code   int // -1 if it could not run or timed out
}

func (r result) String() string {
	return fmt.Sprintf("banyan %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// invocation describes a run of the command.
type invocation struct {
	args  []string
	stdin string
	env   []string // added to testEnv
}

// cliTimeout bounds every command the tests run (not nodes).
const cliTimeout = 30 * time.Second

// run runs the command; it is safe to call from any goroutine.
func (in invocation) run() result {
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, banyanBin, in.args...)
	cmd.Env = append(append([]string(nil), testEnv...), in.env...)
	cmd.Stdin = strings.NewReader(in.stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{args: in.args, stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.code = -1
		r.stderr += fmt.Sprintf("\n[test: timed out after %v]", cliTimeout)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		r.code = -1
		r.stderr += fmt.Sprintf("\n[test: %v]", err)
	}
	return r
}

// runCLI runs banyan with args and no stdin.
func runCLI(args ...string) result { return invocation{args: args}.run() }
