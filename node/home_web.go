package node

import "path/filepath"

// APISessionsFile holds the hashes of the browser sessions of the web
// interface (mode 0600), so that an open page survives a restart.
func (h Home) APISessionsFile() string { return filepath.Join(string(h), "api.sessions") }
