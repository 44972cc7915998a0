// Package node is Banyan's composition root: it opens a data directory,
// builds the store, the libp2p host, gossipsub and discovery, runs the app
// services (group chat) and the local HTTP API, and shuts them down in
// order.
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
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/crypto/ratchet"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/mesh/reconcile"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/web"
	"github.com/banyan-mesh/banyan/store"
)

// Version is the node's version string.
const Version = "0.1.0"

// Options configures a node.
type Options struct {
	Home       Home
	Passphrase []byte
	// Listen lists multiaddrs to listen on; empty means TCP and QUIC on
	// mesh.DefaultPort (or a free port if it is taken).
	Listen []string
	// Peers are static peers (multiaddrs ending in /p2p/ID) kept connected.
	Peers []string
	// API is the local API's listen address; empty means api.DefaultAddr,
	// or a free port on 127.0.0.1 if that is taken. "off" disables it.
	API    string
	NoMDNS bool
	Logger *slog.Logger
	// Bandwidth, if set, counts the host's traffic (benchmarks).
	Bandwidth metrics.Reporter
	// InMemory keeps the store in memory (tests and benchmarks only).
	InMemory bool
	// Name is how this person calls themselves in contact requests.
	Name string
	// NoReadReceipts stops telling contacts which messages were read.
	NoReadReceipts bool
	// Mailbox configures carrying sealed private messages for others.
	Mailbox MailboxOptions
	// Host, if set, is used instead of building a libp2p host (tests use
	// a mocknet host to cut and heal links). It must carry the home's
	// identity; the node closes it.
	Host host.Host
	// SyncInterval is the mean time between periodic syncs with each
	// peer; 0 means 20 seconds.
	SyncInterval time.Duration
	// Wallet configures the wallet's unit of mutual credit.
	Wallet WalletOptions
}

// Node is a running Banyan node.
type Node struct {
	opts    Options
	log     *slog.Logger
	id      *crypto.Identity
	unlock  func()
	store   *store.Store
	host    host.Host
	gossip  *mesh.Gossip
	disc    *mesh.Discovery
	syncer  *reconcile.Syncer
	groups  *Groups
	mailbox *Mailbox
	dms     *DMs
	wallet  *Wallet
	stats   Counters
	api     *api.Server
	apiLn   net.Listener
	// cancel stops gossipsub, which runs on its own context from New.
	cancel context.CancelFunc
}

