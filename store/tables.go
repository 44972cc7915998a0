package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/fb"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/badger/v4/y"
	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/proto"
)

// Damaged tables at open.
//
// Badger opens its tables in goroutines of its own, and a table whose end
// is missing (a disk that lost it, a copy cut short) makes it panic there,
// where no recover of ours can reach: the node would crash at every start.
// So before Badger opens the store, every table the MANIFEST lists has its
// footer read and its index checked against the index's checksum; a table
// not known to be whole (checked.go) has every block checked too. The
// blocks of the others are checked when read, and by the scrub. A table
// that fails is set aside in damagedDir and dropped from the
// MANIFEST, loudly; the store opens without it, the scrub that follows at
// once removes the index keys of the events it held, and sync fetches them
// again from peers.

// damagedDir is where tables that fail the check are moved, inside the
// store's directory (Badger ignores directories), to be looked at or
// deleted by hand.
const damagedDir = "damaged"

// setAsideDamagedTables checks every table of the store in dir and sets
// aside those that fail, returning a sentence for each.
func setAsideDamagedTables(dir string, bo badger.Options, log *slog.Logger) ([]string, error) {
	mpath := filepath.Join(dir, "MANIFEST")
	m, end, err := readManifest(dir, bo)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("check tables: %w", err)
	}
	var drop []*pb.ManifestChange
	var found []string
	checked, whole := readChecked(dir), checkedTables{}
	start, full := time.Now(), 0
	for id, tm := range m.Tables {
		name := table.NewFilename(id, dir)
		st, err := stampOf(name)
		switch {
		case err != nil:
		case checked[filepath.Base(name)] == st:
			err = checkTableFile(name)
		default:
			full++
			err = verifyTableFile(name, tm.Compression)
		}
		if errors.Is(err, os.ErrNotExist) {
			err = errors.New("is missing")
		}
		if err != nil {
			drop = append(drop, &pb.ManifestChange{Id: id, Op: pb.ManifestChange_DELETE})
			found = append(found, fmt.Sprintf("table %s (level %d) %v", filepath.Base(name), tm.Level, err))
			continue
		}
		whole[filepath.Base(name)] = st
	}
	if full > 0 {
		log.Info("checked every block of the tables not known whole", "tables", full, "of", len(m.Tables), "took", time.Since(start).Round(time.Millisecond))
		if err := writeChecked(dir, whole); err != nil {
			return nil, fmt.Errorf("check tables: %w", err)
		}
	}
	if len(drop) == 0 {
		return nil, nil
	}
	f, err := os.OpenFile(mpath, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("check tables: %w", err)
	}
	defer f.Close()
	if err := os.MkdirAll(filepath.Join(dir, damagedDir), 0o700); err != nil {
		return nil, fmt.Errorf("check tables: %w", err)
	}
	for _, c := range drop {
		name := table.NewFilename(c.Id, dir)
		to := filepath.Join(dir, damagedDir, filepath.Base(name))
		if _, err := os.Stat(to); err == nil {
			// Badger may give a later table the number of one set aside.
			to += "." + strconv.FormatInt(time.Now().UnixNano(), 10)
		}
		err := os.Rename(name, to)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("check tables: set aside: %w", err)
		}
	}
	// Badger ignores a MANIFEST's torn tail; the change goes after what it
	// reads.
	buf, err := proto.Marshal(&pb.ManifestChangeSet{Changes: drop})
	if err != nil {
		return nil, fmt.Errorf("check tables: %w", err)
	}
	var head [8]byte
	binary.BigEndian.PutUint32(head[0:4], uint32(len(buf)))
	binary.BigEndian.PutUint32(head[4:8], crc32.Checksum(buf, y.CastagnoliCrcTable))
	if err := f.Truncate(end); err != nil {
		return nil, fmt.Errorf("check tables: MANIFEST: %w", err)
	}
	if _, err := f.WriteAt(append(head[:], buf...), end); err != nil {
		return nil, fmt.Errorf("check tables: MANIFEST: %w", err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("check tables: MANIFEST: %w", err)
	}
	for _, s := range found {
		log.Error("a damaged table of the store was set aside: the events it held are fetched again from peers; what only this node had (its records of other tables) may be lost or older",
			"what", s, "moved_to", filepath.Join(dir, damagedDir))
	}
	return found, nil
}

