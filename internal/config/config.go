// Package config loads Mailroom's TOML configuration file.
//
// Every key has a default (see Default and docs/configuration.md). An unknown
// key or an invalid value is an error that names the key and, where it comes
// from a file, the file and line.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"mailroom/internal/address"
)

// DefaultPath is where serve and the admin commands look without --config.
const DefaultPath = "/etc/mailroom/mailroom.toml"

// Config is the whole configuration.
type Config struct {
	Hostname string `toml:"hostname"`
	DataDir  string `toml:"data_dir"`
	// ShutdownTimeout is how long serve lets sessions finish after SIGTERM.
	ShutdownTimeout Duration    `toml:"shutdown_timeout"`
	Listen          Listen      `toml:"listen"`
	TLS             TLS         `toml:"tls"`
	Auth            Auth        `toml:"auth"`
	SMTP            SMTP        `toml:"smtp"`
	POP3            POP3        `toml:"pop3"`
	IMAP            IMAP        `toml:"imap"`
	ManageSieve     ManageSieve `toml:"managesieve"` // managesieve.go
	Web             Web         `toml:"web"`
	Queue           Queue       `toml:"queue"`
	DNS             DNS         `toml:"dns"`
	Junk            Junk        `toml:"junk"`
	Sieve           Sieve       `toml:"sieve"`
	Fetch           Fetch       `toml:"fetch"` // fetch.go
	JMAP            JMAP        `toml:"jmap"`  // jmap.go
	Store           Store       `toml:"store"`
	Log             Log         `toml:"log"`
	// Outbound transport security (transport.go).
	MTASTS     MTASTS     `toml:"mta_sts"`
	TLSReports TLSReports `toml:"tls_reports"`
}

// IMAP configures the IMAP listeners.
type IMAP struct {
	IdleTimeout         Duration `toml:"idle_timeout"`
	MaxConnections      int      `toml:"max_connections"`
	MaxConnectionsPerIP int      `toml:"max_connections_per_ip"`
}

// POP3 configures the POP3 listeners.
type POP3 struct {
	// APOP enables the APOP command. Off by default: it needs a
	// plaintext-equivalent secret stored for every account.
	APOP                bool     `toml:"apop"`
	IdleTimeout         Duration `toml:"idle_timeout"`
	MaxConnections      int      `toml:"max_connections"`
	MaxConnectionsPerIP int      `toml:"max_connections_per_ip"`
}

// SMTP configures the SMTP and submission listeners.
type SMTP struct {
	MaxMessageSize      Size     `toml:"max_message_size"`
	MaxRecipients       int      `toml:"max_recipients"`
	MaxLineLength       int      `toml:"max_line_length"`
	DataTimeout         Duration `toml:"data_timeout"`
	IdleTimeout         Duration `toml:"idle_timeout"`
	MaxConnections      int      `toml:"max_connections"`
	MaxConnectionsPerIP int      `toml:"max_connections_per_ip"`
	MaxErrors           int      `toml:"max_errors"`
	PlusSeparator       string   `toml:"plus_separator"`
	Postmaster          string   `toml:"postmaster"`
	// OverQuota is the reply to a local recipient whose mailbox is full:
	// "temporary" (452 4.2.2, the sender tries again) or "permanent"
	// (552 5.2.2, the sender gives up and bounces).
	OverQuota string `toml:"over_quota"`
	// Sender authentication on the MX (internal/msgauth; senderauth.go).
	AuthservID        string   `toml:"authserv_id"`
	DMARCEnforce      bool     `toml:"dmarc_enforce"`
	DMARCTempError    string   `toml:"dmarc_temperror"`
	ARCTrustedSealers []string `toml:"arc_trusted_sealers"`
	DNSBL             []string `toml:"dnsbl"`
	DMARCReports      bool     `toml:"dmarc_reports"`
}

// Listen holds the listener addresses; "" disables one.
type Listen struct {
	SMTP        string `toml:"smtp"`
	Submission  string `toml:"submission"`
	Submissions string `toml:"submissions"`
	IMAP        string `toml:"imap"`
	IMAPS       string `toml:"imaps"`
	POP3        string `toml:"pop3"`
	POP3S       string `toml:"pop3s"`
	// ManageSieve (RFC 5804) takes the users' Sieve filters; STARTTLS
	// only, the RFC has no implicit-TLS port.
	ManageSieve string `toml:"managesieve"`
	HTTP        string `toml:"http"`
	HTTPS       string `toml:"https"`
	// Debug serves Go's profiler (net/http/pprof) and runtime metrics for
	// operators investigating load; off by default, keep it on loopback.
	Debug string `toml:"debug"`
	// Metrics serves Prometheus metrics (/metrics) and the health checks
	// /healthz and /readyz; off by default. It has no authentication:
	// bind it to loopback or a network only the monitoring reaches.
	Metrics string `toml:"metrics"`
}

