package groupchat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/multiformats/go-multistream"
	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/crypto/event"
	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/cli"
	"github.com/banyan-mesh/banyan/store"
)

// A group registered with a relay is kept there, sealed, for members who
// are away: the relay holds its scope and nothing else (PROTOCOL.md
// section 21). The "group-relays" table remembers which relays this node
// registered each group with (key: group ID || relay peer ID; value:
// GroupRelay as JSON).

// GroupRelay is a relay a group is registered with.
type GroupRelay struct {
	Relay string    `json:"relay"` // peer ID
	Added time.Time `json:"added"`
	// Connected says whether this node is connected to the relay now;
	// Registered, asked of a connected relay, whether it still keeps the
	// group for this node.
	Connected  bool  `json:"connected"`
	Registered *bool `json:"registered,omitempty"`
}

// AddRelayIn is the body of POST /v1/groups/{group}/relays: a relay's full
// address (ending in /p2p/PEER-ID) or the peer ID of a connected relay.
type AddRelayIn struct {
	Relay string `json:"relay"`
}

// relayKey is a record's key: the group's ID, then the relay's peer ID.
func relayKey(g *Group, p peer.ID) []byte { return append(g.ID[:], p...) }

// parseRelay reads a relay given by the user: a full address or a peer ID.
func parseRelay(ref string) (peer.AddrInfo, error) {
	if strings.HasPrefix(ref, "/") {
		a, err := ma.NewMultiaddr(ref)
		if err != nil {
			return peer.AddrInfo{}, fmt.Errorf("relay %q: %w", ref, err)
		}
		ai, err := peer.AddrInfoFromP2pAddr(a)
		if err != nil {
			return peer.AddrInfo{}, fmt.Errorf("relay %q: %w (it must end in /p2p/PEER-ID; 'banyan id' on the relay prints it)", ref, err)
		}
		return *ai, nil
	}
	id, err := peer.Decode(ref)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("relay %q is neither an address nor a peer ID", ref)
	}
	return peer.AddrInfo{ID: id}, nil
}

// KeepBeside says that a feature keeps, beside each group, the scope
// GroupMAC(group, label, nil) (a group's lists, its events): relays the
// group is registered with are asked to keep it too.
func (s *Service) KeepBeside(label string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.beside, label) {
		s.beside = append(s.beside, label)
	}
}

// relayScopes are the scopes a relay keeps for a group: its own, then
// those features keep beside it.
func (s *Service) relayScopes(g *Group) []event.Scope {
	s.mu.Lock()
	labels := slices.Clone(s.beside)
	s.mu.Unlock()
	out := []event.Scope{g.Scope()}
	for _, l := range labels {
		if sc, ok := s.GroupMAC(g.Scope(), l, nil); ok {
			out = append(out, sc)
		}
	}
	return out
}

// AddRelay registers a group with a relay, which keeps its history (sealed)
// from then on, with the scopes kept beside it, and syncs it there at once.
// A relay that takes the group but not all of those is reported as refusing.
func (s *Service) AddRelay(ctx context.Context, g *Group, ref string) (*GroupRelay, error) {
	ai, err := parseRelay(ref)
	if err != nil {
		return nil, api.BadRequest(err)
	}
	if ai.ID == s.id.PeerID() {
		return nil, api.BadRequest(errors.New("this node cannot be its own relay"))
	}
	if len(ai.Addrs) == 0 && s.host.Network().Connectedness(ai.ID) != network.Connected {
		return nil, api.BadRequest(fmt.Errorf("not connected to %s: give the relay's full address (ending in /p2p/%s)", ai.ID, ai.ID))
	}
	if len(ai.Addrs) > 0 {
		// Discovery remembers and redials a peer this node reached.
		if err := s.host.Connect(ctx, ai); err != nil {
			return nil, api.Errorf(http.StatusBadGateway, "cannot reach relay %s: %v", ai.ID, err)
		}
	}
	for _, sc := range s.relayScopes(g) {
		if _, err := mesh.AskRelay(ctx, s.host, ai.ID, mesh.RelayAdd, sc); err != nil {
			return nil, relayErr(ai.ID, err)
		}
	}
	r := &GroupRelay{Relay: ai.ID.String(), Added: s.now().UTC(), Connected: true}
	if err := store.PutJSON(s.relays, relayKey(g, ai.ID), r); err != nil {
		return nil, err
	}
	s.log.Info("group registered with a relay", "group", g.Name, "relay", ai.ID)
	s.syncer.TriggerNow(ai.ID)
	return r, nil
}

