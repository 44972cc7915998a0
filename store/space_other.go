//go:build !unix

package store

// freeSpace is not known here: the store does not guard its disk.
func freeSpace(string) (int64, bool) { return 0, false }
