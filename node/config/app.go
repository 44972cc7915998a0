package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/BurntSushi/toml"

	"github.com/banyan-mesh/banyan/node/home"
)

// AppFile is the file in a node's data directory that keeps the settings
// a person changes in the app while the node runs. It sits between the
// config file and the environment: it wins over the file (the person
// changed the setting after writing the file), and a flag or variable
// still wins over it.
const AppFile = "settings.toml"

// AppKeys are the options the app may change.
var AppKeys = []string{"name", "read_receipts", "carry_mail"}

const appHeader = `# Settings changed in Banyan's app, kept by the node. They win over the
# config file; a flag or environment variable wins over them.
`

// readApp applies the app's settings in the node's data directory to the
// options that no flag or variable set.
func (l *Loaded) readApp() error {
	path := filepath.Join(l.Home, AppFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("app settings: %w%s", err, home.PermissionHint(err))
	}
	c := l.Config
	md, err := toml.Decode(string(b), &c)
	if err != nil {
		return fmt.Errorf("app settings %s: %w (remove the file to go back to the config file's settings)", path, err)
	}
	src := Source{Kind: FromApp, Name: path}
	for _, o := range Options {
		if !md.IsDefined(o.Key) {
			continue
		}
		if !slices.Contains(AppKeys, o.Key) {
			return fmt.Errorf("app settings %s: %s cannot be set there (remove the line)", path, o.Key)
		}
		if l.from[o.Key].Kind >= FromEnv {
			continue
		}
		if o.Check != nil {
			if err := o.Check(o.field(&c)); err != nil {
				return &Error{Key: o.Key, Source: src, Err: err}
			}
		}
		setValue(o.field(&l.Config), reflectValue(o.field(&c)))
		l.from[o.Key] = src
	}
	if und := md.Undecoded(); len(und) > 0 {
		return fmt.Errorf("app settings %s: unknown setting %s (remove the line)", path, und[0])
	}
	return nil
}

// SaveApp keeps an app setting of the node with data directory dir,
// replacing the file whole so that a crash leaves the old one or the new.
func SaveApp(dir, key string, v any) error {
	if !slices.Contains(AppKeys, key) {
		return fmt.Errorf("app settings: %s cannot be set from the app", key)
	}
	path := filepath.Join(dir, AppFile)
	vals := map[string]any{}
	if b, err := os.ReadFile(path); err == nil {
		if _, err := toml.Decode(string(b), &vals); err != nil {
			return fmt.Errorf("app settings %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("app settings: %w", err)
	}
	vals[key] = v
	var buf bytes.Buffer
	buf.WriteString(appHeader)
	if err := toml.NewEncoder(&buf).Encode(vals); err != nil {
		return fmt.Errorf("app settings: %w", err)
	}
	if err := home.WriteFileAtomic(path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("app settings: %w", err)
	}
	return nil
}
