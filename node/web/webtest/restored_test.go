package webtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// banyanCLI runs a command that must succeed.
func banyanCLI(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(banyanBin, args...)
	cmd.Env = testEnv
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("banyan %v: %v\n%s", args, err, out)
	}
}

// A node restored from a backup, alone, says on every screen that the
// person can read but not write until a neighbour brings back what they
// wrote before.
func TestBrowserRestoredNodeSaysItIsCatchingUp(t *testing.T) {
	bctx := newBrowser(t)
	dir := t.TempDir()
	old := filepath.Join(dir, "old")
	initHome(t, old)
	pass := filepath.Join(dir, "pass")
	if err := os.WriteFile(pass, []byte("a backup passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "amina.backup")
	banyanCLI(t, "backup", file, "--backup-passphrase-file", pass, "--home", old)
	banyanCLI(t, "restore", file, "--backup-passphrase-file", pass, "--home", filepath.Join(dir, "amina"))
	amina := startNode(t, dir, "Amina")

	p := newPage(t, bctx, "amina", true)
	open(p, amina)
	p.wait("the catching-up banner", `/cannot send, pay or post/.test(document.querySelector('#catching-up')?.textContent ?? '')`)
	p.screenshot("restored-1280")
	p.resize(360, 780)
	p.wait("the banner at 360 px", `!!document.querySelector('#catching-up')`)
	if w := evalJS[float64](p, `document.querySelector('#catching-up').getBoundingClientRect().right`); w > 360 {
		p.fail("the banner is %v px wide at 360 px", w)
	}
	p.screenshot("restored-360")
	p.checkConsole()
}
