package node_test

import (
	"net"
	"strconv"
	"testing"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node/home"
	"github.com/banyan-mesh/banyan/node/nodetest"
)

// tcpPort returns the node's TCP listen port.
func tcpPort(t *testing.T, n *nodetest.Node) int {
	t.Helper()
	for _, a := range n.Host().Network().ListenAddresses() {
		if v, err := a.ValueForProtocol(ma.P_TCP); err == nil {
			p, _ := strconv.Atoi(v)
			return p
		}
	}
	t.Fatal("no TCP listen address")
	return 0
}

// A node asked for port 0 keeps the port it got across restarts; if that
// port is taken meanwhile it takes another, and keeps that one.
func TestListenPortKept(t *testing.T) {
	h := home.Home(t.TempDir())
	n := nodetest.Start(t, h)
	first := tcpPort(t, n)
	n.Stop()
	n = nodetest.Start(t, h)
	if got := tcpPort(t, n); got != first {
		t.Fatalf("restarted on port %d, was %d", got, first)
	}
	n.Stop()

	// Another program takes the port.
	l, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(first))
	if err != nil {
		t.Fatal(err)
	}
	if !mesh.InUse(ma.StringCast("/ip4/127.0.0.1/tcp/" + strconv.Itoa(first))) {
		t.Error("InUse does not see a port a socket listens on")
	}
	n = nodetest.Start(t, h)
	second := tcpPort(t, n)
	if second == first {
		t.Fatalf("listening on the taken port %d", first)
	}
	n.Stop()
	l.Close()
	n = nodetest.Start(t, h)
	if got := tcpPort(t, n); got != second {
		t.Errorf("after moving to %d, restarted on %d", second, got)
	}
}
