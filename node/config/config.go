// Package config is a node's configuration: one struct with every option
// of 'banyan run', filled in rising order of precedence from the defaults,
// a TOML file, the environment and the command line, remembering where
// each value came from. Every option is declared once, in Options, with
// its key in the file, its flag and its environment variable; the flags,
// the commented default file and 'banyan config show' are all made from
// that list.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/pflag"

	"github.com/banyan-mesh/banyan/node/home"
)

// Config is every option of a node. The TOML keys are those of Options.
type Config struct {
	Home           string   `toml:"home"`
	Name           string   `toml:"name"`
	Listen         []string `toml:"listen"`
	Peers          []string `toml:"peers"`
	API            string   `toml:"api"`
	Metrics        string   `toml:"metrics"`
	MDNS           bool     `toml:"mdns"`
	ReadReceipts   bool     `toml:"read_receipts"`
	CarryMail      bool     `toml:"carry_mail"`
	PassphraseFile string   `toml:"passphrase_file"`
	Log            Log      `toml:"log"`
	Wallet         Wallet   `toml:"wallet"`
	Relay          Relay    `toml:"relay"`
}

// Relay configures a headless relay ('banyan relay', or relay.enabled).
type Relay struct {
	Enabled bool `toml:"enabled"`
	// Quotas, in MiB: every registered group together, each group, each
	// author in a group; and how many days events are kept.
	Quota         uint64 `toml:"quota_mib"`
	GroupQuota    uint64 `toml:"group_quota_mib"`
	AuthorQuota   uint64 `toml:"author_quota_mib"`
	RetentionDays uint64 `toml:"retention_days"`
	// Circuit turns circuit relay v2 on or off, on every node; the limits
	// bound the circuits a relay serves.
	Circuit             bool   `toml:"circuit"`
	CircuitReservations uint64 `toml:"circuit_reservations"`
	CircuitMinutes      uint64 `toml:"circuit_minutes"`
	CircuitMiB          uint64 `toml:"circuit_mib"`
}

// Log configures the node's logs.
type Log struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

// Wallet configures the wallet's unit of mutual credit.
type Wallet struct {
	Unit       string   `toml:"unit"`
	Guarantors []string `toml:"guarantors"`
	OfflineCap uint64   `toml:"offline_cap"`
	Redefine   bool     `toml:"redefine"`
}

// Option is one setting: its key in the file (a dotted key is in a
// table), its flag and environment variable, and its default.
type Option struct {
	Key  string
	Flag string
	Env  string
	Help string
	// Default is the default value; DefaultText says what an empty
	// default means where the node chooses ("TCP and QUIC on port 7341").
	Default     any
	DefaultText string
	// Negated options are turned off by their flag and environment
	// variable: --no-mdns sets mdns = false.
	Negated bool
	// Check, if set, refuses a bad value.
	Check func(v any) error
	field func(c *Config) any
}