// relayErr turns a failed request to a relay into an API error.
func relayErr(p peer.ID, err error) error {
	switch {
	case errors.Is(err, mesh.ErrRelayRefused):
		return api.Errorf(http.StatusConflict, "%s: %v", p, err)
	case errors.Is(err, multistream.ErrNotSupported[protocol.ID]{}):
		return api.BadRequest(fmt.Errorf("%s is not a relay (it does not answer %s)", p, mesh.RelayProtocol))
	}
	return api.Errorf(http.StatusBadGateway, "%v", err)
}

// RemoveRelay withdraws a group's registration with a relay. A relay
// deletes a group's history once nobody who registered it is left.
func (s *Service) RemoveRelay(ctx context.Context, g *Group, ref string) error {
	ai, err := parseRelay(ref)
	if err != nil {
		return api.BadRequest(err)
	}
	if has, err := s.relays.Has(relayKey(g, ai.ID)); err != nil {
		return err
	} else if !has {
		return api.NotFound(fmt.Errorf("group %q is not registered with %s", g.Name, ai.ID))
	}
	if len(ai.Addrs) > 0 {
		s.host.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)
	}
	for _, sc := range s.relayScopes(g) {
		if _, err := mesh.AskRelay(ctx, s.host, ai.ID, mesh.RelayRemove, sc); err != nil {
			return relayErr(ai.ID, err)
		}
	}
	return s.relays.Delete(relayKey(g, ai.ID))
}

// Relays lists the relays a group is registered with, asking those
// connected whether they still keep it.
func (s *Service) Relays(ctx context.Context, g *Group) ([]GroupRelay, error) {
	rs, err := store.ListJSON[GroupRelay](s.relays, g.ID[:])
	if err != nil {
		return nil, err
	}
	scope := g.Scope()
	out := make([]GroupRelay, 0, len(rs))
	for _, r := range rs {
		id, err := peer.Decode(r.Relay)
		if err != nil {
			continue
		}
		if r.Connected = s.host.Network().Connectedness(id) == network.Connected; r.Connected {
			if scopes, err := mesh.AskRelay(network.WithNoDial(ctx, "relay list"), s.host, id, mesh.RelayList, event.Scope{}); err == nil {
				reg := slices.Contains(scopes, scope)
				r.Registered = &reg
			}
		}
		out = append(out, *r)
	}
	return out, nil
}

// forgetRelays deletes what this node remembers of a group's relays.
func (s *Service) forgetRelays(id [crypto.GroupIDSize]byte) error {
	return s.relays.DeletePrefix(id[:])
}

// relayRoutes registers:
//
//	GET    /v1/groups/{group}/relays          []GroupRelay
//	POST   /v1/groups/{group}/relays          AddRelayIn -> GroupRelay
//	DELETE /v1/groups/{group}/relays/{relay}  withdraw the registration
func (s *Service) relayRoutes(srv *api.Server) {
	srv.Handle("GET /v1/groups/{group}/relays", api.Get(srv, func(r *http.Request) ([]GroupRelay, error) {
		g, err := s.group(r)
		if err != nil {
			return nil, err
		}
		return s.Relays(r.Context(), g)
	}))
	srv.Handle("POST /v1/groups/{group}/relays", api.Post(srv, func(r *http.Request, in AddRelayIn) (*GroupRelay, error) {
		g, err := s.group(r)
		if err != nil {
			return nil, err
		}
		return s.AddRelay(r.Context(), g, in.Relay)
	}))
	srv.Handle("DELETE /v1/groups/{group}/relays/{relay}", api.Get(srv, func(r *http.Request) (api.Empty, error) {
		g, err := s.group(r)
		if err != nil {
			return api.Empty{}, err
		}
		return api.Empty{}, s.RemoveRelay(r.Context(), g, r.PathValue("relay"))
	}))
}

