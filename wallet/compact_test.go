package wallet

import (
	"testing"
	"unsafe"
)

// A node is most of a loaded ledger's memory (a million entries, a
// million nodes): it must stay within the 224-byte size class.
func TestNodeSize(t *testing.T) {
	if sz := unsafe.Sizeof(node{}); sz > 224 {
		t.Errorf("node is %d bytes, over the 224 of its allocation class: the next class is 240", sz)
	}
}
