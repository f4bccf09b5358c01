package config

import "time"

// ManageSieve configures the ManageSieve listener (RFC 5804), through
// which mail clients (Thunderbird's Sieve add-on, Roundcube, sieve-connect)
// upload the accounts' Sieve filters.
type ManageSieve struct {
	IdleTimeout         Duration `toml:"idle_timeout"`
	MaxConnections      int      `toml:"max_connections"`
	MaxConnectionsPerIP int      `toml:"max_connections_per_ip"`
}

// A client opens one connection while its user edits filters and closes
// it after: far fewer are needed than for IMAP.
func defaultManageSieve() ManageSieve {
	return ManageSieve{
		IdleTimeout:         Duration(30 * time.Minute),
		MaxConnections:      500,
		MaxConnectionsPerIP: 20,
	}
}

func (m *ManageSieve) validate() error {
	if m.IdleTimeout < Duration(time.Minute) {
		return &Error{Key: "managesieve.idle_timeout", Msg: "must be at least 1m"}
	}
	if m.MaxConnections <= 0 {
		return &Error{Key: "managesieve.max_connections", Msg: "must be greater than zero"}
	}
	if m.MaxConnectionsPerIP <= 0 {
		return &Error{Key: "managesieve.max_connections_per_ip", Msg: "must be greater than zero"}
	}
	return nil
}
