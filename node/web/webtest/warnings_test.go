package webtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// Amina's node's clock is a day ahead (shifted with the test-only
// BANYAN_TEST_CLOCK_OFFSET): her page says so, in an alert; Bo's, whose
// clock agrees with most, says nothing.
func TestBrowserClockWarning(t *testing.T) {
	bctx := newBrowser(t)
	dir := t.TempDir()
	bo := startNode(t, dir, "Bo")
	chidi := startNode(t, dir, "Chidi", "--peer", bo.info.Addrs[0])
	amina := startNodeEnv(t, dir, "Amina", []string{"BANYAN_TEST_CLOCK_OFFSET=24h"}, "--peer", bo.info.Addrs[0], "--peer", chidi.info.Addrs[0])
	for _, n := range []*nodeProc{amina, bo} {
		waitFor(t, n.name+" to hear the time from both peers", func() (bool, string) {
			info, err := n.client.Node(n.ctx())
			return err == nil && info.Clock.Peers == 2, fmt.Sprint(info, err)
		})
	}
	pa := newPage(t, bctx, "amina", true)
	open(pa, amina)
	pa.wait("the clock warning", `document.querySelector('#clock-warning[role=alert]')?.textContent.includes('1 day ahead of 2 peers')`)
	pa.screenshot("clock-warning")
	pb := newPage(t, bctx, "bo", true)
	open(pb, bo)
	if evalJS[bool](pb, `!!document.querySelector('#clock-warning')`) {
		pb.fail("Bo's page warns about his clock: %s", evalJS[string](pb, `document.querySelector('#clock-warning').textContent`))
	}
}

// A page open while its node's disk fills up shows the refusal in an
// alert, and takes it away once space is freed. The node's home is on a
// small tmpfs: the test needs root, and skips without it.
func TestBrowserDiskFullBanner(t *testing.T) {
	bctx := newBrowser(t)
	disk := smallDisk(t, 96)
	amina := startNode(t, disk, "Amina")
	pa := newPage(t, bctx, "amina", true)
	open(pa, amina)
	if evalJS[bool](pa, `!!document.querySelector('#disk-full')`) {
		pa.fail("a disk-full banner on an empty disk")
	}
	filler := fillBelow(t, disk, int64(amina.info.Storage.ReserveBytes)-1<<20)
	waitFor(t, "the node to refuse writes", func() (bool, string) {
		info, err := amina.client.Node(amina.ctx())
		return err == nil && info.Storage.WritesRefused != "", fmt.Sprint(err)
	})
	pa.wait("the disk-full banner", `document.querySelector('#disk-full[role=alert]')?.textContent.includes('disk is nearly full')`)
	pa.screenshot("disk-full")
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	pa.wait("the banner to go once space is freed", `!document.querySelector('#disk-full')`)
}

// smallDisk mounts a tmpfs of size MiB, unmounted when the test ends.
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the disk-full test mounts a small tmpfs: it needs root and mount(8)")
	}
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fillBelow writes a file so that the disk keeps only left bytes free.
func fillBelow(t *testing.T, dir string, left int64) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for n := int64(st.Bavail)*st.Bsize - left; n > 0; n -= int64(len(chunk)) {
		if _, err := f.Write(chunk[:min(int64(len(chunk)), n)]); err != nil {
			t.Fatal(err)
		}
	}
	return path
}
