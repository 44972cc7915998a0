package node

import (
	"github.com/banyan-mesh/banyan/node/cli"
	"github.com/banyan-mesh/banyan/node/diary"
	"github.com/banyan-mesh/banyan/node/events"
	"github.com/banyan-mesh/banyan/node/groupchat"
	"github.com/banyan-mesh/banyan/node/lists"
	"github.com/banyan-mesh/banyan/node/moments"
	"github.com/banyan-mesh/banyan/node/pay"
	"github.com/banyan-mesh/banyan/node/private"
	"github.com/banyan-mesh/banyan/node/profile"
	"github.com/banyan-mesh/banyan/node/relay"
)

// features are the node's features, built in order: a feature may use the
// ones before it, through interfaces of its own.
type features struct {
	groups  *groupchat.Service
	private *private.Service
	profile *profile.Service
	moments *moments.Service
	wallet  *pay.Service
	lists   *lists.Service
	events  *events.Service
	diary   *diary.Service
	// relay is set on a relay only.
	relay *relay.Service
}

// newFeatures builds every feature of node n. A new feature is one line
// here, and its command line one line in Commands.
func newFeatures(n *Node) (f features, err error) {
	log := n.log
	if f.groups, err = groupchat.New(groupchat.Options{
		Identity: n.id, Store: n.store, Engine: n.engine, Syncer: n.engine.Syncer(), Connect: n.disc, Host: n.host,
		Addrs: n.addrInfos, People: n.people, Now: n.opts.Now, Logger: log.With("sys", "groups"),
	}); err != nil {
		return f, err
	}
	if f.private, err = private.New(private.Options{
		Identity: n.id, Store: n.store, Engine: n.engine, Host: n.host, Connect: n.disc, Addrs: n.addrInfos, Limiter: n.guard,
		Name: n.opts.Name, NoReadReceipts: n.opts.NoReadReceipts, Mailbox: n.opts.Mailbox, People: n.people,
		Now: n.opts.Now, Logger: log.With("sys", "dm"),
	}); err != nil {
		return f, err
	}
	if f.moments, err = moments.New(moments.Options{
		Identity: n.id, Store: n.store, Engine: n.engine, Syncer: n.engine.Syncer(), Contacts: f.private,
		People: n.people, Logger: log.With("sys", "moments"),
	}); err != nil {
		return f, err
	}
	if f.profile, err = profile.New(profile.Options{
		Identity: n.id, Store: n.store, Engine: n.engine, Syncer: n.engine.Syncer(), Contacts: f.private, Audience: f.moments,
		Host: n.host, Limiter: n.guard, People: n.people, Logger: log.With("sys", "profile"),
	}); err != nil {
		return f, err
	}
	// Names come from profiles and contacts; a contact's nickname wins
	// over both, a profile's name over the name in a contact request.
	n.people.Add(f.profile)
	n.people.Add(f.private)
	if f.wallet, err = pay.New(pay.Options{
		Identity: n.id, Store: n.store, Engine: n.engine, Gossip: n.gossip, Syncer: n.engine.Syncer(),
		Peers: n.host.Network().Peers, Host: n.host, Contacts: f.private, Groups: f.groups, Wallet: n.opts.Wallet,
		Home: n.opts.Home, People: n.people, Now: n.opts.Now, Logger: log.With("sys", "wallet"),
	}); err != nil {
		return f, err
	}
	if f.lists, err = lists.New(lists.Options{
		Identity: n.id, Store: n.store, Engine: n.engine, Groups: f.groups, People: n.people, Logger: log.With("sys", "lists"),
	}); err != nil {
		return f, err
	}
	if f.events, err = events.New(events.Options{
		Identity: n.id, Store: n.store, Engine: n.engine, Groups: f.groups, Contacts: f.private, Audience: f.moments,
		People: n.people, Logger: log.With("sys", "events"),
	}); err != nil {
		return f, err
	}
	if f.diary, err = diary.New(diary.Options{Identity: n.id, Store: n.store, Moments: f.moments, Logger: log.With("sys", "diary")}); err != nil {
		return f, err
	}
	if n.opts.Relay {
		if f.relay, err = relay.New(relay.Options{
			Store: n.store, Engine: n.engine, Host: n.host, Limiter: n.guard, Quotas: n.opts.RelayQuotas,
			Logger: log.With("sys", "relay"),
		}); err != nil {
			return f, err
		}
	}
	return f, nil
}

// list returns the features in the order they were built.
func (f features) list() []Service {
	l := []Service{f.groups, f.private, f.profile, f.moments, f.wallet, f.lists, f.events, f.diary}
	if f.relay != nil {
		l = append(l, f.relay)
	}
	return l
}

// Commands lists every feature's part of the command line, in the order
// 'banyan help' shows them.
var Commands = []cli.Feature{groupchat.CLI, private.CLI, profile.CLI, moments.CLI, pay.CLI, lists.CLI, events.CLI, diary.CLI, relay.CLI}

// Groups returns the group-chat service.
func (n *Node) Groups() *groupchat.Service { return n.feats.groups }

// DMs returns the private-message service.
func (n *Node) DMs() *private.Service { return n.feats.private }

// Profiles returns the profile service.
func (n *Node) Profiles() *profile.Service { return n.feats.profile }

// Moments returns the moments service.
func (n *Node) Moments() *moments.Service { return n.feats.moments }

// Relay returns the relay service, or nil if the node is not a relay.
func (n *Node) Relay() *relay.Service { return n.feats.relay }

// Wallet returns the wallet service.
func (n *Node) Wallet() *pay.Service { return n.feats.wallet }

// Diary returns the diary service.
func (n *Node) Diary() *diary.Service { return n.feats.diary }

// Events returns the events service.
func (n *Node) Events() *events.Service { return n.feats.events }

// Lists returns the shared-lists service.
func (n *Node) Lists() *lists.Service { return n.feats.lists }
