// Package node is Banyan's composition root: it opens a data directory,
// builds the infrastructure (identity, lock, store, libp2p host, gossip,
// the replication engine and its syncer, discovery, the local API) and the
// features listed in features.go, runs them as services, and shuts them
// down in order. No feature logic lives here.
package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	libp2pmetrics "github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/mesh/clock"
	"github.com/banyan-mesh/banyan/mesh/reconcile"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/node/metrics"
	"github.com/banyan-mesh/banyan/node/pay"
	"github.com/banyan-mesh/banyan/node/people"
	"github.com/banyan-mesh/banyan/node/private"
	"github.com/banyan-mesh/banyan/node/relay"
	"github.com/banyan-mesh/banyan/node/web"
	"github.com/banyan-mesh/banyan/store"
)

// Version is the node's version string.
const Version = "0.1.0"

// Options configures a node.
type Options struct {
	Home home.Home
	// Lock is the home's lock, if the caller took it already (the command
	// line does, before it asks for a passphrase, so that other commands
	// see a node starting); the node releases it when it closes.
	Lock       *home.Lock
	Passphrase []byte
	// Listen lists multiaddrs to listen on; empty means TCP and QUIC on
	// mesh.DefaultPort (or the ports used last time, or free ports, if it
	// is taken). A port 0 is chosen once and kept across restarts.
	Listen []string
	// Peers are static peers (multiaddrs ending in /p2p/ID) kept connected.
	Peers []string
	// API is the local API's listen address; empty means api.DefaultAddr,
	// or a free port on 127.0.0.1 if that is taken. "off" disables it.
	API    string
	NoMDNS bool
	Logger *slog.Logger
	// Bandwidth, if set, counts the host's traffic (benchmarks).
	Bandwidth libp2pmetrics.Reporter
	// InMemory keeps the store in memory (tests and benchmarks only).
	InMemory bool
	// Name is how this person calls themselves in contact requests.
	Name string
	// NoReadReceipts stops telling contacts which messages were read.
	NoReadReceipts bool
	// Mailbox configures carrying sealed private messages for others.
	Mailbox private.MailboxOptions
	// FixedSettings are the settings (by config key) that a flag or
	// environment variable sets, with that flag or variable: the app may
	// not change them, since the next start would undo the change.
	FixedSettings map[string]string
	// Host, if set, is used instead of building a libp2p host (tests use
	// a mocknet host to cut and heal links). It must carry the home's
	// identity and already listen; the node closes it.
	Host host.Host
	// Now is the node's clock; nil means time.Now (tests give a wrong
	// one).
	Now func() time.Time
	// SyncInterval is the mean time between periodic syncs with each
	// peer; 0 means 20 seconds.
	SyncInterval time.Duration
	// Wallet configures the wallet's unit of mutual credit.
	Wallet pay.WalletOptions
	// Metrics, if set, is the address that serves Prometheus metrics
	// (/metrics) and the node's health (/healthz); empty means off.
	Metrics string
	// Relay runs the node as a headless relay: no web UI; it says so in
	// identify and over mDNS, keeps the groups members register with it
	// within RelayQuotas, and carries every mailbox bucket.
	Relay       bool
	RelayQuotas relay.Quotas
	// NoCircuits turns circuit relay v2 off: a relay serves no circuits,
	// and a node takes no slot on relays and reaches no peer through one.
	NoCircuits bool
	// CircuitLimits bound the circuits a relay serves; a zero field is
	// mesh.DefaultCircuitLimits'.
	CircuitLimits mesh.CircuitLimits
}

// Service is a long-lived part of the node: it runs until ctx is done.
type Service interface {
	Serve(ctx context.Context) error
}

// Node is a Banyan node.
type Node struct {
	opts   Options
	log    *slog.Logger
	id     *crypto.Identity
	lock   *home.Lock
	store  *store.Store
	ports  *store.Table
	host   host.Host
	listen []ma.Multiaddr
	gossip *mesh.Gossip
	guard  *mesh.Guard
	peers  *peerBook
	engine *engine.Engine
	clock  *clock.Clock
	disc   *mesh.Discovery
	// circuits is a relay's circuit relay service, if it serves one.
	circuits *mesh.CircuitRelay
	people   *people.Directory
	feats    features
	// carrySaved is carry_mail as kept for the next start.
	settingsMu sync.Mutex
	carrySaved bool
	api        *api.Server
	apiLn      net.Listener
	ready      chan struct{}
	// registry, metrics and metricsAddr exist when Options.Metrics is set.
	registry    *prometheus.Registry
	metrics     *metrics.Server
	metricsAddr net.Addr

	closeOnce sync.Once
}