// New opens the data directory and builds every part of the node. Nothing
// runs until Serve.
func New(opts Options) (_ *Node, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Home == "" {
		return nil, errors.New("no data directory given")
	}
	if len(opts.Name) > MaxNickname || strings.ContainsAny(opts.Name, "\x00\n\r\t") {
		return nil, fmt.Errorf("name %q: at most %d bytes, on one line", opts.Name, MaxNickname)
	}
	n := &Node{opts: opts, log: opts.Logger}
	// Undo what was built if a later step fails.
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	if n.id, err = opts.Home.Identity(opts.Passphrase); err != nil {
		return nil, err
	}
	if n.unlock, err = opts.Home.Lock(); err != nil {
		return nil, err
	}
	n.store, err = store.Open(store.Options{
		Dir:      opts.Home.StoreDir(),
		InMemory: opts.InMemory,
		Logger:   opts.Logger.With("sys", "store"),
	})
	if err != nil {
		return nil, err
	}
	listen, err := parseAddrs(opts.Listen, "--listen")
	if err != nil {
		return nil, err
	}
	static, err := parsePeers(opts.Peers)
	if err != nil {
		return nil, err
	}
	if n.host = opts.Host; n.host == nil {
		n.host, err = mesh.NewHost(mesh.HostOptions{Identity: n.id, ListenAddrs: listen, Bandwidth: opts.Bandwidth})
		if err != nil {
			return nil, err
		}
	}
	var ctx context.Context
	ctx, n.cancel = context.WithCancel(context.Background())
	n.gossip, err = mesh.NewGossip(ctx, n.host, mesh.GossipOptions{Logger: opts.Logger.With("sys", "gossip")})
	if err != nil {
		return nil, err
	}
	n.syncer = reconcile.New(n.host, reconcile.Options{
		Store:    syncStore{n},
		Logger:   opts.Logger.With("sys", "sync"),
		Interval: opts.SyncInterval,
	})
	n.disc = mesh.NewDiscovery(n.host, mesh.DiscoveryOptions{
		MDNS:      !opts.NoMDNS,
		Static:    static,
		Book:      n.store,
		Logger:    opts.Logger.With("sys", "discovery"),
		OnConnect: n.metPeer,
	})
	n.groups = &Groups{
		id: n.id, store: n.store, gossip: n.gossip, disc: n.disc,
		addrs: n.addrInfos, log: opts.Logger.With("sys", "groups"),
		stats: &n.stats, now: time.Now, joined: map[event.Scope]*joinedGroup{},
		syncWith: n.syncer.Trigger, confirmWith: n.syncer.TriggerLazy,
	}
	if err := n.groups.start(); err != nil {
		return nil, err
	}
	keys := ratchet.NewKeys(n.id)
	bundle := keys.Bundle()
	n.mailbox = newMailbox(n, MailboxBucket(bundle.DHKey[:]), opts.Mailbox)
	n.dms = newDMs(n, n.mailbox, keys)
	n.mailbox.deliver = n.dms.deliver
	if err := n.mailbox.start(); err != nil {
		return nil, err
	}
	n.dms.start()
	if n.wallet, err = newWallet(n, opts.Wallet); err != nil {
		return nil, err
	}
	if err := n.wallet.start(); err != nil {
		return nil, err
	}
	if opts.API != "off" {
		if err := n.listenAPI(); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// listenAPI opens the API listener and publishes its address and a fresh
// token in the data directory for the CLI.
func (n *Node) listenAPI() error {
	addr := n.opts.API
	ln, err := net.Listen("tcp", orDefault(addr, api.DefaultAddr))
	if err != nil && addr == "" {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return fmt.Errorf("api listen: %w (choose another address with --api)", err)
	}
	n.apiLn = ln
	token, err := readOrCreateToken(n.opts.Home.APITokenFile())
	if err != nil {
		return err
	}
	if err := writeFileAtomic(n.opts.Home.APIAddrFile(), []byte(ln.Addr().String()+"\n"), 0o600); err != nil {
		return fmt.Errorf("write api address: %w", err)
	}
	n.api = api.NewServer(api.ServerOptions{Backend: backend{n}, Token: token, Logger: n.log.With("sys", "api"),
		UI: web.Handler(), SessionFile: n.opts.Home.APISessionsFile()})
	return nil
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
	if err := writeFileAtomic(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write api token: %w", err)
	}
	return token, nil
}

// orDefault returns v, or def when v is the zero value.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Serve runs the node until ctx is done, then shuts down: the API first, so
// no request sees a half-closed node, then the host, then the store.
func (n *Node) Serve(ctx context.Context) error {
	n.log.Info("node running", "peer", n.host.ID(), "addrs", n.host.Addrs(), "api", n.APIAddr())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 7)
	run := func(name string, serve func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := serve(ctx); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	run("store", n.store.Serve)
	run("discovery", n.disc.Serve)
	run("sync", n.syncer.Serve)
	run("groups", n.groups.Serve)
	run("mailbox", n.mailbox.Serve)
	run("wallet", n.wallet.Serve)
	if n.api != nil {
		run("api", func(ctx context.Context) error { return n.api.Serve(ctx, n.apiLn) })
	}
	<-ctx.Done()
	wg.Wait()
	n.close()
	n.log.Info("node stopped")
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// close releases everything New built, in reverse order of dependency.
func (n *Node) close() {
	if n.apiLn != nil {
		n.apiLn.Close()
		os.Remove(n.opts.Home.APIAddrFile())
	}
	if n.cancel != nil {
		n.cancel()
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
	if n.unlock != nil {
		n.unlock()
	}
}

// ID returns the node's peer ID.
func (n *Node) ID() peer.ID { return n.host.ID() }

// Host returns the libp2p host.
func (n *Node) Host() host.Host { return n.host }

// meshSettle is how long after a connection a second sync runs: what is
// gossiped before the peers' gossipsub meshes include each other is not
// forwarded between them, and this sync brings it.
const meshSettle = 5 * time.Second

// metPeer catches up with a peer as soon as it is (re)connected, and once
// more when gossip between the two has settled.
func (n *Node) metPeer(p peer.ID) {
	n.syncer.Trigger(p)
	time.AfterFunc(meshSettle, func() { n.syncer.TriggerLazy(p) })
}

// replicators lists the services whose events replicate through sync.
func (n *Node) replicators() []replicator { return []replicator{n.groups, n.mailbox, n.wallet} }

// Wallet returns the wallet service.
func (n *Node) Wallet() *Wallet { return n.wallet }

// DMs returns the private-message service.
func (n *Node) DMs() *DMs { return n.dms }

// Syncer returns the catch-up sync service.
func (n *Node) Syncer() *reconcile.Syncer { return n.syncer }

// Groups returns the group-chat service.
func (n *Node) Groups() *Groups { return n.groups }

// Store returns the node's store.
func (n *Node) Store() *store.Store { return n.store }

// Stats returns the node's counters of network input.
func (n *Node) Stats() *Counters { return &n.stats }

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

func isLoopback(a ma.Multiaddr) bool {
	ip, err := a.ValueForProtocol(ma.P_IP4)
	if err != nil {
		ip, err = a.ValueForProtocol(ma.P_IP6)
	}
	return err == nil && net.ParseIP(ip).IsLoopback()
}

func parseAddrs(ss []string, flag string) ([]ma.Multiaddr, error) {
	var out []ma.Multiaddr
	for _, s := range ss {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w (example: /ip4/0.0.0.0/tcp/7341)", flag, s, err)
		}
		out = append(out, a)
	}
	return out, nil
}

func parsePeers(ss []string) ([]peer.AddrInfo, error) {
	addrs, err := parseAddrs(ss, "--peer")
	if err != nil {
		return nil, err
	}
	var out []peer.AddrInfo
	for i, a := range addrs {
		ai, err := peer.AddrInfoFromP2pAddr(a)
		if err != nil {
			return nil, fmt.Errorf("--peer %q: %w (it must end in /p2p/PEER-ID; 'banyan id' prints full addresses)", ss[i], err)
		}
		out = append(out, *ai)
	}
	return out, nil
}
