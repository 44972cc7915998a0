package node

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/store"
)

// A node keeps its ports across restarts, so that the peers that know
// where it was find it there again: the "ports" table maps a listen
// address as asked for with port 0 (explicitly, or the defaults'
// fallback) to the port the system chose, which the next start asks for
// first.

// listenAll listens on every address asked for, one at a time, so that
// none fails unnoticed. An address with a port given must work; a port in
// use is refused in plain words. An address with port 0 gets the port it
// had last time if that is free, else a new one, which is remembered.
// Without addresses the node listens on TCP and QUIC on every interface,
// where it listened last time, else on DefaultPort, else on free ports,
// and says so.
func (n *Node) listenAll() error {
	ports := n.ports
	asked, defaults := n.listen, len(n.listen) == 0
	if defaults {
		asked = mesh.DefaultListenAddrs(0)
	}
	var moved, movedOff []string
	listened := 0
	for _, a := range asked {
		var tries []ma.Multiaddr
		var remembered ma.Multiaddr
		if mesh.Port(a) == 0 {
			if v, err := ports.Get([]byte(a.String())); err == nil {
				if p, err := strconv.Atoi(string(v)); err == nil && p > 0 {
					remembered = mesh.WithPort(a, p)
					tries = append(tries, remembered)
				}
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if defaults && (remembered == nil || mesh.Port(remembered) != mesh.DefaultPort) {
				tries = append(tries, mesh.WithPort(a, mesh.DefaultPort))
			}
		}
		tries = append(tries, a)
		got, err := n.listenFirst(tries)
		if err != nil {
			if defaults {
				// Not every machine has IPv6, or QUIC's UDP: one default
				// address is enough.
				n.log.Debug("not listening on a default address", "addr", a, "err", err)
				continue
			}
			return err
		}
		listened++
		if mesh.Port(a) != 0 {
			continue
		}
		if want := tries[0]; mesh.Port(want) != 0 && mesh.Port(got) != mesh.Port(want) {
			// A port it had before, or (never run) the default one.
			if remembered != nil {
				moved = append(moved, fmt.Sprintf("%s instead of %s", got, want))
			} else {
				movedOff = append(movedOff, fmt.Sprintf("%s instead of %s", got, want))
			}
		}
		if err := ports.Put([]byte(a.String()), []byte(strconv.Itoa(mesh.Port(got)))); errors.Is(err, store.ErrDiskFull) {
			// A node on a full disk still runs; it forgets the port.
			n.log.Warn("listen port not remembered", "addr", got, "err", err)
		} else if err != nil {
			return fmt.Errorf("remember listen port: %w", err)
		}
	}
	if listened == 0 {
		return fmt.Errorf("could not listen on any of the default addresses %v (give addresses with --listen)", asked)
	}
	if len(moved) > 0 {
		n.log.Warn("the ports this node used before are taken (by another program, or another banyan node?): listening elsewhere; peers that knew the old ports find this node when it reaches them",
			"moved", moved)
	}
	if len(movedOff) > 0 {
		n.log.Warn(fmt.Sprintf("Banyan's usual port %d is taken (by another program, or another banyan node?): listening on another, kept from now on; give --listen to choose one", mesh.DefaultPort),
			"moved", movedOff)
	}
	return nil
}

// listenFirst listens on the first of tries that works and returns the
// address the host got. Only the last may fail for a reason other than its
// port being in use.
func (n *Node) listenFirst(tries []ma.Multiaddr) (ma.Multiaddr, error) {
	for i, a := range tries {
		last := i == len(tries)-1
		if mesh.InUse(a) {
			if last {
				return nil, fmt.Errorf("cannot listen on %s: port %d is already in use (by another program, or another banyan node?); choose another listen address, or stop the other", a, mesh.Port(a))
			}
			continue
		}
		before := n.host.Network().ListenAddresses()
		if err := n.host.Network().Listen(a); err != nil {
			if last {
				return nil, fmt.Errorf("cannot listen on %s: %w (choose another listen address)", a, err)
			}
			continue
		}
		for _, got := range n.host.Network().ListenAddresses() {
			if !slices.ContainsFunc(before, got.Equal) {
				return got, nil
			}
		}
		return a, nil
	}
	return nil, errors.New("no address to listen on")
}
