package config

import (
	"os"
	"time"
)

// Fetch configures the collection of mail from the users' accounts on
// other servers (internal/mailfetch).
type Fetch struct {
	// Enabled runs the collection and shows the users its settings page.
	Enabled bool `toml:"enabled"`
	// Interval is how often each source is collected (at least 1m: the
	// other server should not see a login every few seconds per user).
	Interval Duration `toml:"interval"`
	// Concurrency bounds the sources collected at once by this node.
	Concurrency int `toml:"concurrency"`
	// Timeout bounds connecting to the other server and each exchange
	// with it.
	Timeout Duration `toml:"timeout"`
	// RunTimeout bounds one collection of one source.
	RunTimeout Duration `toml:"run_timeout"`
	// CAFile, if set, is a PEM file of certificate authorities trusted
	// for the other servers' certificates, besides the system's.
	CAFile string `toml:"ca_file"`
}

func defaultFetch() Fetch {
	return Fetch{
		Enabled:     true,
		Interval:    Duration(10 * time.Minute),
		Concurrency: 4,
		Timeout:     Duration(time.Minute),
		RunTimeout:  Duration(30 * time.Minute),
	}
}

func (f *Fetch) validate() error {
	if f.Interval < Duration(time.Minute) {
		return &Error{Key: "fetch.interval", Msg: "must be at least 1m"}
	}
	if f.Concurrency < 1 || f.Concurrency > 100 {
		return &Error{Key: "fetch.concurrency", Msg: "must be between 1 and 100"}
	}
	if f.Timeout < Duration(5*time.Second) {
		return &Error{Key: "fetch.timeout", Msg: "must be at least 5s"}
	}
	if f.RunTimeout < f.Timeout {
		return &Error{Key: "fetch.run_timeout", Msg: "must be at least fetch.timeout"}
	}
	if f.CAFile != "" {
		if _, err := os.Stat(f.CAFile); err != nil {
			return &Error{Key: "fetch.ca_file", Msg: err.Error()}
		}
	}
	return nil
}
