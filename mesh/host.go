// Package mesh is Banyan's network layer: the libp2p host configured for an
// offline village LAN, gossipsub with per-topic validators, and discovery
// (mDNS, redial of remembered peers, static peers).
package mesh

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/libp2p/go-libp2p/core/connmgr"
	libp2pcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	libp2psec "github.com/libp2p/go-libp2p/core/sec"
	basichost "github.com/libp2p/go-libp2p/p2p/host/basic"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	"github.com/libp2p/go-libp2p/p2p/host/peerstore/pstoremem"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	basicconnmgr "github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/net/upgrader"
	circuitclient "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	circuitproto "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/proto"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/quicreuse"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-libp2p/x/rate"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	quicgo "github.com/quic-go/quic-go"
	"golang.org/x/crypto/hkdf"

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
// relay transport if asked for; no AutoNAT, autorelay, hole punching,
// observed-address discovery or port mapping, which do nothing useful on
// an offline LAN; resource limits sized for many peers behind one address.
//
// The host is put together from go-libp2p's parts rather than by
// libp2p.New, whose package imports every transport it has a default for:
// WebRTC, WebTransport and WebSocket, unused here, made the binary a
// third larger and every node 5 MB bigger in memory (docs/BENCHMARKS.md,
// "Memory of a real node").
func NewHost(opts HostOptions) (host.Host, error) {
	var p hostParts
	h, err := p.build(opts)
	if err != nil {
		p.close()
		return nil, err
	}
	return h, nil
}

// hostParts holds what NewHost has made so far, so that all of it is
// closed if a later step fails.
type hostParts struct {
	rm   network.ResourceManager
	cm   connmgr.ConnManager
	ps   peerstore.Peerstore
	sw   *swarm.Swarm
	quic *quicreuse.ConnManager
	// host, once made, closes all of the above.
	host *closingHost
}

func (p *hostParts) close() {
	if p.host != nil {
		p.host.Close()
		return
	}
	if p.sw != nil {
		p.sw.Close()
	}
	if p.quic != nil {
		p.quic.Close()
	}
	if p.ps != nil {
		p.ps.Close()
	}
	if p.cm != nil {
		p.cm.Close()
	}
	if p.rm != nil {
		p.rm.Close()
	}
}

