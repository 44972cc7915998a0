package node

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/config"
)

// settingsRoutes adds the settings a person may change while the node
// runs: the change applies at once where it can (name, read receipts) and
// is kept in the data directory (config.AppFile) for the next start.
//
//	GET /v1/settings  api.Settings
//	PUT /v1/settings  api.SettingsChange → api.Settings
func (n *Node) settingsRoutes() {
	s := n.api
	s.Handle("GET /v1/settings", api.Get(s, func(r *http.Request) (*api.Settings, error) {
		return n.settings(), nil
	}))
	s.Handle("PUT /v1/settings", api.Post(s, func(r *http.Request, c *api.SettingsChange) (*api.Settings, error) {
		if err := n.changeSettings(c); err != nil {
			return nil, err
		}
		return n.settings(), nil
	}))
}

func (n *Node) settings() *api.Settings {
	dm := n.feats.private
	n.settingsMu.Lock()
	defer n.settingsMu.Unlock()
	return &api.Settings{
		Name: dm.Name(), ReadReceipts: dm.ReadReceipts(),
		CarryMail: n.carrySaved, CarryingMail: !n.opts.Mailbox.NoCarry,
		Fixed: n.opts.FixedSettings,
	}
}

// changeSettings applies and keeps what c changes; a setting that a flag
// or environment variable fixes is refused, naming it.
func (n *Node) changeSettings(c *api.SettingsChange) error {
	type change struct {
		key string
		set bool
		v   any
	}
	changes := []change{{"name", c.Name != nil, deref(c.Name)}, {"read_receipts", c.ReadReceipts != nil, deref(c.ReadReceipts)}, {"carry_mail", c.CarryMail != nil, deref(c.CarryMail)}}
	for _, ch := range changes {
		if by, ok := n.opts.FixedSettings[ch.key]; ch.set && ok {
			return api.Errorf(http.StatusConflict, "%s is set by %s when Banyan starts; change it there", ch.key, by)
		}
	}
	if c.Name != nil {
		if err := n.feats.private.SetName(*c.Name); err != nil {
			return api.Errorf(http.StatusBadRequest, "%v", err)
		}
	}
	if c.ReadReceipts != nil {
		n.feats.private.SetReadReceipts(*c.ReadReceipts)
	}
	n.settingsMu.Lock()
	defer n.settingsMu.Unlock()
	if c.CarryMail != nil {
		n.carrySaved = *c.CarryMail
	}
	var errs []error
	for _, ch := range changes {
		if ch.set {
			errs = append(errs, config.SaveApp(string(n.opts.Home), ch.key, ch.v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("keep settings: %w", err)
	}
	return nil
}

func deref[T any](p *T) T {
	var v T
	if p != nil {
		v = *p
	}
	return v
}