// clockRate bounds how often a peer may ask this node for the time.
var clockRate = mesh.Rate{Per: 0.2, Burst: 5}

// New opens the data directory and builds every part of the node. Nothing
// starts on the network until Serve; a node that is never served must be
// closed with Close.
func New(opts Options) (_ *Node, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	n := &Node{opts: opts, log: opts.Logger, ready: make(chan struct{}), lock: opts.Lock}
	// Undo what was built if a later step fails, the caller's lock too.
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	// Check what the user gave before creating anything.
	if err := CheckOptions(opts); err != nil {
		return nil, err
	}
	if n.listen, err = parseAddrs(opts.Listen, "listen"); err != nil {
		return nil, err
	}
	static, err := parsePeers(opts.Peers)
	if err != nil {
		return nil, err
	}
	if n.id, err = opts.Home.Identity(opts.Passphrase); err != nil {
		return nil, err
	}
	if n.lock == nil {
		if n.lock, err = opts.Home.Lock(); err != nil {
			return nil, err
		}
	}
	vault := opts.Home.VaultFile()
	if opts.InMemory {
		vault = ""
	}
	n.store, err = store.Open(store.Options{
		Dir:      opts.Home.StoreDir(),
		InMemory: opts.InMemory,
		Vault:    vault,
		Logger:   opts.Logger.With("sys", "store"),
	})
	if err != nil {
		return nil, err
	}
	if n.peers, err = newPeerBook(n.store); err != nil {
		return nil, err
	}
	if n.ports, err = n.store.VaultTable("ports"); err != nil {
		return nil, err
	}
	n.guard = mesh.NewGuard(opts.Logger.With("sys", "guard"))
	switch {
	case opts.Host != nil:
		n.host = opts.Host
	default:
		hopts := mesh.HostOptions{Identity: n.id, Bandwidth: opts.Bandwidth, Gater: n.guard.Gater(), Circuits: !opts.NoCircuits}
		if opts.Metrics != "" {
			n.registry = newRegistry(n)
			hopts.Metrics = n.registry
		}
		if n.host, err = mesh.NewHost(hopts); err != nil {
			return nil, err
		}
	}
	n.gossip = mesh.NewGossip(n.host, mesh.GossipOptions{Logger: opts.Logger.With("sys", "gossip"), Guard: n.guard})
	n.clock = clock.New(n.host, clock.Options{
		Now: opts.Now, Tolerance: engine.MaxClockSkew, Logger: opts.Logger.With("sys", "clock"),
		Allow: func(p peer.ID) bool { return n.guard.Allow(p, "clock", clockRate) },
	})
	marks := opts.Home.ChainsDir()
	if opts.InMemory {
		marks = ""
	}
	var restoredAt time.Time
	if !opts.InMemory {
		if restoredAt, _, err = opts.Home.RestoredAt(); err != nil {
			return nil, err
		}
	}
	n.engine = engine.New(engine.Options{
		Marks:        marks,
		RestoredAt:   restoredAt,
		Now:          opts.Now,
		PeerClock:    n.clock.Offset,
		Identity:     n.id,
		Store:        n.store,
		Host:         n.host,
		Gossip:       n.gossip,
		Guard:        n.guard,
		Logger:       opts.Logger.With("sys", "engine"),
		SyncInterval: opts.SyncInterval,
	})
	if opts.Relay && opts.Mailbox.NoCarry {
		// A relay is there for everyone's mail.
		n.log.Warn("a relay carries everyone's mail: carry_mail = false is ignored")
		n.opts.Mailbox.NoCarry = false
	}
	if opts.Relay && !opts.NoCircuits {
		// Before the host listens, so that identify tells every peer.
		if n.circuits, err = mesh.NewCircuitRelay(n.host, opts.CircuitLimits); err != nil {
			return nil, err
		}
	}
	n.disc = mesh.NewDiscovery(n.host, mesh.DiscoveryOptions{
		MDNS:      !opts.NoMDNS,
		Relay:     opts.Relay,
		Circuits:  !opts.NoCircuits,
		Static:    static,
		Book:      n.peers,
		Logger:    opts.Logger.With("sys", "discovery"),
		OnConnect: n.engine.Syncer().Met,
	})
	n.people = people.New(n.host.ID())
	n.carrySaved = !opts.Mailbox.NoCarry
	if n.feats, err = newFeatures(n); err != nil {
		return nil, err
	}
	if opts.API != "off" {
		token, err := readOrCreateToken(opts.Home.APITokenFile())
		if err != nil {
			return nil, err
		}
		so := api.ServerOptions{Token: token, Logger: n.log.With("sys", "api"), SessionFile: opts.Home.APISessionsFile()}
		if !opts.Relay {
			so.UI = web.Handler()
		}
		n.api = api.NewServer(so)
		n.routes()
		for _, f := range n.feats.list() {
			if r, ok := f.(interface{ Routes(*api.Server) }); ok {
				r.Routes(n.api)
			}
		}
	}
	return n, nil
}