func (p *hostParts) build(opts HostOptions) (host.Host, error) {
	key := opts.Identity.Libp2pKey()
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("peer id: %w", err)
	}
	if p.rm, err = newResourceManager(opts.Metrics); err != nil {
		return nil, err
	}
	low, high := opts.ConnsLow, opts.ConnsHigh
	if low == 0 {
		low, high = 64, 256
	}
	if p.cm, err = basicconnmgr.NewConnManager(low, high, basicconnmgr.WithGracePeriod(time.Minute)); err != nil {
		return nil, fmt.Errorf("connection manager: %w", err)
	}
	if p.ps, err = pstoremem.NewPeerstore(); err != nil {
		return nil, fmt.Errorf("peerstore: %w", err)
	}
	if err := p.ps.AddPrivKey(id, key); err != nil {
		return nil, fmt.Errorf("peerstore: %w", err)
	}
	if err := p.ps.AddPubKey(id, key.GetPublic()); err != nil {
		return nil, fmt.Errorf("peerstore: %w", err)
	}

	bus := eventbus.NewBus()
	swopts := []swarm.Option{swarm.WithResourceManager(p.rm)}
	if opts.Metrics != nil {
		bus = eventbus.NewBus(eventbus.WithMetricsTracer(eventbus.NewMetricsTracer(eventbus.WithRegisterer(opts.Metrics))))
		swopts = append(swopts, swarm.WithMetricsTracer(swarm.NewMetricsTracer(swarm.WithRegisterer(opts.Metrics))))
	}
	if opts.Bandwidth != nil {
		swopts = append(swopts, swarm.WithMetrics(opts.Bandwidth))
	}
	if opts.Gater != nil {
		swopts = append(swopts, swarm.WithConnectionGater(opts.Gater))
	}
	if p.sw, err = swarm.NewSwarm(id, p.ps, bus, swopts...); err != nil {
		return nil, fmt.Errorf("swarm: %w", err)
	}

	muxers := []upgrader.StreamMuxer{{ID: yamux.ID, Muxer: yamux.DefaultTransport}}
	sec, err := noise.New(noise.ID, key, muxers)
	if err != nil {
		return nil, fmt.Errorf("noise: %w", err)
	}
	up, err := upgrader.New([]libp2psec.SecureTransport{sec}, muxers, nil, p.rm, opts.Gater)
	if err != nil {
		return nil, fmt.Errorf("upgrader: %w", err)
	}
	// Without SO_REUSEPORT the kernel refuses a second node on a port in
	// use, instead of sharing it and mixing up their connections.
	tcpt, err := tcp.NewTCPTransport(up, p.rm, nil, tcp.DisableReuseport())
	if err != nil {
		return nil, fmt.Errorf("tcp transport: %w", err)
	}
	if err := p.sw.AddTransport(tcpt); err != nil {
		return nil, fmt.Errorf("tcp transport: %w", err)
	}
	if p.quic, err = newQUICConnManager(key, p.rm, opts.Metrics); err != nil {
		return nil, err
	}
	quict, err := quic.NewTransport(key, p.quic, nil, opts.Gater, p.rm)
	if err != nil {
		return nil, fmt.Errorf("quic transport: %w", err)
	}
	if err := p.sw.AddTransport(quict); err != nil {
		return nil, fmt.Errorf("quic transport: %w", err)
	}

	bh, err := basichost.NewHost(p.sw, &basichost.HostOpts{
		EventBus:             bus,
		ConnManager:          p.cm,
		EnablePing:           true,
		UserAgent:            "banyan",
		EnableMetrics:        opts.Metrics != nil,
		PrometheusRegisterer: opts.Metrics,
	})
	if err != nil {
		return nil, fmt.Errorf("libp2p host: %w", err)
	}
	p.host = &closingHost{BasicHost: bh, quic: p.quic}
	if opts.Circuits {
		if err := circuitclient.AddTransport(p.host, up); err != nil {
			return nil, fmt.Errorf("circuit transport: %w", err)
		}
	}
	bh.Start()
	if len(opts.ListenAddrs) > 0 {
		if err := p.sw.Listen(opts.ListenAddrs...); err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
	}
	return p.host, nil
}

// closingHost is the basic host, which closes the swarm, peerstore,
// connection and resource managers, and also the QUIC sockets' manager
// that the QUIC transport shares.
type closingHost struct {
	*basichost.BasicHost
	quic *quicreuse.ConnManager
	once sync.Once
}

// Close may be called more than once, as a basic host's may; the QUIC
// manager panics on a second close.
func (h *closingHost) Close() error {
	h.once.Do(func() {
		h.BasicHost.Close()
		h.quic.Close()
	})
	return nil
}

// newQUICConnManager makes the manager of the QUIC transport's sockets
// as libp2p.New would: keys for stateless resets and address tokens
// derived from the node's key, so that they survive a restart, and every
// inbound connection counted by the resource manager before its handshake.
func newQUICConnManager(key libp2pcrypto.PrivKey, rm network.ResourceManager, reg prometheus.Registerer) (*quicreuse.ConnManager, error) {
	raw, err := key.Raw()
	if err != nil {
		return nil, fmt.Errorf("quic keys: %w", err)
	}
	var reset quicgo.StatelessResetKey
	var token quicgo.TokenGeneratorKey
	if _, err := io.ReadFull(hkdf.New(sha256.New, raw, nil, []byte("libp2p quic stateless reset key")), reset[:]); err != nil {
		return nil, fmt.Errorf("quic keys: %w", err)
	}
	if _, err := io.ReadFull(hkdf.New(sha256.New, raw, nil, []byte("libp2p quic token generator key")), token[:]); err != nil {
		return nil, fmt.Errorf("quic keys: %w", err)
	}
	qopts := []quicreuse.Option{
		quicreuse.ConnContext(func(ctx context.Context, ci *quicgo.ClientInfo) (context.Context, error) {
			// An address that cannot be read is still the resource
			// manager's to refuse.
			addr, err := quicreuse.ToQuicMultiaddr(ci.RemoteAddr, quicgo.Version1)
			if err != nil {
				addr = nil
			}
			scope, err := rm.OpenConnection(network.DirInbound, false, addr)
			if err != nil {
				return ctx, err
			}
			ctx = network.WithConnManagementScope(ctx, scope)
			context.AfterFunc(ctx, scope.Done)
			return ctx, nil
		}),
		quicreuse.VerifySourceAddress(rm.VerifySourceAddress),
	}
	if reg != nil {
		qopts = append(qopts, quicreuse.EnableMetrics(reg))
	}
	cm, err := quicreuse.NewConnManager(reset, token, qopts...)
	if err != nil {
		return nil, fmt.Errorf("quic: %w", err)
	}
	return cm, nil
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
	addServiceLimits(&limits)
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

// addServiceLimits gives the services this host runs (identify, ping, the
// circuit relay's two sides) the limits libp2p.New gives them
// (SetDefaultServiceLimits in go-libp2p's limits.go, which cannot be
// imported without its constructor).
func addServiceLimits(c *rcmgr.ScalingLimitConfig) {
	type limits struct {
		all   rcmgr.BaseLimit
		allUp rcmgr.BaseLimitIncrease
		peer  rcmgr.BaseLimit
	}
	for _, sl := range []struct {
		service       string
		protos        []protocol.ID
		svc, protocol limits
	}{{
		service: identify.ServiceName,
		protos:  []protocol.ID{identify.ID, identify.IDPush},
		svc: limits{
			rcmgr.BaseLimit{StreamsInbound: 64, StreamsOutbound: 64, Streams: 128, Memory: 4 << 20},
			rcmgr.BaseLimitIncrease{StreamsInbound: 64, StreamsOutbound: 64, Streams: 128, Memory: 4 << 20},
			rcmgr.BaseLimit{StreamsInbound: 16, StreamsOutbound: 16, Streams: 32, Memory: 1 << 20},
		},
		protocol: limits{
			rcmgr.BaseLimit{StreamsInbound: 64, StreamsOutbound: 64, Streams: 128, Memory: 4 << 20},
			rcmgr.BaseLimitIncrease{StreamsInbound: 64, StreamsOutbound: 64, Streams: 128, Memory: 4 << 20},
			rcmgr.BaseLimit{StreamsInbound: 16, StreamsOutbound: 16, Streams: 32, Memory: 32 * (256<<20 + 16<<10)},
		},
	}, {
		service: ping.ServiceName,
		protos:  []protocol.ID{ping.ID},
		svc: limits{
			rcmgr.BaseLimit{StreamsInbound: 64, StreamsOutbound: 64, Streams: 64, Memory: 4 << 20},
			rcmgr.BaseLimitIncrease{StreamsInbound: 64, StreamsOutbound: 64, Streams: 64, Memory: 4 << 20},
			rcmgr.BaseLimit{StreamsInbound: 2, StreamsOutbound: 3, Streams: 4, Memory: 32 * (256<<20 + 16<<10)},
		},
	}, {
		service: relayv2.ServiceName,
		protos:  []protocol.ID{circuitproto.ProtoIDv2Hop, circuitproto.ProtoIDv2Stop},
		svc: limits{
			rcmgr.BaseLimit{StreamsInbound: 256, StreamsOutbound: 256, Streams: 256, Memory: 16 << 20},
			rcmgr.BaseLimitIncrease{StreamsInbound: 256, StreamsOutbound: 256, Streams: 256, Memory: 16 << 20},
			rcmgr.BaseLimit{StreamsInbound: 64, StreamsOutbound: 64, Streams: 64, Memory: 1 << 20},
		},
		protocol: limits{
			rcmgr.BaseLimit{StreamsInbound: 640, StreamsOutbound: 640, Streams: 640, Memory: 16 << 20},
			rcmgr.BaseLimitIncrease{StreamsInbound: 640, StreamsOutbound: 640, Streams: 640, Memory: 16 << 20},
			rcmgr.BaseLimit{StreamsInbound: 128, StreamsOutbound: 128, Streams: 128, Memory: 32 << 20},
		},
	}} {
		// Ping's protocol has its service's limits.
		if sl.protocol == (limits{}) {
			sl.protocol = sl.svc
		}
		c.AddServiceLimit(sl.service, sl.svc.all, sl.svc.allUp)
		c.AddServicePeerLimit(sl.service, sl.svc.peer, rcmgr.BaseLimitIncrease{})
		for _, id := range sl.protos {
			c.AddProtocolLimit(id, sl.protocol.all, sl.protocol.allUp)
			c.AddProtocolPeerLimit(id, sl.protocol.peer, rcmgr.BaseLimitIncrease{})
		}
	}
}
