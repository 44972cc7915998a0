// Package mesh is Banyan's network layer: the libp2p host configured for an
// offline village LAN, gossipsub with per-topic validators, and discovery
// (mDNS, redial of remembered peers, static peers).
package mesh

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	basicconnmgr "github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-libp2p/x/rate"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/banyan-mesh/banyan/crypto"
)

// DefaultPort is the TCP and UDP (QUIC) port a node listens on when no
// listen address is given. If it is taken, the node falls back to the
// port it used last time, or to a free port chosen by the system.
const DefaultPort = 7341

// HostOptions configures NewHost.
type HostOptions struct {
	Identity *crypto.Identity
	// ListenAddrs are listened on at once. Without them the host listens
	// on nothing until told to (Network().Listen), so that it can be built
	// before it is started.
	ListenAddrs []ma.Multiaddr
	// Bandwidth, if set, counts every byte the host sends and receives.
	Bandwidth metrics.Reporter
	// ConnsLow and ConnsHigh are the connection manager's watermarks; zero
	// means 64 and 256.
	ConnsLow, ConnsHigh int
	// Gater, if set, may refuse connections to and from peers.
	Gater connmgr.ConnectionGater
	// Metrics, if set, receives libp2p's own Prometheus metrics (swarm,
	// identify, resource manager...); without it they are off.
	Metrics prometheus.Registerer
	// Circuits enables the circuit relay v2 transport: dialling peers
	// through a relay (/p2p/RELAY/p2p-circuit/p2p/PEER) and taking the
	// circuits a relay brings in. A relay's own service is NewCircuitRelay.
	Circuits bool
}

// NewHost builds the libp2p host: TCP and QUIC, Noise, Yamux; the circuit
// relay transport if asked for; no AutoNAT, autorelay, hole punching or
// port mapping, which do nothing useful on an offline LAN; resource limits
// sized for many peers behind one address.
func NewHost(opts HostOptions) (host.Host, error) {
	listen := libp2p.NoListenAddrs
	if len(opts.ListenAddrs) > 0 {
		listen = libp2p.ListenAddrs(opts.ListenAddrs...)
	}
	rm, err := newResourceManager(opts.Metrics)
	if err != nil {
		return nil, err
	}
	low, high := opts.ConnsLow, opts.ConnsHigh
	if low == 0 {
		low, high = 64, 256
	}
	cm, err := basicconnmgr.NewConnManager(low, high, basicconnmgr.WithGracePeriod(time.Minute))
	if err != nil {
		return nil, fmt.Errorf("connection manager: %w", err)
	}
	lo := []libp2p.Option{
		libp2p.Identity(opts.Identity.Libp2pKey()),
		listen,
		// Without SO_REUSEPORT the kernel refuses a second node on a port
		// in use, instead of sharing it and mixing up their connections.
		libp2p.Transport(tcp.NewTCPTransport, tcp.DisableReuseport()),
		libp2p.Transport(quic.NewTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.UserAgent("banyan"),
	}
	if opts.Circuits {
		lo = append(lo, libp2p.EnableRelay())
	} else {
		lo = append(lo, libp2p.DisableRelay())
	}
	if opts.Metrics != nil {
		lo = append(lo, libp2p.PrometheusRegisterer(opts.Metrics))
	} else {
		lo = append(lo, libp2p.DisableMetrics())
	}
	if opts.Bandwidth != nil {
		lo = append(lo, libp2p.BandwidthReporter(opts.Bandwidth))
	}
	if opts.Gater != nil {
		lo = append(lo, libp2p.ConnectionGater(opts.Gater))
	}
	h, err := libp2p.New(lo...)
	if err != nil {
		return nil, fmt.Errorf("libp2p host: %w", err)
	}
	return h, nil
}

// DefaultListenAddrs returns TCP and QUIC listen addresses on every IPv4
// and IPv6 interface at port.
func DefaultListenAddrs(port int) []ma.Multiaddr {
	p := strconv.Itoa(port)
	var out []ma.Multiaddr
	for _, s := range []string{
		"/ip4/0.0.0.0/tcp/" + p,
		"/ip4/0.0.0.0/udp/" + p + "/quic-v1",
		"/ip6/::/tcp/" + p,
		"/ip6/::/udp/" + p + "/quic-v1",
	} {
		out = append(out, ma.StringCast(s))
	}
	return out
}

// InUse reports whether another socket already holds the port of a TCP
// or UDP (QUIC) listen address. A port 0 is never in use; an address that
// cannot be checked (no such interface, no IPv6) is not reported, and
// listening on it says why.
func InUse(a ma.Multiaddr) bool {
	network, addr, err := manet.DialArgs(a)
	if err != nil {
		return false
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "0" {
		return false
	}
	var c io.Closer
	if strings.HasPrefix(network, "udp") {
		c, err = net.ListenPacket(network, addr)
	} else {
		c, err = net.Listen(network, addr)
	}
	if err != nil {
		return errors.Is(err, syscall.EADDRINUSE)
	}
	c.Close()
	return false
}

// Port returns the TCP or UDP port of a multiaddr, or -1.
func Port(a ma.Multiaddr) int {
	for _, code := range []int{ma.P_TCP, ma.P_UDP} {
		if v, err := a.ValueForProtocol(code); err == nil {
			if p, err := strconv.Atoi(v); err == nil {
				return p
			}
		}
	}
	return -1
}

// WithPort returns a with its TCP or UDP port replaced.
func WithPort(a ma.Multiaddr, port int) ma.Multiaddr {
	var out ma.Multiaddr
	for _, c := range a {
		if code := c.Protocol().Code; code == ma.P_TCP || code == ma.P_UDP {
			nc, err := ma.NewComponent(c.Protocol().Name, strconv.Itoa(port))
			if err != nil {
				return a
			}
			out = append(out, *nc)
			continue
		}
		out = append(out, c)
	}
	return out
}

// newResourceManager scales libp2p's default limits to the machine, then
// lifts the per-address limits: in a village many nodes may sit behind one
// access point's NAT, and a relay sees all of them.
func newResourceManager(reg prometheus.Registerer) (network.ResourceManager, error) {
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	// Room for newcomers while handshakes are under way: the guard's gater
	// keeps one address from holding more than a few of these.
	limits.TransientBaseLimit.ConnsInbound = 128
	limits.TransientBaseLimit.Conns = 192
	limits.TransientBaseLimit.FD = 192
	lim := rcmgr.NewFixedLimiter(limits.AutoScale())
	perAddr := rcmgr.WithLimitPerSubnet(
		[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 32, ConnCount: 256}},
		[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 56, ConnCount: 256}},
	)
	// Loopback and private LAN ranges are where villagers are; they get no
	// connection-rate limit.
	var prefixes []rate.PrefixLimit
	for _, p := range []string{"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fe80::/10"} {
		prefixes = append(prefixes, rate.PrefixLimit{Prefix: netip.MustParsePrefix(p), Limit: rate.Limit{}})
	}
	connRate := rcmgr.WithConnRateLimiters(&rate.Limiter{
		NetworkPrefixLimits: prefixes,
		SubnetRateLimiter: rate.SubnetLimiter{
			IPv4SubnetLimits: []rate.SubnetLimit{{PrefixLength: 32, Limit: rate.Limit{RPS: 2, Burst: 64}}},
			IPv6SubnetLimits: []rate.SubnetLimit{{PrefixLength: 56, Limit: rate.Limit{RPS: 2, Burst: 64}}},
			GracePeriod:      time.Minute,
		},
	})
	ropts := []rcmgr.Option{perAddr, connRate}
	if reg != nil {
		rcmgr.MustRegisterWith(reg)
		str, err := rcmgr.NewStatsTraceReporter()
		if err != nil {
			return nil, fmt.Errorf("resource manager metrics: %w", err)
		}
		ropts = append(ropts, rcmgr.WithTraceReporter(str))
	}
	rm, err := rcmgr.NewResourceManager(lim, ropts...)
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	return rm, nil
}