// readManifest replays the MANIFEST of the store in dir, and returns
// where what it read ends.
func readManifest(dir string, bo badger.Options) (badger.Manifest, int64, error) {
	f, err := os.Open(filepath.Join(dir, "MANIFEST"))
	if err != nil {
		return badger.Manifest{}, 0, err
	}
	defer f.Close()
	m, end, err := badger.ReplayManifestFile(f, bo.ExternalMagicVersion, bo)
	if err != nil {
		return badger.Manifest{}, 0, fmt.Errorf("read MANIFEST: %w", err)
	}
	return m, end, nil
}

// checkTableFile reads a table's footer and checks its index, which Badger
// would otherwise do in a goroutine where damage is a crash.
func checkTableFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	_, _, err = tableIndex(f)
	return err
}

// tableIndex returns a table's index, checked against its checksum, and
// where it starts.
func tableIndex(f *os.File) (*fb.TableIndex, int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	size := fi.Size()
	short := fmt.Errorf("is cut short or damaged at its end (%d bytes)", size)
	// From the end: checksum length (4), checksum, index length (4), index.
	u32At := func(off int64) (uint32, error) {
		var b [4]byte
		if off < 0 {
			return 0, short
		}
		if _, err := f.ReadAt(b[:], off); err != nil {
			return 0, short
		}
		return binary.BigEndian.Uint32(b[:]), nil
	}
	chkLen, err := u32At(size - 4)
	if err != nil {
		return nil, 0, err
	}
	chkAt := size - 4 - int64(chkLen)
	if chkLen == 0 || chkAt < 4 {
		return nil, 0, short
	}
	raw := make([]byte, chkLen)
	if _, err := f.ReadAt(raw, chkAt); err != nil {
		return nil, 0, short
	}
	var chk pb.Checksum
	if err := proto.Unmarshal(raw, &chk); err != nil {
		return nil, 0, short
	}
	idxLen, err := u32At(chkAt - 4)
	if err != nil {
		return nil, 0, err
	}
	idxAt := chkAt - 4 - int64(idxLen)
	if idxLen == 0 || idxAt < 0 {
		return nil, 0, short
	}
	idx := make([]byte, idxLen)
	if _, err := io.ReadFull(io.NewSectionReader(f, idxAt, int64(idxLen)), idx); err != nil {
		return nil, 0, short
	}
	if err := y.VerifyChecksum(idx, &chk); err != nil {
		return nil, 0, fmt.Errorf("has a damaged index (%d bytes)", size)
	}
	return fb.GetRootAsTableIndex(idx, 0), idxAt, nil
}

// verifyTableFile checks every block of a table against its checksum, as
// Badger does when it reads one: so that a scrub can name the table.
func verifyTableFile(name string, c options.CompressionType) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	idx, idxAt, err := tableIndex(f)
	if err != nil {
		return err
	}
	n := idx.OffsetsLength()
	var bo fb.BlockOffset
	for i := range n {
		bad := fmt.Errorf("block %d of %d fails its checksum", i+1, n)
		if !idx.Offsets(&bo, i) || int64(bo.Offset())+int64(bo.Len()) > idxAt {
			return bad
		}
		blk := make([]byte, bo.Len())
		if _, err := f.ReadAt(blk, int64(bo.Offset())); err != nil {
			return bad
		}
		switch c {
		case options.None:
		case options.Snappy:
			if blk, err = snappy.Decode(nil, blk); err != nil {
				return bad
			}
		default:
			return nil // the store writes Snappy
		}
		// A block: data, checksum, checksum length (4).
		if len(blk) < 4 {
			return bad
		}
		chkLen := int(binary.BigEndian.Uint32(blk[len(blk)-4:]))
		if chkLen > len(blk)-4 {
			return bad
		}
		var chk pb.Checksum
		if proto.Unmarshal(blk[len(blk)-4-chkLen:len(blk)-4], &chk) != nil || y.VerifyChecksum(blk[:len(blk)-4-chkLen], &chk) != nil {
			return bad
		}
	}
	return nil
}

// verifyTables checks every block of every table the store lists now, and
// says which fail.
func (s *Store) verifyTables() string {
	dir := s.db.Opts().Dir
	if s.db.Opts().InMemory {
		return ""
	}
	m, _, err := readManifest(dir, s.db.Opts())
	if err != nil {
		return fmt.Sprintf("the MANIFEST cannot be read: %v", err)
	}
	var failed []string
	for id, tm := range m.Tables {
		name := table.NewFilename(id, dir)
		err := verifyTableFile(name, tm.Compression)
		// A table compacted away since is no damage.
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			failed = append(failed, fmt.Sprintf("table %s (level %d): %v", filepath.Base(name), tm.Level, err))
		}
	}
	slices.Sort(failed)
	return strings.Join(failed, "; ")
}
