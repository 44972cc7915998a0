// Package home is a node's data directory: where its identity, lock,
// store and API address live, and how they are created and found.
package home

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/banyan-mesh/banyan/crypto"
)

// Home is a node's data directory:
//
//	identity.key   the Ed25519 identity (PEM, mode 0600)
//	identity.new   present from 'banyan init' until the first start: the
//	               identity was made here and has written nothing anywhere
//	lock           held while a node runs on this directory; says what it does
//	store/         Badger database
//	api.addr       the local API's address, written at start
//	api.token      the local API's bearer token (mode 0600)
type Home string

// DefaultHome returns $XDG_STATE_HOME/banyan, or ~/.local/state/banyan.
func DefaultHome() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "banyan"), nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find home directory: %w (set --home)", err)
	}
	return filepath.Join(h, ".local", "state", "banyan"), nil
}

// Paths inside a home.
func (h Home) KeyFile() string      { return filepath.Join(string(h), "identity.key") }
func (h Home) StoreDir() string     { return filepath.Join(string(h), "store") }
func (h Home) LockFile() string     { return filepath.Join(string(h), "lock") }
func (h Home) APIAddrFile() string  { return filepath.Join(string(h), "api.addr") }
func (h Home) APITokenFile() string { return filepath.Join(string(h), "api.token") }

// VaultFile keeps what cannot be fetched again from peers (group keys,
// contacts, wallet settings) apart from the store.
func (h Home) VaultFile() string { return filepath.Join(string(h), "vault") }

// ChainsDir holds the marks of the node's own chains: the newest event of
// each, kept apart from the store so that a store that lost its newest
// writes cannot make the node reuse a sequence number.
func (h Home) ChainsDir() string { return filepath.Join(string(h), "chains") }

// ErrNoIdentity reports a home without an identity.
var ErrNoIdentity = errors.New("no identity: run 'banyan init' first")