// Options lists every option, in the order the file and 'config show'
// have them: the keys of the top level first, then each table's.
var Options = []*Option{
	{Key: "home", Flag: "home", Env: "BANYAN_HOME", Help: "data directory: identity, store, API address",
		DefaultText: "$XDG_STATE_HOME/banyan or ~/.local/state/banyan", field: func(c *Config) any { return &c.Home }},
	{Key: "name", Flag: "name", Env: "BANYAN_NAME", Help: "the name you give yourself in contact codes and requests",
		field: func(c *Config) any { return &c.Name }},
	{Key: "listen", Flag: "listen", Env: "BANYAN_LISTEN", Help: "multiaddrs to listen on, e.g. /ip4/0.0.0.0/tcp/7341; a port 0 is chosen once and kept",
		DefaultText: "TCP and QUIC on port 7341 on every interface, or on the ports used last time if 7341 is taken",
		field:       func(c *Config) any { return &c.Listen }},
	{Key: "peers", Flag: "peer", Env: "BANYAN_PEERS", Help: "static peers to keep connected: multiaddrs ending in /p2p/PEER-ID",
		field: func(c *Config) any { return &c.Peers }},
	{Key: "api", Flag: "api", Env: "BANYAN_API", Help: `local API address host:port; "off" disables it`,
		DefaultText: "127.0.0.1:7342, or a free port if it is taken", field: func(c *Config) any { return &c.API }},
	{Key: "metrics", Flag: "metrics", Env: "BANYAN_METRICS",
		Help:        "address host:port that serves Prometheus metrics (/metrics) and the node's health (/healthz), with no token",
		DefaultText: "off", field: func(c *Config) any { return &c.Metrics }},
	{Key: "mdns", Flag: "no-mdns", Env: "BANYAN_NO_MDNS", Negated: true, Default: true,
		Help: "discover peers on the local network with mDNS", field: func(c *Config) any { return &c.MDNS }},
	{Key: "read_receipts", Flag: "no-read-receipts", Env: "BANYAN_NO_READ_RECEIPTS", Negated: true, Default: true,
		Help: "tell contacts which of their messages you read", field: func(c *Config) any { return &c.ReadReceipts }},
	{Key: "carry_mail", Flag: "no-carry-mail", Env: "BANYAN_NO_CARRY_MAIL", Negated: true, Default: true,
		Help: "carry other people's sealed private messages", field: func(c *Config) any { return &c.CarryMail }},
	{Key: "passphrase_file", Flag: "passphrase-file", Env: "BANYAN_PASSPHRASE_FILE",
		Help:  "file holding the key file's passphrase; without it, an encrypted key is unlocked by a prompt on the terminal",
		field: func(c *Config) any { return &c.PassphraseFile }},
	{Key: "log.level", Flag: "log-level", Env: "BANYAN_LOG_LEVEL", Default: "info", Help: "log level: debug, info, warn or error",
		Check: oneOf("debug", "info", "warn", "warning", "error"), field: func(c *Config) any { return &c.Log.Level }},
	{Key: "log.format", Flag: "log-format", Env: "BANYAN_LOG_FORMAT", Help: "log format: text or json",
		DefaultText: "text on a terminal, json otherwise", Check: oneOf("", "text", "json"),
		field: func(c *Config) any { return &c.Log.Format }},
	{Key: "wallet.unit", Flag: "wallet-unit", Env: "BANYAN_WALLET_UNIT", Default: "village",
		Help: "the wallet's unit of mutual credit; every node of the unit must agree", field: func(c *Config) any { return &c.Wallet.Unit }},
	{Key: "wallet.guarantors", Flag: "wallet-guarantor", Env: "BANYAN_WALLET_GUARANTORS",
		Help:  "guarantors of the unit, whose credit grants count: peer IDs or hex accounts",
		field: func(c *Config) any { return &c.Wallet.Guarantors }},
	{Key: "wallet.offline_cap", Flag: "wallet-offline-cap", Env: "BANYAN_WALLET_OFFLINE_CAP",
		Help:  "the most unconfirmed spending accepted from one payer, in minor units; 0 for no cap",
		field: func(c *Config) any { return &c.Wallet.OfflineCap }},
	{Key: "wallet.redefine", Flag: "wallet-redefine", Env: "BANYAN_WALLET_REDEFINE",
		Help:  "replace the unit's definition this node keeps (its name and guarantors) with the one the other wallet options give",
		field: func(c *Config) any { return &c.Wallet.Redefine }},
	{Key: "relay.enabled", Flag: "relay", Env: "BANYAN_RELAY", Default: false,
		Help:  "run as a headless relay: no web UI; keeps the groups members register with it, and everyone's mail ('banyan relay' sets it)",
		field: func(c *Config) any { return &c.Relay.Enabled }},
	{Key: "relay.quota_mib", Flag: "relay-quota-mib", Env: "BANYAN_RELAY_QUOTA_MIB", Default: uint64(2048),
		Help: "a relay's quota for every registered group together, in MiB", field: func(c *Config) any { return &c.Relay.Quota }},
	{Key: "relay.group_quota_mib", Flag: "relay-group-quota-mib", Env: "BANYAN_RELAY_GROUP_QUOTA_MIB", Default: uint64(256),
		Help: "a relay's quota for each registered group, in MiB", field: func(c *Config) any { return &c.Relay.GroupQuota }},
	{Key: "relay.author_quota_mib", Flag: "relay-author-quota-mib", Env: "BANYAN_RELAY_AUTHOR_QUOTA_MIB", Default: uint64(64),
		Help: "a relay's quota for each author within a group, in MiB", field: func(c *Config) any { return &c.Relay.AuthorQuota }},
	{Key: "relay.retention_days", Flag: "relay-retention-days", Env: "BANYAN_RELAY_RETENTION_DAYS", Default: uint64(365),
		Help: "how many days a relay keeps group events", field: func(c *Config) any { return &c.Relay.RetentionDays }},
	{Key: "relay.circuit", Flag: "no-circuit", Env: "BANYAN_NO_CIRCUIT", Negated: true, Default: true,
		Help:  "reach peers on other segments through circuits: a relay serves them, other nodes take a slot on relays and dial through them",
		field: func(c *Config) any { return &c.Relay.Circuit }},
	{Key: "relay.circuit_reservations", Flag: "relay-circuit-reservations", Env: "BANYAN_RELAY_CIRCUIT_RESERVATIONS", Default: uint64(128),
		Help: "the most peers holding a slot on a relay at once (one address: half of them)", Check: atLeastOne,
		field: func(c *Config) any { return &c.Relay.CircuitReservations }},
	{Key: "relay.circuit_minutes", Flag: "relay-circuit-minutes", Env: "BANYAN_RELAY_CIRCUIT_MINUTES", Default: uint64(10),
		Help: "how long a relay keeps one circuit open, in minutes", Check: atLeastOne,
		field: func(c *Config) any { return &c.Relay.CircuitMinutes }},
	{Key: "relay.circuit_mib", Flag: "relay-circuit-mib", Env: "BANYAN_RELAY_CIRCUIT_MIB", Default: uint64(16),
		Help: "how much a relay carries through one circuit each way, in MiB", Check: atLeastOne,
		field: func(c *Config) any { return &c.Relay.CircuitMiB }},
}

