package store

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/table"

	"github.com/banyan-mesh/banyan/store/safefile"
)

// Tables known to be whole.
//
// Badger parses a block's trailer (its entry count, its checksum's length)
// before it checks the block's checksum, and damage there makes it panic
// in whatever goroutine reads the block, its compactors' included: a
// crash at every start. Reading every block at open would prevent it but
// costs 13 times the open (docs/BENCHMARKS.md). So the store keeps a
// record of the tables it knows to be whole, each with its size and
// modification time: those Badger wrote while the store was open
// (recorded when it closes) and those it checked in full at open. At
// open, a table whose size or time differs from the record, or that is
// not in it (written by a run that was killed, copied in, written over
// by a tool), has every block checked before Badger may read it.

// checkedFile names the record in the store's directory (Badger ignores
// files it does not know).
const checkedFile = "TABLES-CHECKED"

// tableStamp is what tells a table file changed.
type tableStamp struct {
	size  int64
	mtime int64
}

func stampOf(path string) (tableStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return tableStamp{}, err
	}
	return tableStamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}, nil
}

// checkedTables maps a table's file name to its stamp when it was known
// whole.
type checkedTables map[string]tableStamp

// readChecked reads the record in dir; a missing or damaged record is an
// empty one, so that every table is checked.
func readChecked(dir string) checkedTables {
	out := checkedTables{}
	b, err := safefile.Read(filepath.Join(dir, checkedFile))
	if err != nil {
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var name string
		var st tableStamp
		if _, err := fmt.Sscan(sc.Text(), &name, &st.size, &st.mtime); err == nil {
			out[name] = st
		}
	}
	return out
}

// writeChecked records tables as whole, by file name.
func writeChecked(dir string, tables checkedTables) error {
	var b []byte
	for _, name := range slices.Sorted(maps.Keys(tables)) {
		st := tables[name]
		b = fmt.Appendf(b, "%s %d %d\n", name, st.size, st.mtime)
	}
	if err := safefile.Write(filepath.Join(dir, checkedFile), b, 0o600); err != nil {
		return fmt.Errorf("record checked tables: %w", err)
	}
	return nil
}

// recordTablesWhole records every table the MANIFEST lists as whole: it
// is called when Badger has closed the store, having written them.
func recordTablesWhole(bo badger.Options) error {
	m, _, err := readManifest(bo.Dir, bo)
	if err != nil {
		return fmt.Errorf("record checked tables: %w", err)
	}
	whole := checkedTables{}
	for id := range m.Tables {
		name := table.NewFilename(id, bo.Dir)
		if st, err := stampOf(name); err == nil {
			whole[filepath.Base(name)] = st
		}
	}
	return writeChecked(bo.Dir, whole)
}
