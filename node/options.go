package node

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node/content"
	"github.com/banyan-mesh/banyan/node/pay"
	"github.com/banyan-mesh/banyan/node/private"
	"github.com/banyan-mesh/banyan/wallet"
)

// OptionError is a bad option. Key is the option's key in the
// configuration (node/config), so that the command line can name it as
// the user gave it: a flag, an environment variable, a line of the file.
type OptionError struct {
	Key string
	Err error
}

func (e *OptionError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *OptionError) Unwrap() error { return e.Err }

func optionErr(key string, format string, args ...any) error {
	return &OptionError{Key: key, Err: fmt.Errorf(format, args...)}
}

// CheckOptions checks every option a person gives, without creating or
// opening anything, so that a mistake leaves nothing behind.
func CheckOptions(opts Options) error {
	if opts.Home == "" {
		return optionErr("home", "no data directory given")
	}
	listen, err := parseAddrs(opts.Listen, "listen")
	if err != nil {
		return err
	}
	for _, a := range listen {
		if mesh.InUse(a) {
			return optionErr("listen", "%s: port %d is already in use (by another program, or another banyan node?); choose another, or stop the other", a, mesh.Port(a))
		}
	}
	if _, err := parsePeers(opts.Peers); err != nil {
		return err
	}
	if err := checkAPIAddr(opts.API); err != nil {
		return err
	}
	if opts.Metrics != "" {
		if err := checkHostPort("metrics", opts.Metrics, "127.0.0.1:9341"); err != nil {
			return err
		}
		if err := checkListenable("metrics", opts.Metrics); err != nil {
			return err
		}
	}
	if opts.Name != "" {
		if err := content.CheckName("your name", opts.Name, private.MaxNickname); err != nil {
			return &OptionError{Key: "name", Err: err}
		}
	}
	if err := wallet.ValidUnit(cmp.Or(opts.Wallet.Unit, pay.DefaultWalletUnit)); err != nil {
		return &OptionError{Key: "wallet.unit", Err: err}
	}
	for _, g := range opts.Wallet.Guarantors {
		if _, err := pay.ParseWalletAccount(g); err != nil {
			return &OptionError{Key: "wallet.guarantors", Err: err}
		}
	}
	return nil
}

// checkAPIAddr checks the API's address: empty (the default), "off", or
// host:port.
func checkAPIAddr(addr string) error {
	if addr == "" || addr == "off" {
		return nil
	}
	if err := checkHostPort("api", addr, "127.0.0.1:7342, or off"); err != nil {
		return err
	}
	return checkListenable("api", addr)
}

// checkListenable checks that this machine can listen on addr, the value
// of option key, for TCP: the port is free and the address is one of its
// own. The node listens there later, once it has opened its data
// directory; a mistake is best told before that is created.
func checkListenable(key, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return optionErr(key, "%s: the port is already in use (by another program, or another banyan node?); choose another address", addr)
		}
		return optionErr(key, "%s: cannot listen there (%v); give an address of this computer, such as 127.0.0.1 and a free port", addr, errors.Unwrap(err))
	}
	return ln.Close()
}

// checkHostPort checks that addr, the value of option key, is host:port;
// example says what a good value looks like.
func checkHostPort(key, addr, example string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		if p, perr := strconv.ParseUint(port, 10, 16); perr != nil || (port != "0" && p == 0) {
			err = fmt.Errorf("port %q is not a number from 0 to 65535", port)
		}
	}
	if err != nil {
		return optionErr(key, "%q: %v (give host:port, such as %s)", addr, err, example)
	}
	return nil
}

func parseAddrs(ss []string, key string) ([]ma.Multiaddr, error) {
	var out []ma.Multiaddr
	for _, s := range ss {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, optionErr(key, "%q: %v (example: /ip4/0.0.0.0/tcp/7341)", s, err)
		}
		if key == "listen" && mesh.Port(a) < 0 {
			return nil, optionErr(key, "%q has no TCP or UDP port (example: /ip4/0.0.0.0/tcp/7341 or /ip4/0.0.0.0/udp/7341/quic-v1)", s)
		}
		out = append(out, a)
	}
	return out, nil
}

func parsePeers(ss []string) ([]peer.AddrInfo, error) {
	addrs, err := parseAddrs(ss, "peers")
	if err != nil {
		return nil, err
	}
	var out []peer.AddrInfo
	for i, a := range addrs {
		ai, err := peer.AddrInfoFromP2pAddr(a)
		if err != nil {
			return nil, optionErr("peers", "%q: %v (it must end in /p2p/PEER-ID; 'banyan id' on that node prints full addresses)", ss[i], err)
		}
		out = append(out, *ai)
	}
	return out, nil
}