// atLeastOne refuses 0.
func atLeastOne(v any) error {
	if p, _ := v.(*uint64); p != nil && *p == 0 {
		return errors.New("must be 1 or more")
	}
	return nil
}

// Lookup returns the option with the given key, or nil.
func Lookup(key string) *Option {
	for _, o := range Options {
		if o.Key == key {
			return o
		}
	}
	return nil
}

// RunKeys are the keys of every option 'banyan run' takes as a flag of
// its own (home and the file are global flags).
func RunKeys() []string {
	var out []string
	for _, o := range Options {
		if o.Key != "home" {
			out = append(out, o.Key)
		}
	}
	return out
}

func oneOf(vals ...string) func(any) error {
	return func(v any) error {
		s, _ := v.(*string)
		if s == nil || slices.Contains(vals, strings.ToLower(*s)) {
			return nil
		}
		var shown []string
		for _, v := range vals {
			if v != "" && v != "warning" {
				shown = append(shown, v)
			}
		}
		return fmt.Errorf("%q is not one of %s", *s, strings.Join(shown, ", "))
	}
}

// Source says where a value came from.
type Source struct {
	Kind SourceKind
	// Name is the file's path, the variable's or the flag's name.
	Name string
}

// SourceKind is where a value can come from, in rising precedence.
type SourceKind int

// Where values come from.
const (
	FromDefault SourceKind = iota
	FromFile
	FromApp
	FromEnv
	FromFlag
)

func (s Source) String() string {
	switch s.Kind {
	case FromFile:
		return "file " + s.Name
	case FromApp:
		return "app " + s.Name
	case FromEnv:
		return "env " + s.Name
	case FromFlag:
		return "flag --" + s.Name
	}
	return "default"
}

