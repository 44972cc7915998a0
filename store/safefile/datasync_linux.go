package safefile

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync makes f's data durable, and its size, without its times.
func datasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }
