package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/groupchat"
)

const diskSkipMsg = "the full-disk test mounts a small tmpfs: it needs root and mount(8); run as root (CI does)"

// smallDisk mounts a tmpfs of size MiB at a fresh directory, unmounted
// when the test ends.
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip(diskSkipMsg)
	}
	if _, err := exec.LookPath("mount"); err != nil {
		t.Skipf("%s (mount not found)", diskSkipMsg)
	}
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// fillTo writes a file of real bytes so that the disk keeps only left
// bytes free.
func fillTo(t *testing.T, dir string, left int64) string {
	t.Helper()
	path := filepath.Join(dir, fmt.Sprintf("filler-%d", left))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for n := freeBytes(t, dir) - left; n > 0; n -= int64(len(chunk)) {
		if _, err := f.Write(chunk[:min(int64(len(chunk)), n)]); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func storage(t *testing.T, p *nodeProc) api.Storage {
	t.Helper()
	var n api.Node
	mustJSON(t, p, &n, "id")
	return n.Storage
}

// A node whose disk fills up while it sends refuses new messages with a
// clear error (507 in the API), keeps running and serving what it holds,
// writes again by itself once space is freed, and starts on a full disk,
// even on one too full to open its store for writing.
func TestProcessFullDisk(t *testing.T) {
	t.Parallel()
	disk := smallDisk(t, 96)
	a := startNode(t, "A", filepath.Join(disk, "a"))
	waitUp(t, a)
	var g groupchat.GroupInfo
	mustJSON(t, a, &g, "group", "create", "square")
	ctx := context.Background()
	cl, err := api.Dial(ctx, filepath.Join(a.home, "api.addr"), filepath.Join(a.home, "api.token"))
	if err != nil {
		t.Fatal(err)
	}
	chat := groupchat.NewClient(cl)
	if s := storage(t, a); s.WritesRefused != "" || s.ReserveBytes == 0 {
		t.Fatalf("storage on an empty disk: %+v", s)
	}

	// Leave 2 MiB above the reserve, then send until the node refuses.
	reserve := int64(storage(t, a).ReserveBytes)
	filler := fillTo(t, disk, reserve+2<<20)
	text := strings.Repeat("x", 16000)
	var acked []string
	var refusal error
	for i := 0; i < 1000 && refusal == nil; i++ {
		m, err := chat.Send(ctx, g.ID, fmt.Sprintf("%d %s", i, text))
		if err != nil {
			refusal = err
			break
		}
		acked = append(acked, m.ID)
	}
	if !api.IsStatus(refusal, 507) || !strings.Contains(refusal.Error(), "disk is nearly full") {
		t.Fatalf("after %d messages the refusal is %v", len(acked), refusal)
	}
	if len(acked) == 0 {
		t.Fatal("no message was sent before the disk was full")
	}
	t.Logf("%d messages of 16 KB acknowledged before the refusal: %v", len(acked), refusal)
	if r := runCLI("send", g.ID, "one more", "--home", a.home); r.code == 0 || !strings.Contains(r.stderr, "disk is nearly full") {
		t.Fatalf("send on a full disk:\n%v", r)
	}
	if s := storage(t, a); !strings.Contains(s.WritesRefused, "disk is nearly full") {
		t.Fatalf("storage on a full disk: %+v", s)
	}
	if r := runCLI("id", "--home", a.home); !strings.Contains(r.stdout, "WRITES REFUSED") {
		t.Fatalf("banyan id on a full disk:\n%v", r)
	}
	_, have, err := history(a, g.ID)
	if err != nil {
		t.Fatalf("history on a full disk: %v", err)
	}
	if m := missing(have, acked); len(m) > 0 {
		t.Fatalf("%d acknowledged messages missing on a full disk", len(m))
	}
	if !strings.Contains(tail(a.logPath, 200), "disk nearly full") {
		t.Error("the node did not log the full disk")
	}

	// Space comes back: the node writes again without a restart.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "A to write again", func() (bool, string) {
		s := storage(t, a)
		return s.WritesRefused == "", s.WritesRefused
	})
	acked = append(acked, mustSend(t, a, g.ID, "space is back"))

	// Restart on a disk below the reserve: it starts and refuses writes.
	filler = fillTo(t, disk, reserve-4<<20)
	if err := a.stop(waitTimeout); err != nil {
		t.Fatal(err)
	}
	if err := a.start(); err != nil {
		t.Fatal(err)
	}
	waitUp(t, a)
	if s := storage(t, a); !strings.Contains(s.WritesRefused, "disk is nearly full") {
		t.Fatalf("storage after a restart on a full disk: %+v", s)
	}
	if _, have, err := history(a, g.ID); err != nil || len(missing(have, acked)) > 0 {
		t.Fatalf("history after a restart on a full disk: %v", err)
	}

	// Restart on a disk with hardly a byte free: read-only, and it says so.
	if err := a.stop(waitTimeout); err != nil {
		t.Fatal(err)
	}
	fillTo(t, disk, 256<<10)
	if err := a.start(); err != nil {
		t.Fatal(err)
	}
	waitUp(t, a)
	if s := storage(t, a); !strings.Contains(s.WritesRefused, "restarted") {
		t.Fatalf("storage on a disk too full to open for writing: %+v", s)
	}
	if _, have, err := history(a, g.ID); err != nil || len(missing(have, acked)) > 0 {
		t.Fatalf("history of a read-only store: %v", err)
	}
	if r := runCLI("send", g.ID, "read-only", "--home", a.home); r.code == 0 || !strings.Contains(r.stderr, "disk is nearly full") {
		t.Fatalf("send to a read-only store:\n%v", r)
	}

	// Freed and restarted, it writes again.
	if err := a.stop(waitTimeout); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filler, filepath.Join(disk, fmt.Sprintf("filler-%d", 256<<10))} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.start(); err != nil {
		t.Fatal(err)
	}
	waitUp(t, a)
	mustSend(t, a, g.ID, "writing again")
}