// TLS selects where certificates come from: files, a self-signed
// certificate, or ACME. At most one.
type TLS struct {
	CertFile   string `toml:"cert_file"`
	KeyFile    string `toml:"key_file"`
	SelfSigned bool   `toml:"self_signed"`
	ACMEEmail  string `toml:"acme_email"`
}

// Auth configures authentication for every protocol.
type Auth struct {
	// AllowInsecure allows password logins without TLS. For loopback tests only.
	AllowInsecure bool `toml:"allow_insecure"`
	// CacheTTL is how long a successful password check is remembered.
	CacheTTL Duration `toml:"cache_ttl"`
	// DefaultDomain completes login names without "@" (Dovecot's
	// auth_default_realm); "" leaves them unchanged.
	DefaultDomain string `toml:"default_domain"`
}

// Log configures logging.
type Log struct {
	Level  string `toml:"level"`  // debug, info, warn, error
	Format string `toml:"format"` // text or json
}

// Duration is a time.Duration written as a string ("30s", "1h").
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	if err != nil {
		return fmt.Errorf("want a duration such as \"30s\", \"5m\" or \"5d\", not %q", b)
	}
	if v < 0 {
		return fmt.Errorf("negative duration %q", b)
	}
	*d = Duration(v)
	return nil
}

// parseDuration is time.ParseDuration that also takes whole days ("5d"),
// the natural unit of queue lifetimes.
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 3650 {
			return 0, fmt.Errorf("bad number of days %q", days)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Default returns the configuration used for keys a file leaves out.
func Default() Config {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return Config{
		Hostname:        host,
		DataDir:         "/var/lib/mailroom",
		ShutdownTimeout: Duration(30 * time.Second),
		Listen: Listen{
			SMTP: ":25", Submission: ":587", Submissions: ":465",
			IMAP: ":143", IMAPS: ":993", POP3: ":110", POP3S: ":995",
			ManageSieve: ":4190", HTTP: ":80", HTTPS: ":443",
		},
		Auth: Auth{CacheTTL: Duration(time.Hour)},
		SMTP: SMTP{
			MaxMessageSize:      50 << 20,
			MaxRecipients:       100,
			MaxLineLength:       64 << 10,
			DataTimeout:         Duration(10 * time.Minute),
			IdleTimeout:         Duration(5 * time.Minute),
			MaxConnections:      1000,
			MaxConnectionsPerIP: 50,
			MaxErrors:           10,
			PlusSeparator:       "+",
			OverQuota:           "temporary",
			DMARCEnforce:        true,
			DMARCTempError:      "accept",
			DMARCReports:        true,
		},
		POP3: POP3{
			IdleTimeout:         Duration(10 * time.Minute),
			MaxConnections:      1000,
			MaxConnectionsPerIP: 50,
		},
		IMAP: IMAP{
			IdleTimeout:         Duration(30 * time.Minute),
			MaxConnections:      5000,
			MaxConnectionsPerIP: 100,
		},
		ManageSieve: defaultManageSieve(),
		Queue:       defaultQueue(),
		Web:         defaultWeb(),
		DNS:         DNS{Timeout: Duration(defaultDNSTimeout)},
		Junk:        defaultJunk(),
		Sieve:       defaultSieve(),
		Fetch:       defaultFetch(),
		Store:       defaultStore(),
		Log:         Log{Level: "info", Format: "text"},

		// Outbound transport security (transport.go).
		MTASTS:     defaultMTASTS(),
		TLSReports: defaultTLSReports(),
	}
}

// Dev returns the zero-configuration trial setup of `mailroom dev`: every
// listener on 127.0.0.1 high ports, a self-signed certificate.
func Dev(dataDir string) Config {
	c := Default()
	c.Hostname = "localhost"
	c.DataDir = dataDir
	c.ShutdownTimeout = Duration(5 * time.Second)
	c.Listen = Listen{
		SMTP: "127.0.0.1:2525", Submission: "127.0.0.1:2587", Submissions: "127.0.0.1:2465",
		IMAP: "127.0.0.1:2143", IMAPS: "127.0.0.1:2993", POP3: "127.0.0.1:2110", POP3S: "127.0.0.1:2995",
		ManageSieve: "127.0.0.1:2190", HTTP: "127.0.0.1:8080", Metrics: "127.0.0.1:2112",
	}
	c.TLS.SelfSigned = true
	return c
}

// Error is a configuration error. It names the key and, when known, the
// file and line.
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Load reads and validates a configuration file. Relative paths in it
// (data_dir, certificate files) are relative to the file's directory.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Config{}, fmt.Errorf("config file %s does not exist (give one with --config FILE)", path)
		}
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates configuration text; name is used in errors
// and to resolve relative paths.
func Parse(name string, data []byte) (Config, error) {
	c := Default()
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, decodeError(name, data, err)
	}
	base := filepath.Dir(name)
	c.DataDir = resolve(base, c.DataDir)
	c.TLS.CertFile = resolve(base, c.TLS.CertFile)
	c.TLS.KeyFile = resolve(base, c.TLS.KeyFile)
	c.Queue.RelayPasswordFile = resolve(base, c.Queue.RelayPasswordFile)
	if err := c.Validate(); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			ce.File = name
			ce.Line = keyLine(data, ce.Key)
		}
		return Config{}, err
	}
	return c, nil
}

