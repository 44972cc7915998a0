package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/banyan-mesh/banyan/node"
	"github.com/banyan-mesh/banyan/node/cli"
	"github.com/banyan-mesh/banyan/node/config"
	"github.com/banyan-mesh/banyan/node/home"
)

func (a *app) openCmd() *cobra.Command {
	var printOnly bool
	c := &cobra.Command{
		Use:   "open",
		Short: "Open the running node's web interface in the browser",
		Long: `Open the web interface of the node running on the data directory in the
default browser. The address carries the node's key after '#', which the
page trades for a session cookie and then removes; it is never sent over
the network. If no browser can be started, the address is printed.`,
		Example: `  banyan open
  banyan open --print     # only print the address`,
		Args: cli.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := a.Client(cmd.Context()); err != nil {
				return err
			}
			home, err := a.Home()
			if err != nil {
				return err
			}
			u, err := uiURL(home)
			if err != nil {
				return err
			}
			if printOnly {
				fmt.Fprintln(a.Stdout, u)
				return nil
			}
			if err := openBrowser(u); err != nil {
				fmt.Fprintf(a.Stdout, "Could not start a browser (%v). Open this address in one:\n%s\n", err, u)
				return nil
			}
			fmt.Fprintln(a.Stdout, "Opened Banyan in your browser.")
			return nil
		},
	}
	c.Flags().BoolVar(&printOnly, "print", false, "print the address instead of opening a browser")
	return c
}

// uiURL is the address of the web interface of the node on home, with the
// API token in the fragment.
func uiURL(home home.Home) (string, error) {
	addr, err := os.ReadFile(home.APIAddrFile())
	if err != nil {
		return "", fmt.Errorf("read api address: %w", err)
	}
	token, err := os.ReadFile(home.APITokenFile())
	if err != nil {
		return "", fmt.Errorf("read api token: %w", err)
	}
	host, port, err := net.SplitHostPort(strings.TrimSpace(string(addr)))
	if err != nil {
		return "", fmt.Errorf("api address %q: %w", addr, err)
	}
	// A node listening on every interface is still reached on loopback,
	// which is what the web interface accepts.
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/#token=" + strings.TrimSpace(string(token)), nil
}

// printNextSteps tells a person at a terminal what to do now that the
// node runs: where the app is, the first commands, how others join.
func (a *app) printNextSteps(n *node.Node) {
	if !term.IsTerminal(int(a.Stdout.Fd())) {
		return
	}
	h, cfg := home.Home(a.cfg.Home), a.cfg
	// The other commands find this node through its data directory: they
	// need the same --home (or --config) if it is not the default.
	var where string
	switch from := cfg.From("home").Kind; {
	case from == config.FromFlag || from == config.FromEnv:
		where = " --home " + cli.ShellQuote(string(h))
	case from == config.FromFile && cfg.FileNamed:
		where = " --config " + cli.ShellQuote(cfg.File)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Banyan is running on %s.\n", h)
	addr := "ADDRESS"
	if ais := n.Addrs(); len(ais) > 0 {
		addr = ais[0]
	}
	if cfg.Relay.Enabled {
		fmt.Fprintf(&b, "\nIt runs as a relay. Members register a group with it with\n  banyan group relay add GROUP %s\n", addr)
		fmt.Fprintf(&b, "and see what it keeps with 'banyan relay status%s'.\n", where)
		fmt.Fprintf(&b, "\nStop the relay with Ctrl-C.\n")
		fmt.Fprint(a.Stdout, b.String())
		return
	}
	if n.APIAddr() == "" {
		fmt.Fprintf(&b, "Its local API is off (api = \"off\"), so the app and the other banyan commands cannot reach it.\n")
	} else if u, err := uiURL(h); err == nil {
		fmt.Fprintf(&b, "\nOpen the app in your browser (or run 'banyan open%s'):\n  %s\n", where, u)
		fmt.Fprintf(&b, "\nOr, in another terminal:\n")
		fmt.Fprintf(&b, "  banyan group create family%s    start a group chat\n", where)
		fmt.Fprintf(&b, "  banyan group invite family%s    an invite for the others to join it\n", where)
		fmt.Fprintf(&b, "  banyan contact invite%s         your code, for private messages\n", where)
	}
	if cfg.MDNS {
		fmt.Fprintf(&b, "\nOthers on this network find this node by themselves. From another network, they start with\n  banyan run --peer %s\n", addr)
	} else {
		fmt.Fprintf(&b, "\nLAN discovery is off: others start with\n  banyan run --peer %s\n", addr)
	}
	fmt.Fprintf(&b, "\nStop the node with Ctrl-C.\n")
	fmt.Fprint(a.Stdout, b.String())
}

// openBrowser starts the system's default browser on u.
func openBrowser(u string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", u)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		cmd = exec.Command("xdg-open", u)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	// Openers usually exit at once, with an error when there is no
	// browser; one still running after a while has started one.
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(3 * time.Second):
		return nil
	}
}
