package config

// Web configures the webmail listeners (http, https).
type Web struct {
	// MaxConnections caps the connections per listener, MaxConnectionsPerIP
	// those from one address (IPv6: one /64), as for the mail listeners:
	// one client cannot hold every connection or file descriptor.
	MaxConnections      int `toml:"max_connections"`
	MaxConnectionsPerIP int `toml:"max_connections_per_ip"`
}

func defaultWeb() Web { return Web{MaxConnections: 2000, MaxConnectionsPerIP: 100} }

func (w *Web) validate() error {
	if w.MaxConnections <= 0 {
		return &Error{Key: "web.max_connections", Msg: "must be greater than zero"}
	}
	if w.MaxConnectionsPerIP <= 0 {
		return &Error{Key: "web.max_connections_per_ip", Msg: "must be greater than zero"}
	}
	return nil
}