func readOrCreateToken(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b)), nil
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("api token: %w", err)
	}
	token := hex.EncodeToString(buf)
	if err := home.WriteFileAtomic(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write api token: %w", err)
	}
	return token, nil
}

// Serve runs the node until ctx is done, then shuts down: the API first, so
// no request sees a half-closed node, then the host, then the store.
func (n *Node) Serve(ctx context.Context) error {
	defer n.Close()
	if n.opts.Host == nil {
		if err := n.listenAll(); err != nil {
			return err
		}
	}
	if err := n.gossip.Start(ctx); err != nil {
		return err
	}
	defer n.gossip.Close()
	if n.api != nil {
		if err := n.listenAPI(); err != nil {
			return err
		}
	}
	if n.registry != nil {
		if err := n.listenMetrics(); err != nil {
			return err
		}
	}
	// Two phases: the features (and the API) stop first, while the engine,
	// the store and the network still run, so that what they do on the
	// way out (receipts due, a last write) can still be done; then the
	// core. A core service that fails stops the features too.
	ctx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	coreCtx, stopCore := context.WithCancel(context.WithoutCancel(ctx))
	defer stopCore()
	var core errgroup.Group
	for _, s := range []namedService{{"store", n.store}, {"guard", guardService{n}}, {"discovery", n.disc}, {"clock", n.clock}, {"engine", n.engine}} {
		core.Go(func() error {
			if err := s.s.Serve(coreCtx); err != nil && coreCtx.Err() == nil {
				err = fmt.Errorf("%s: %w", s.name, err)
				fail(err)
				return err
			}
			return nil
		})
	}
	feats, fctx := errgroup.WithContext(ctx)
	for _, f := range n.feats.list() {
		feats.Go(func() error {
			if err := f.Serve(fctx); err != nil && fctx.Err() == nil {
				return fmt.Errorf("%T: %w", f, err)
			}
			return nil
		})
	}
	if n.api != nil {
		feats.Go(func() error { return n.api.Serve(fctx, n.apiLn) })
	}
	if n.metrics != nil {
		feats.Go(func() error { return n.metrics.Serve(fctx) })
	}
	if n.awaitStarted(fctx) {
		state := home.StateRunning
		if n.api == nil {
			state = home.StateNoAPI
		}
		if err := n.lock.SetState(state); err != nil {
			fail(err)
		}
		logArgs := []any{"peer", n.host.ID(), "addrs", n.host.Addrs(), "api", n.APIAddr()}
		if n.metricsAddr != nil {
			logArgs = append(logArgs, "metrics", n.metricsAddr.String())
		}
		n.log.Info("node running", logArgs...)
		close(n.ready)
	}
	<-fctx.Done()
	if err := n.lock.SetState(home.StateStopping); err != nil {
		n.log.Warn("say the node is stopping", "err", err)
	}
	err := feats.Wait()
	stopCore()
	err = errors.Join(err, core.Wait())
	n.log.Info("node stopped")
	return err
}

// starter is a service that answers peers only some time after its Serve
// begins (it registers stream handlers there).
type starter interface {
	Started() <-chan struct{}
}

