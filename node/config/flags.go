package config

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

// AddFlags registers the flags of the options with the given keys on fs.
// A flag keeps the text it was given; Load applies it over the file and
// the environment, and checks it at once so that a bad value is a usage
// error of the command.
func AddFlags(fs *pflag.FlagSet, keys ...string) {
	for _, k := range keys {
		o := Lookup(k)
		if o == nil {
			panic("config: no option " + k)
		}
		fv := &flagValue{opt: o}
		fs.Var(fv, o.Flag, flagHelp(o))
		if fv.Type() == "bool" {
			fs.Lookup(o.Flag).NoOptDefVal = "true"
		}
	}
}

// AddFileFlag registers --config on fs.
func AddFileFlag(fs *pflag.FlagSet) {
	fs.String(FileFlag, "", "configuration file (env "+FileEnv+"; default $XDG_CONFIG_HOME/banyan/config.toml or ~/.config/banyan/config.toml)")
}

func flagHelp(o *Option) string {
	h := o.Help
	if o.Negated {
		h = "do not " + h
	}
	var extra []string
	if _, ok := o.field(&Config{}).(*[]string); ok {
		h += ", repeatable"
		extra = append(extra, "env "+o.Env+", comma-separated")
	} else {
		extra = append(extra, "env "+o.Env)
	}
	switch {
	case o.Negated:
		extra[0] += "=true"
	case o.DefaultText != "":
		extra = append(extra, "default "+o.DefaultText)
	case o.Default != nil:
		extra = append(extra, fmt.Sprintf("default %v", o.Default))
	}
	extra = append(extra, "config key "+o.Key)
	return h + " (" + strings.Join(extra, "; ") + ")"
}

// flagValue is an option's flag: the values given, checked as they come.
type flagValue struct {
	opt  *Option
	vals []string
}

func (f *flagValue) String() string {
	switch f.Type() {
	case "bool":
		return "false"
	case "stringArray":
		return "[]"
	case "uint64":
		return "0"
	}
	return ""
}

func (f *flagValue) Set(s string) error {
	var scratch Config
	vals := append(f.vals, s)
	if f.Type() != "stringArray" {
		vals = []string{s}
	}
	// A negated flag says "true" to turn its option off.
	if err := parseInto(f.opt, f.opt.field(&scratch), vals); err != nil {
		return err
	}
	f.vals = vals
	return nil
}

func (f *flagValue) Type() string {
	switch f.opt.field(&Config{}).(type) {
	case *bool:
		return "bool"
	case *[]string:
		return "stringArray"
	case *uint64:
		return "uint64"
	}
	return "string"
}