func resolve(base, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, p)
}

// decodeError turns a go-toml error into one naming the key and line.
func decodeError(name string, data []byte, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) && len(strict.Errors) > 0 {
		e := strict.Errors[0]
		row, _ := e.Position()
		return &Error{File: name, Line: row, Key: strings.Join(e.Key(), "."), Msg: "unknown key"}
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, _ := de.Position()
		key := strings.Join(de.Key(), ".")
		msg := cleanMessage(de.Error())
		if key == "" {
			return &Error{File: name, Line: row, Msg: "syntax error: " + msg}
		}
		return &Error{File: name, Line: row, Key: key, Msg: msg}
	}
	return &Error{File: name, Msg: cleanMessage(err.Error())}
}

var typeMismatch = regexp.MustCompile(`cannot decode TOML (\w+) into struct field \S+ of type (\S+)`)

// cleanMessage rewords go-toml's messages for operators.
func cleanMessage(msg string) string {
	msg = strings.TrimPrefix(msg, "toml: ")
	if m := typeMismatch.FindStringSubmatch(msg); m != nil {
		want := m[2]
		switch want {
		case "config.Duration":
			want = "duration string such as \"30s\""
		case "bool":
			want = "boolean (true or false)"
		}
		return fmt.Sprintf("want a %s, not a TOML %s", want, m[1])
	}
	return msg
}

// Validate checks values that decoding alone cannot.
func (c *Config) Validate() error {
	if _, err := address.ParseDomain(c.Hostname); err != nil {
		return &Error{Key: "hostname", Msg: fmt.Sprintf("%q is not a valid host name", c.Hostname)}
	}
	if c.DataDir == "" {
		return &Error{Key: "data_dir", Msg: "must not be empty"}
	}
	if c.Auth.DefaultDomain != "" {
		d, err := address.ParseDomain(c.Auth.DefaultDomain)
		if err != nil {
			return &Error{Key: "auth.default_domain", Msg: fmt.Sprintf("%q is not a valid domain", c.Auth.DefaultDomain)}
		}
		c.Auth.DefaultDomain = d
	}
	for _, l := range c.listeners() {
		if l.addr == "" {
			continue
		}
		host, port, err := net.SplitHostPort(l.addr)
		if err != nil || port == "" {
			return &Error{Key: "listen." + l.key, Msg: fmt.Sprintf("%q is not host:port or :port", l.addr)}
		}
		if host != "" && net.ParseIP(host) == nil {
			if _, err := address.ParseDomain(host); err != nil {
				return &Error{Key: "listen." + l.key, Msg: fmt.Sprintf("%q: bad host", l.addr)}
			}
		}
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		key := "tls.key_file"
		if c.TLS.CertFile == "" {
			key = "tls.cert_file"
		}
		return &Error{Key: key, Msg: "cert_file and key_file go together"}
	}
	modes := 0
	for _, on := range []bool{c.TLS.CertFile != "", c.TLS.SelfSigned, c.TLS.ACMEEmail != ""} {
		if on {
			modes++
		}
	}
	if modes > 1 {
		return &Error{Key: "tls", Msg: "choose one of cert_file/key_file, self_signed and acme_email"}
	}
	if c.TLS.ACMEEmail != "" {
		if _, err := address.Parse(c.TLS.ACMEEmail); err != nil {
			return &Error{Key: "tls.acme_email", Msg: err.Error()}
		}
	}
	if modes == 0 {
		for _, l := range c.listeners() {
			if l.addr != "" && l.implicitTLS {
				return &Error{Key: "listen." + l.key, Msg: "needs TLS: set tls.cert_file and tls.key_file, tls.self_signed or tls.acme_email, or disable it with \"\""}
			}
		}
	}
	if err := c.SMTP.validate(); err != nil {
		return err
	}
	if c.POP3.IdleTimeout < Duration(time.Minute) {
		return &Error{Key: "pop3.idle_timeout", Msg: "must be at least 1m (RFC 1939 asks for 10m)"}
	}
	if c.IMAP.IdleTimeout < Duration(30*time.Minute) {
		return &Error{Key: "imap.idle_timeout", Msg: "must be at least 30m (RFC 9051 5.4)"}
	}
	if c.IMAP.MaxConnections <= 0 {
		return &Error{Key: "imap.max_connections", Msg: "must be greater than zero"}
	}
	if c.IMAP.MaxConnectionsPerIP <= 0 {
		return &Error{Key: "imap.max_connections_per_ip", Msg: "must be greater than zero"}
	}
	if c.POP3.MaxConnections <= 0 {
		return &Error{Key: "pop3.max_connections", Msg: "must be greater than zero"}
	}
	if c.POP3.MaxConnectionsPerIP <= 0 {
		return &Error{Key: "pop3.max_connections_per_ip", Msg: "must be greater than zero"}
	}
	if err := c.ManageSieve.validate(); err != nil {
		return err
	}
	if err := c.Queue.validate(); err != nil {
		return err
	}
	if err := c.JMAP.validate(); err != nil {
		return err
	}
	if err := c.Fetch.validate(); err != nil {
		return err
	}
	if err := c.Web.validate(); err != nil {
		return err
	}
	if err := c.DNS.validate(); err != nil {
		return err
	}
	if err := c.MTASTS.validate(); err != nil {
		return err
	}
	if err := c.TLSReports.validate(); err != nil {
		return err
	}
	if err := c.Store.validate(); err != nil {
		return err
	}
	if err := c.Sieve.validate(); err != nil {
		return err
	}
	if err := c.Junk.validate(); err != nil {
		return err
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return &Error{Key: "log.level", Msg: fmt.Sprintf("want debug, info, warn or error, not %q", c.Log.Level)}
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return &Error{Key: "log.format", Msg: fmt.Sprintf("want text or json, not %q", c.Log.Format)}
	}
	return nil
}