// Setting names an option as the user gave it: "--listen", "BANYAN_LISTEN",
// "listen in /etc/banyan/config.toml", or just its key for a default.
func (s Source) Setting(key string) string {
	switch s.Kind {
	case FromFile, FromApp:
		return fmt.Sprintf("%s in %s", key, s.Name)
	case FromEnv:
		return s.Name
	case FromFlag:
		return "--" + s.Name
	}
	return key
}

// Error is a bad value, with the setting it came from.
type Error struct {
	Key    string
	Source Source
	Err    error
}

func (e *Error) Error() string { return e.Source.Setting(e.Key) + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// FileEnv names the config file when --config is not given.
const FileEnv = "BANYAN_CONFIG"

// FileFlag is the flag that names the config file.
const FileFlag = "config"

// DefaultFile is config.toml in the user's config directory
// ($XDG_CONFIG_HOME/banyan, or ~/.config/banyan).
func DefaultFile() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the config directory: %w (give --config FILE)", err)
	}
	return filepath.Join(d, "banyan", "config.toml"), nil
}

// Input is what a configuration is loaded from.
type Input struct {
	// Flags are the command's parsed flags (nil for none): the options'
	// flags (AddFlags) and --config.
	Flags *pflag.FlagSet
	// Getenv reads the environment (nil: os.Getenv).
	Getenv func(string) string
	// Missing allows a named file to be missing too (for the command
	// that writes it).
	Missing bool
}

// Loaded is a configuration and where each of its values came from.
type Loaded struct {
	Config
	// File is the config file read, or looked for; FileFound says whether
	// it exists, FileNamed whether --config or $BANYAN_CONFIG named it
	// (other commands then need the same to find the node).
	File      string
	FileFound bool
	FileNamed bool
	from      map[string]Source
}

// From returns where the option with key got its value.
func (l *Loaded) From(key string) Source { return l.from[key] }

// Errorf is a bad value of the option with key, named as the user gave it.
func (l *Loaded) Errorf(key string, err error) error {
	return &Error{Key: key, Source: l.From(key), Err: err}
}

// Load builds the configuration: defaults, then the file (--config,
// $BANYAN_CONFIG or DefaultFile; only a file that was named must exist),
// then the settings changed in the app (AppFile in the data directory),
// then the environment, then the flags given.
func Load(in Input) (*Loaded, error) {
	getenv := in.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	l := &Loaded{from: map[string]Source{}}
	for _, o := range Options {
		if o.Default != nil {
			setValue(o.field(&l.Config), o.Default)
		}
		l.from[o.Key] = Source{Kind: FromDefault}
	}
	path, named := "", false
	if f := lookupFlag(in.Flags, FileFlag); f != nil && f.Changed {
		path, named = f.Value.String(), true
	} else if v := getenv(FileEnv); v != "" {
		path, named = v, true
	} else {
		var err error
		if path, err = DefaultFile(); err != nil {
			return nil, err
		}
	}
	l.File, l.FileNamed = path, named
	if err := l.readFile(path, named && !in.Missing); err != nil {
		return nil, err
	}
	for _, o := range Options {
		if v := getenv(o.Env); v != "" {
			if err := l.set(o, Source{Kind: FromEnv, Name: o.Env}, splitList(o, v)); err != nil {
				return nil, err
			}
		}
	}
	for _, o := range Options {
		f := lookupFlag(in.Flags, o.Flag)
		if f == nil || !f.Changed {
			continue
		}
		fv, ok := f.Value.(*flagValue)
		if !ok {
			return nil, fmt.Errorf("config: flag --%s is not an option's flag", o.Flag)
		}
		if err := l.set(o, Source{Kind: FromFlag, Name: o.Flag}, fv.vals); err != nil {
			return nil, err
		}
	}
	// An empty list is no list, wherever it came from.
	for _, o := range Options {
		if p, ok := o.field(&l.Config).(*[]string); ok && len(*p) == 0 {
			*p = nil
		}
	}
	if l.Home == "" {
		d, err := home.DefaultHome()
		if err != nil {
			return nil, err
		}
		l.Home = d
	}
	if fi, err := os.Stat(l.Home); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("the data directory %s is a file, not a directory: give --home a directory (it is created if missing)", l.Home)
	}
	if err := l.readApp(); err != nil {
		return nil, err
	}
	return l, nil
}