// AddRelay registers a group with a relay.
func (c Client) AddRelay(ctx context.Context, group, relay string) (*GroupRelay, error) {
	var r GroupRelay
	return &r, c.c.Do(ctx, http.MethodPost, groupPath(group, "/relays"), AddRelayIn{Relay: relay}, &r)
}

// RemoveRelay withdraws a group's registration with a relay (a peer ID).
func (c Client) RemoveRelay(ctx context.Context, group, relay string) error {
	return c.c.Do(ctx, http.MethodDelete, groupPath(group, "/relays/"+url.PathEscape(relay)), nil, nil)
}

// Relays lists the relays a group is registered with.
func (c Client) Relays(ctx context.Context, group string) ([]GroupRelay, error) {
	var rs []GroupRelay
	return rs, c.c.Do(ctx, http.MethodGet, groupPath(group, "/relays"), nil, &rs)
}

func groupRelayCmd(a *cli.App) *cobra.Command {
	c := &cobra.Command{
		Use:   "relay",
		Short: "Register a group with a relay, which keeps its history sealed",
		Long: `Register a group with a relay (an always-on 'banyan relay' at the school or
the shop): it keeps the group's history for members who are away and
hands it to them when they come back, without the group's key. It sees
who writes when, and how much, never what (docs/RELAY.md).`,
		Args: cli.SubcommandsOnly,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	add := &cobra.Command{
		Use:   "add GROUP RELAY",
		Short: "Register a group with a relay (its full address, or the peer ID of a connected relay)",
		Example: `  banyan group relay add family /ip4/192.168.1.10/tcp/7341/p2p/12D3KooW...
  banyan group relay add family 12D3KooW...`,
		Args: cli.ExactArgs("GROUP", "RELAY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			r, err := cl.AddRelay(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "%s now keeps %s's history, sealed\n", r.Relay, cli.CleanLine(args[0]))
			return nil
		},
	}
	var asJSON bool
	list := &cobra.Command{
		Use:   "list GROUP",
		Short: "List the relays a group is registered with",
		Args:  cli.ExactArgs("GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			rs, err := cl.Relays(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, rs)
			}
			if len(rs) == 0 {
				fmt.Fprintln(a.Stdout, "no relay keeps this group")
				return nil
			}
			tw := cli.NewTable(a.Stdout)
			fmt.Fprintln(tw, "RELAY\tSINCE\tSTATE")
			for _, r := range rs {
				state := "not connected"
				switch {
				case r.Registered != nil && *r.Registered:
					state = "keeps it"
				case r.Registered != nil:
					state = "does not keep it any more (add it again)"
				case r.Connected:
					state = "connected, did not answer"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Relay, cli.FormatTime(r.Added), state)
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print the relays as JSON")
	remove := &cobra.Command{
		Use:   "remove GROUP RELAY",
		Short: "Withdraw a group's registration with a relay",
		Long: `Withdraw a group's registration with a relay. Once nobody who registered
the group is left, the relay deletes what it kept of it.`,
		Args: cli.ExactArgs("GROUP", "RELAY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			if err := cl.RemoveRelay(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "%s no longer keeps %s for this node\n", args[1], cli.CleanLine(args[0]))
			return nil
		},
	}
	c.AddCommand(add, list, remove)
	return c
}