func (s *SMTP) validate() error {
	positive := []struct {
		key string
		v   int64
	}{
		{"smtp.max_message_size", int64(s.MaxMessageSize)}, {"smtp.max_recipients", int64(s.MaxRecipients)},
		{"smtp.max_line_length", int64(s.MaxLineLength)}, {"smtp.data_timeout", int64(s.DataTimeout)},
		{"smtp.idle_timeout", int64(s.IdleTimeout)}, {"smtp.max_connections", int64(s.MaxConnections)},
		{"smtp.max_connections_per_ip", int64(s.MaxConnectionsPerIP)}, {"smtp.max_errors", int64(s.MaxErrors)},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return &Error{Key: p.key, Msg: "must be greater than zero"}
		}
	}
	if s.MaxLineLength < 512 {
		return &Error{Key: "smtp.max_line_length", Msg: "must be at least 512 (RFC 5321 4.5.3.1.4)"}
	}
	if len(s.PlusSeparator) > 1 || strings.ContainsAny(s.PlusSeparator, "@ \"\t") {
		return &Error{Key: "smtp.plus_separator", Msg: fmt.Sprintf("want one character such as \"+\" or \"-\", or \"\" to disable, not %q", s.PlusSeparator)}
	}
	if s.Postmaster != "" {
		if _, err := address.Parse(s.Postmaster); err != nil {
			return &Error{Key: "smtp.postmaster", Msg: err.Error()}
		}
	}
	if s.OverQuota != "temporary" && s.OverQuota != "permanent" {
		return &Error{Key: "smtp.over_quota", Msg: fmt.Sprintf("want \"temporary\" (452 4.2.2) or \"permanent\" (552 5.2.2), not %q", s.OverQuota)}
	}
	return s.validateSenderAuth()
}

type listener struct {
	key, addr   string
	implicitTLS bool
}

func (c *Config) listeners() []listener {
	l := c.Listen
	return []listener{
		{"smtp", l.SMTP, false}, {"submission", l.Submission, false}, {"submissions", l.Submissions, true},
		{"imap", l.IMAP, false}, {"imaps", l.IMAPS, true}, {"pop3", l.POP3, false}, {"pop3s", l.POP3S, true},
		{"managesieve", l.ManageSieve, false},
		{"http", l.HTTP, false}, {"https", l.HTTPS, true}, {"metrics", l.Metrics, false},
	}
}

// TLSEnabled reports whether any TLS source is configured.
func (c *Config) TLSEnabled() bool {
	return c.TLS.CertFile != "" || c.TLS.SelfSigned || c.TLS.ACMEEmail != ""
}