func lookupFlag(fs *pflag.FlagSet, name string) *pflag.Flag {
	if fs == nil {
		return nil
	}
	return fs.Lookup(name)
}

// splitList splits an environment variable's value of a list option at
// commas.
func splitList(o *Option, v string) []string {
	if _, ok := o.field(&Config{}).(*[]string); !ok {
		return []string{v}
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// readFile decodes the TOML file at path over the defaults.
func (l *Loaded) readFile(path string, named bool) error {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && !named:
		return nil
	case err != nil:
		return fmt.Errorf("config file: %w", err)
	}
	l.FileFound = true
	var c Config = l.Config
	md, err := toml.Decode(string(b), &c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return fmt.Errorf("config file %s, line %d: %s", path, pe.Position.Line, pe.Message)
		}
		return fmt.Errorf("config file %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return unknownKey(path, und[0].String())
	}
	src := Source{Kind: FromFile, Name: path}
	for _, o := range Options {
		if !md.IsDefined(strings.Split(o.Key, ".")...) {
			continue
		}
		if o.Check != nil {
			if err := o.Check(o.field(&c)); err != nil {
				return &Error{Key: o.Key, Source: src, Err: err}
			}
		}
		l.from[o.Key] = src
	}
	l.Config = c
	return nil
}

// unknownKey names a key the file should not have, and the nearest one it
// may have meant.
func unknownKey(path, key string) error {
	msg := fmt.Sprintf("config file %s: unknown key %q", path, key)
	best, dist := "", 3
	for _, o := range Options {
		if d := distance(key, o.Key); d < dist {
			best, dist = o.Key, d
		}
	}
	if best != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", best)
	} else {
		msg += " ('banyan config show' lists every key)"
	}
	return errors.New(msg)
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// set gives option o the values from src (one for a single value; a list
// replaces the list below it).
func (l *Loaded) set(o *Option, src Source, vals []string) error {
	var scratch Config = l.Config
	if err := parseInto(o, o.field(&scratch), vals); err != nil {
		return &Error{Key: o.Key, Source: src, Err: err}
	}
	setValue(o.field(&l.Config), reflectValue(o.field(&scratch)))
	l.from[o.Key] = src
	return nil
}

// parseInto parses text values into the field p points to.
func parseInto(o *Option, p any, vals []string) error {
	switch p := p.(type) {
	case *[]string:
		*p = slices.Clone(vals)
	case *string:
		*p = last(vals)
	case *bool:
		v, err := strconv.ParseBool(last(vals))
		if err != nil {
			return fmt.Errorf("%q is not true or false", last(vals))
		}
		*p = v != o.Negated
	case *uint64:
		v, err := strconv.ParseUint(last(vals), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number, 0 or more", last(vals))
		}
		*p = v
	default:
		return fmt.Errorf("config: option %s has an unknown type %T", o.Key, p)
	}
	if o.Check != nil {
		return o.Check(p)
	}
	return nil
}

func last(vals []string) string {
	if len(vals) == 0 {
		return ""
	}
	return vals[len(vals)-1]
}

// reflectValue returns the value p points to.
func reflectValue(p any) any {
	switch p := p.(type) {
	case *[]string:
		return slices.Clone(*p)
	case *string:
		return *p
	case *bool:
		return *p
	case *uint64:
		return *p
	}
	return nil
}

// setValue stores v in the field p points to.
func setValue(p, v any) {
	switch p := p.(type) {
	case *[]string:
		*p = slices.Clone(v.([]string))
	case *string:
		*p = v.(string)
	case *bool:
		*p = v.(bool)
	case *uint64:
		*p = v.(uint64)
	}
}

// Value returns the option's value in c.
func (o *Option) Value(c *Config) any { return reflectValue(o.field(c)) }
