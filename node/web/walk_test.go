package web

import (
	"io/fs"
	"strings"
)

// walkJS calls f with every JavaScript file of the UI except the vendored
// libraries.
func walkJS(f func(name, src string)) error {
	return fs.WalkDir(Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") || strings.HasPrefix(p, "vendor/") {
			return err
		}
		b, err := fs.ReadFile(Files(), p)
		if err != nil {
			return err
		}
		f(p, string(b))
		return nil
	})
}
