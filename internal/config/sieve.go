package config

import "time"

// Sieve configures the mail filters (internal/sieve) that run at delivery.
type Sieve struct {
	// Before is a script file run before every account's own script, for
	// every delivery (e.g. junk to Junk). "" runs none. It must compile:
	// serve refuses to start otherwise.
	Before string `toml:"before"`
	// GlobalDir holds the scripts users' scripts may include :global, as
	// NAME.sieve (RFC 6609).
	GlobalDir string `toml:"global_dir"`
	// MaxSteps bounds the commands and tests one delivery to one account
	// evaluates; MaxTime its wall-clock time. A script over either is
	// stopped and the message goes to INBOX.
	MaxSteps int      `toml:"max_steps"`
	MaxTime  Duration `toml:"max_time"`
	// MaxRedirects bounds the redirects of one delivery to one account.
	MaxRedirects int `toml:"max_redirects"`
}

func defaultSieve() Sieve {
	return Sieve{MaxSteps: 200_000, MaxTime: Duration(time.Second), MaxRedirects: 10}
}

func (s *Sieve) validate() error {
	if s.MaxSteps < 100 {
		return &Error{Key: "sieve.max_steps", Msg: "must be at least 100"}
	}
	if s.MaxTime < Duration(10*time.Millisecond) || s.MaxTime > Duration(time.Minute) {
		return &Error{Key: "sieve.max_time", Msg: "must be between 10ms and 1m"}
	}
	if s.MaxRedirects < 0 || s.MaxRedirects > 100 {
		return &Error{Key: "sieve.max_redirects", Msg: "must be between 0 and 100"}
	}
	return nil
}
