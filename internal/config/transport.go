package config

import (
	"fmt"
	"time"

	"mailroom/internal/address"
)

// MTASTS configures the MTA-STS policy Mailroom publishes for its own
// domains at https://mta-sts.DOMAIN/.well-known/mta-sts.txt (RFC 8461).
type MTASTS struct {
	// Mode is "testing" (senders report failures but deliver), "enforce"
	// (senders deliver only over verified TLS to the listed hosts) or
	// "none" (withdraws a published policy).
	Mode string `toml:"mode"`
	// MaxAge is how long senders may cache the policy.
	MaxAge Duration `toml:"max_age"`
	// MX lists the MX host names the policy allows; empty means the
	// hostname, the only one `mailroom domain dns` publishes.
	MX []string `toml:"mx"`
}

// TLSReports configures the daily TLS-RPT reports (RFC 8460) Mailroom
// sends to the domains it delivers mail to that ask for them.
type TLSReports struct {
	Enabled bool `toml:"enabled"`
	// From is the reports' From address; empty means postmaster@hostname.
	From string `toml:"from"`
}

func defaultMTASTS() MTASTS {
	return MTASTS{Mode: "testing", MaxAge: Duration(7 * 24 * time.Hour)}
}

func defaultTLSReports() TLSReports { return TLSReports{Enabled: true} }

func (m *MTASTS) validate() error {
	switch m.Mode {
	case "testing", "enforce", "none":
	default:
		return &Error{Key: "mta_sts.mode", Msg: fmt.Sprintf("want testing, enforce or none, not %q", m.Mode)}
	}
	// RFC 8461 section 3.2: at most a year; a policy shorter than a day
	// protects little, as it must be fetched before it helps.
	if m.MaxAge < Duration(24*time.Hour) || m.MaxAge > Duration(31557600*time.Second) {
		return &Error{Key: "mta_sts.max_age", Msg: "must be between 1d and 365d"}
	}
	for _, h := range m.MX {
		name := h
		if len(name) > 2 && name[:2] == "*." {
			name = name[2:]
		}
		if _, err := address.ParseDomain(name); err != nil {
			return &Error{Key: "mta_sts.mx", Msg: fmt.Sprintf("%q is not a host name or *.domain pattern", h)}
		}
	}
	return nil
}

func (r *TLSReports) validate() error {
	if r.From != "" {
		if _, err := address.Parse(r.From); err != nil {
			return &Error{Key: "tls_reports.from", Msg: err.Error()}
		}
	}
	return nil
}