// awaitStarted waits until every service that is a starter has started,
// so that Ready means peers are answered; it reports false if ctx ended
// first.
func (n *Node) awaitStarted(ctx context.Context) bool {
	for _, s := range append([]Service{n.engine}, n.feats.list()...) {
		if st, ok := s.(starter); ok {
			select {
			case <-st.Started():
			case <-ctx.Done():
				return false
			}
		}
	}
	return true
}

// namedService is a core service with the name its errors carry.
type namedService struct {
	name string
	s    Service
}

// guardService runs the guard on the node's network.
type guardService struct{ n *Node }

func (g guardService) Serve(ctx context.Context) error {
	return g.n.guard.Serve(ctx, g.n.host.Network())
}

// listenAPI opens the API listener and publishes its address in the data
// directory for the CLI.
func (n *Node) listenAPI() error {
	addr := n.opts.API
	ln, err := net.Listen("tcp", cmpOr(addr, api.DefaultAddr))
	if err != nil && addr == "" {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return fmt.Errorf("api listen: %w (choose another address with --api)", err)
	}
	n.apiLn = ln
	if err := home.WriteFileAtomic(n.opts.Home.APIAddrFile(), []byte(ln.Addr().String()+"\n"), 0o600); err != nil {
		return fmt.Errorf("write api address: %w", err)
	}
	return nil
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Ready is closed once a served node listens, runs its services and
// answers peers on every protocol.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// Close releases everything New built, in reverse order of dependency:
// the API listener, the host, the store, the lock. Serve calls it when it
// returns; it is for a node that was built and never served.
func (n *Node) Close() {
	n.closeOnce.Do(func() {
		if n.apiLn != nil {
			n.apiLn.Close()
			os.Remove(n.opts.Home.APIAddrFile())
		}
		if n.circuits != nil {
			n.circuits.Close()
		}
		if n.host != nil {
			if err := n.host.Close(); err != nil {
				n.log.Warn("close host", "err", err)
			}
		}
		if n.store != nil {
			if err := n.store.Close(); err != nil {
				n.log.Error("close store", "err", err)
			}
		}
		if n.lock != nil {
			n.lock.Release()
		}
	})
}

// ID returns the node's peer ID.
func (n *Node) ID() peer.ID { return n.host.ID() }

// Host returns the libp2p host.
func (n *Node) Host() host.Host { return n.host }

// Engine returns the replication engine.
func (n *Node) Engine() *engine.Engine { return n.engine }

// Clock returns how the node's clock compares with its peers'.
func (n *Node) Clock() *clock.Clock { return n.clock }

// Syncer returns the catch-up sync scheduler.
func (n *Node) Syncer() *reconcile.Syncer { return n.engine.Syncer() }

// Store returns the node's store.
func (n *Node) Store() *store.Store { return n.store }

// Stats returns the node's counters of network input.
func (n *Node) Stats() *engine.Counters { return n.engine.Stats() }

// APIAddr returns the local API's address, or "" when it is off.
func (n *Node) APIAddr() string {
	if n.apiLn == nil {
		return ""
	}
	return n.apiLn.Addr().String()
}

// addrInfos returns the node's addresses, most useful first: LAN addresses
// before loopback, so that an invite works from another machine.
func (n *Node) addrInfos() []peer.AddrInfo {
	var lan, loop []ma.Multiaddr
	for _, a := range n.host.Addrs() {
		if isLoopback(a) {
			loop = append(loop, a)
		} else {
			lan = append(lan, a)
		}
	}
	return []peer.AddrInfo{{ID: n.host.ID(), Addrs: append(lan, loop...)}}
}

// Addrs returns the node's full addresses (ending in /p2p/ID), most useful
// first: what another node gives to --peer.
func (n *Node) Addrs() []string {
	ai := n.addrInfos()[0]
	addrs, err := peer.AddrInfoToP2pAddrs(&ai)
	if err != nil {
		return nil
	}
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}

func isLoopback(a ma.Multiaddr) bool {
	ip, err := a.ValueForProtocol(ma.P_IP4)
	if err != nil {
		ip, err = a.ValueForProtocol(ma.P_IP6)
	}
	return err == nil && net.ParseIP(ip).IsLoopback()
}

// Gossip returns the node's gossipsub.
func (n *Node) Gossip() *mesh.Gossip { return n.gossip }

// KnownPeers lists the peers discovery remembers and redials.
func (n *Node) KnownPeers() ([]mesh.KnownPeer, error) { return n.peers.Peers() }
