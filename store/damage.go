package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrNoManifest refuses to open a store directory that holds Badger's
// data files but not the MANIFEST that lists them: Badger would start an
// empty store over them, and the node would go on as if it had never held
// anything (the history, and the group keys in it, lost without a word).
var ErrNoManifest = errors.New("the store's MANIFEST (the list of its tables) is missing")

// checkManifest returns ErrNoManifest, with what the directory holds, when
// dir has data files and no MANIFEST.
func checkManifest(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	var data []string
	for _, e := range entries {
		switch {
		case e.Name() == "MANIFEST":
			return nil
		case strings.HasSuffix(e.Name(), ".sst"), strings.HasSuffix(e.Name(), ".vlog"), strings.HasSuffix(e.Name(), ".mem"):
			data = append(data, e.Name())
		}
	}
	if len(data) == 0 {
		return nil
	}
	return fmt.Errorf("open store %s: %w, but it holds %d data files (%s…): opening it would start an empty store over them; put MANIFEST back from a copy, or move %s aside to start afresh",
		dir, ErrNoManifest, len(data), data[0], filepath.Base(dir))
}
