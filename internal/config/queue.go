package config

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// Queue configures outbound delivery: the queue of mail for other domains.
type Queue struct {
	// Relay, if set, sends all outbound mail through this smarthost
	// (host:port) instead of looking up each domain's MX.
	Relay string `toml:"relay"`
	// RelayTLS is how to reach the relay: "starttls" (required) or
	// "implicit" (port 465 style).
	RelayTLS string `toml:"relay_tls"`
	// RelayUsername and RelayPasswordFile authenticate to the relay (AUTH
	// PLAIN over TLS); the password is read from the file, not kept here.
	RelayUsername     string `toml:"relay_username"`
	RelayPasswordFile string `toml:"relay_password_file"`
	// RetryIntervals are the waits after each temporary failure; the last
	// one repeats until MaxAge.
	RetryIntervals []Duration `toml:"retry_intervals"`
	// MaxAge is how long a message is retried before it bounces.
	MaxAge Duration `toml:"max_age"`
	// DelayWarning, if not zero, sends the sender one "still trying"
	// notice once a recipient has waited this long.
	DelayWarning Duration `toml:"delay_warning"`
	// Concurrency is how many deliveries run at once.
	Concurrency int `toml:"concurrency"`
	// RemotePort is the port remote MX hosts are contacted on: 25 except
	// in tests.
	RemotePort int `toml:"remote_port"`
	// LeaseTime is how long a recipient a node claimed stays reserved for
	// it without renewal: about how long a dead node's mail waits before
	// another node takes it over (0: the queue's default, 2 minutes).
	LeaseTime Duration `toml:"lease_time"`
}

// DNS configures name resolution for outbound mail.
type DNS struct {
	// Servers are resolvers to ask ("host:port"); empty means those of
	// /etc/resolv.conf.
	Servers []string `toml:"servers"`
	// Timeout bounds each query (per server and attempt) of the sender
	// checks on the MX (SPF, DKIM, DMARC, ARC, iprev, blocklists).
	Timeout Duration `toml:"timeout"`
}

func defaultQueue() Queue {
	return Queue{
		RelayTLS: "starttls",
		RetryIntervals: []Duration{Duration(5 * time.Minute), Duration(15 * time.Minute), Duration(30 * time.Minute),
			Duration(time.Hour), Duration(2 * time.Hour), Duration(4 * time.Hour)},
		MaxAge:       Duration(5 * 24 * time.Hour),
		DelayWarning: Duration(4 * time.Hour),
		Concurrency:  20,
		RemotePort:   25,
	}
}

func (q *Queue) validate() error {
	if q.Relay != "" {
		if _, _, err := net.SplitHostPort(q.Relay); err != nil {
			return &Error{Key: "queue.relay", Msg: fmt.Sprintf("want host:port, such as \"smtp.provider.example:587\", not %q", q.Relay)}
		}
	}
	switch q.RelayTLS {
	case "starttls", "implicit":
	default:
		return &Error{Key: "queue.relay_tls", Msg: fmt.Sprintf("want \"starttls\" or \"implicit\", not %q", q.RelayTLS)}
	}
	if (q.RelayUsername == "") != (q.RelayPasswordFile == "") {
		return &Error{Key: "queue.relay_username", Msg: "set both relay_username and relay_password_file, or neither"}
	}
	if len(q.RetryIntervals) == 0 {
		return &Error{Key: "queue.retry_intervals", Msg: "give at least one interval, such as [\"5m\", \"1h\"]"}
	}
	for i, d := range q.RetryIntervals {
		if d <= 0 {
			return &Error{Key: "queue.retry_intervals", Msg: "interval " + strconv.Itoa(i+1) + " must be greater than zero"}
		}
	}
	if q.MaxAge <= 0 {
		return &Error{Key: "queue.max_age", Msg: "must be greater than zero"}
	}
	if q.Concurrency <= 0 {
		return &Error{Key: "queue.concurrency", Msg: "must be greater than zero"}
	}
	if q.RemotePort <= 0 || q.RemotePort > 65535 {
		return &Error{Key: "queue.remote_port", Msg: "must be a port number"}
	}
	// Below a second the renewals (four per lease) would be most of the
	// database's work; above an hour a dead node's mail waits too long.
	if q.LeaseTime != 0 && (q.LeaseTime < Duration(time.Second) || q.LeaseTime > Duration(time.Hour)) {
		return &Error{Key: "queue.lease_time", Msg: "must be between 1s and 1h (or 0 for the default, 2m)"}
	}
	return nil
}

func (d *DNS) validate() error {
	if d.Timeout < 0 {
		return &Error{Key: "dns.timeout", Msg: "must not be negative"}
	}
	for _, s := range d.Servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return &Error{Key: "dns.servers", Msg: fmt.Sprintf("want host:port, such as \"127.0.0.1:53\", not %q", s)}
		}
	}
	return nil
}
