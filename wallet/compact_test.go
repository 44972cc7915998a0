package wallet

import (
	"testing"
	"unsafe"
)

// A node is most of a loaded ledger's memory (a million entries, a
// million nodes): it must stay within the 176-byte size class.
func TestNodeSize(t *testing.T) {
	if sz := unsafe.Sizeof(node{}); sz > 176 {
		t.Errorf("node is %d bytes, over the 176 of its allocation class: the next class is 192", sz)
	}
}
