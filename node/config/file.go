package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// table returns the TOML table of a key ("" for the top level) and the
// key's name within it.
func table(key string) (string, string) {
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		return key[:i], key[i+1:]
	}
	return "", key
}

// tomlValue writes v as a TOML value.
func tomlValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case []string:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return fmt.Sprint(v)
}

// defaultValue is an option's default as a value of its type.
func (o *Option) defaultValue() any {
	if o.Default != nil {
		return o.Default
	}
	return reflectValue(o.field(&Config{}))
}

// eachTable calls fn for every option, with the table it opens ("" when it
// stays in the one before).
func eachTable(fn func(o *Option, opens string)) {
	cur := ""
	for _, o := range Options {
		t, _ := table(o.Key)
		opens := ""
		if t != cur {
			opens, cur = t, t
		}
		fn(o, opens)
	}
}

// DefaultFileText is the commented default file that 'banyan init'
// writes: every option with its help and its default, commented out.
func DefaultFileText() string {
	var b strings.Builder
	b.WriteString(`# Banyan's configuration: every option of 'banyan run'.
#
# A flag wins over its environment variable, which wins over this file,
# which wins over the defaults shown here (commented out). Remove a '#' to
# set an option. 'banyan config show' prints what is in effect and where
# each value comes from; a key this file should not have is an error.
`)
	eachTable(func(o *Option, opens string) {
		if opens != "" {
			fmt.Fprintf(&b, "\n[%s]\n", opens)
		}
		_, name := table(o.Key)
		fmt.Fprintf(&b, "\n# %s (flag --%s, env %s)\n", strings.TrimSuffix(capitalize(o.Help), "."), o.Flag, o.Env)
		if o.DefaultText != "" {
			fmt.Fprintf(&b, "# Default: %s.\n", o.DefaultText)
		}
		fmt.Fprintf(&b, "# %s = %s\n", name, tomlValue(o.defaultValue()))
	})
	return b.String()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// ErrFileExists reports a config file that WriteDefaultFile left as it was.
var ErrFileExists = errors.New("config file exists")

// WriteDefaultFile writes DefaultFileText to path, creating its directory,
// unless a file is already there.
func WriteDefaultFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create config directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s: %w", path, ErrFileExists)
	}
	if err != nil {
		return fmt.Errorf("write config file: %w", err)
	}
	if _, err := f.WriteString(DefaultFileText()); err != nil {
		f.Close()
		return fmt.Errorf("write config file: %w", err)
	}
	return f.Close()
}

// Show writes the effective configuration as TOML, each value with where
// it came from in a comment, so that the output is itself a valid file.
func (l *Loaded) Show(w io.Writer) error {
	var b bytes.Buffer
	state := "not found: defaults apply"
	if l.FileFound {
		state = "read"
	}
	fmt.Fprintf(&b, "# config file: %s (%s)\n", l.File, state)
	lines := [][2]string{}
	flush := func() {
		width := 0
		for _, ln := range lines {
			width = max(width, len(ln[0]))
		}
		for _, ln := range lines {
			fmt.Fprintf(&b, "%-*s  # %s\n", width, ln[0], ln[1])
		}
		lines = lines[:0]
	}
	eachTable(func(o *Option, opens string) {
		if opens != "" {
			flush()
			fmt.Fprintf(&b, "\n[%s]\n", opens)
		}
		_, name := table(o.Key)
		from := l.From(o.Key).String()
		if d := o.DefaultText; d != "" && l.From(o.Key).Kind == FromDefault {
			from += ": " + d
		}
		lines = append(lines, [2]string{name + " = " + tomlValue(o.Value(&l.Config)), from})
	})
	flush()
	_, err := w.Write(b.Bytes())
	return err
}

// ShowEntry is one option of ShowJSON.
type ShowEntry struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
	From  string `json:"from"`
}

// Entries lists every option's effective value and where it came from.
func (l *Loaded) Entries() []ShowEntry {
	out := make([]ShowEntry, 0, len(Options))
	for _, o := range Options {
		v := o.Value(&l.Config)
		if s, ok := v.([]string); ok && s == nil {
			v = []string{}
		}
		out = append(out, ShowEntry{Key: o.Key, Value: v, From: l.From(o.Key).String()})
	}
	return out
}