// Init creates the home and a new identity. It refuses to replace an
// existing identity.
func (h Home) Init(passphrase []byte) (*crypto.Identity, error) {
	if err := h.create(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(h.KeyFile()); err == nil {
		return nil, fmt.Errorf("%s already has an identity; refusing to replace it", h)
	}
	id, err := crypto.NewIdentity()
	if err != nil {
		return nil, err
	}
	if err := id.WriteKeyFile(h.KeyFile(), passphrase); err != nil {
		return nil, err
	}
	if err := os.WriteFile(h.newIdentityFile(), nil, 0o600); err != nil {
		return nil, fmt.Errorf("mark the new identity: %w", err)
	}
	return id, nil
}

func (h Home) newIdentityFile() string { return filepath.Join(string(h), "identity.new") }

// NewIdentity reports whether the home's identity was created here by
// Init and the node has not recorded its first start yet: its chains are
// empty everywhere. A key copied in from elsewhere is not new.
func (h Home) NewIdentity() bool {
	_, err := os.Stat(h.newIdentityFile())
	return err == nil
}

// ClearNewIdentity removes the new-identity mark, once the node has
// recorded in its store that its chains start here.
func (h Home) ClearNewIdentity() error {
	if err := os.Remove(h.newIdentityFile()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("clear the new-identity mark: %w", err)
	}
	return nil
}

// Restore writes an identity restored from a backup into the home, and
// marks it restored (RestoredAt). It refuses to replace an existing
// identity.
func (h Home) Restore(id *crypto.Identity, passphrase []byte, at time.Time) error {
	if err := h.create(); err != nil {
		return err
	}
	if h.Initialized() {
		return fmt.Errorf("%s already has an identity; refusing to replace it", h)
	}
	// The mark goes first: a key without it would pass for one that
	// knows its chains.
	if err := WriteFileAtomic(h.restoredFile(), []byte(at.UTC().Format(time.RFC3339Nano)+"\n"), 0o600); err != nil {
		return fmt.Errorf("mark the restored identity: %w", err)
	}
	return id.WriteKeyFile(h.KeyFile(), passphrase)
}

func (h Home) restoredFile() string { return filepath.Join(string(h), "identity.restored") }

// RestoredAt returns when the home's identity was restored from a backup,
// and whether it was. A restored node does not know the heads of its own
// chains until its peers tell it (engine.Options.RestoredAt).
func (h Home) RestoredAt() (time.Time, bool, error) {
	b, err := os.ReadFile(h.restoredFile())
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("restored mark: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
	if err != nil {
		// Unreadable, it still says the identity was restored: the
		// careful answer.
		return time.Now(), true, nil
	}
	return t, true, nil
}

// Initialized reports whether the home has an identity.
func (h Home) Initialized() bool {
	_, err := os.Stat(h.KeyFile())
	return err == nil
}

// Identity loads the home's identity.
func (h Home) Identity(passphrase []byte) (*crypto.Identity, error) {
	if !h.Initialized() {
		return nil, fmt.Errorf("%s: %w", h, ErrNoIdentity)
	}
	return crypto.ReadKeyFile(h.KeyFile(), passphrase)
}

// ErrHomeInUse reports a home that another running node holds.
var ErrHomeInUse = errors.New("another banyan node is already running on this data directory")

// Lock is a home's lock, held for the life of a node. It is an flock, so
// the kernel releases it if the process dies. The lock file also tells
// other commands what the node is doing (see Status).
type Lock struct{ f *os.File }

// State is what the node holding a home's lock is doing.
type State string

// States of a node, as its lock file tells them.
const (
	StateStarting   State = "starting"
	StatePassphrase State = "passphrase" // waiting for its passphrase on its terminal
	StateRunning    State = "running"
	StateNoAPI      State = "running-without-api"
	StateStopping   State = "stopping"
)

// lockTries and lockRetry let a node starting on the home get past other
// commands that look at the lock (Status holds it for a moment).
const (
	lockTries = 20
	lockRetry = 10 * time.Millisecond
)

// create makes the data directory if it is missing.
func (h Home) create() error {
	if err := os.MkdirAll(string(h), 0o700); err != nil {
		return fmt.Errorf("create the data directory %s: %w%s", h, err, PermissionHint(err))
	}
	return nil
}

// PermissionHint says how to go on after err, if it is a permission
// denied in the data directory or above it.
func PermissionHint(err error) string {
	if errors.Is(err, fs.ErrPermission) {
		return " (give --home a directory you can read and write, or run as the user it belongs to)"
	}
	return ""
}

// Lock takes the home's lock, creating the home if needed, and says that
// a node is starting.
func (h Home) Lock() (*Lock, error) {
	if err := h.create(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(h.LockFile(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w%s", err, PermissionHint(err))
	}
	for i := 0; ; i++ {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) || i == lockTries {
			break
		}
		time.Sleep(lockRetry)
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", h, ErrHomeInUse)
		}
		return nil, fmt.Errorf("lock %s: %w", h, err)
	}
	l := &Lock{f: f}
	if err := l.SetState(StateStarting); err != nil {
		l.Release()
		return nil, err
	}
	return l, nil
}

// SetState records what the node is doing, for other commands to read.
func (l *Lock) SetState(s State) error {
	line := fmt.Sprintf("%s %d\n", s, os.Getpid())
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("write lock file: %w", err)
	}
	if _, err := l.f.WriteAt([]byte(line), 0); err != nil {
		return fmt.Errorf("write lock file: %w", err)
	}
	return nil
}

// Release gives the lock up, saying nothing more of the node.
func (l *Lock) Release() {
	l.f.Truncate(0)
	l.f.Close()
}

// Status is what a home's lock says of the node on it.
type Status struct {
	// Running is true while a node holds the lock; State and PID are what
	// it last said.
	Running bool
	State   State
	PID     int
}

// Status tells whether a node runs on the home, and what it is doing.
func (h Home) Status() (Status, error) {
	f, err := os.Open(h.LockFile())
	if errors.Is(err, fs.ErrNotExist) {
		return Status{}, nil
	}
	if err != nil {
		return Status{}, fmt.Errorf("open lock file: %w", err)
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if err == nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return Status{}, nil
	}
	if !errors.Is(err, syscall.EWOULDBLOCK) {
		return Status{}, fmt.Errorf("look at lock file: %w", err)
	}
	st := Status{Running: true, State: StateStarting}
	b, err := io.ReadAll(io.LimitReader(f, 128))
	if err != nil {
		return st, nil
	}
	if state, pid, ok := strings.Cut(strings.TrimSpace(string(b)), " "); ok {
		st.State = State(state)
		st.PID, _ = strconv.Atoi(pid)
	}
	// A node that has just taken the lock has not yet replaced what the
	// one before it last said ("stopping", by a process now gone).
	if st.PID > 0 && st.PID != os.Getpid() && syscall.Kill(st.PID, 0) == syscall.ESRCH {
		st.State, st.PID = StateStarting, 0
	}
	return st, nil
}

// WriteFileAtomic writes data to path through a temporary file, synced
// and then renamed over path, and syncs the directory: a reader never sees
// half a file, and a crash leaves the old file or the new one.
func WriteFileAtomic(path string, data []byte, mode fs.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// APISessionsFile holds the hashes of the browser sessions of the web
// interface (mode 0600), so that an open page survives a restart.
func (h Home) APISessionsFile() string { return filepath.Join(string(h), "api.sessions") }
