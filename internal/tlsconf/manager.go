// Package tlsconf provides the TLS configuration shared by every Mailroom
// listener (SMTP, submission, IMAP, POP3, HTTPS).
//
// Exactly one of three certificate sources may be configured:
//
//   - PEM certificate and key files, reloaded without a restart when they
//     change on disk (for certbot or another external ACME client);
//   - a self-signed certificate generated once and kept in the store's
//     shared files (Config.Files), the same on every node, for testing and
//     private installations;
//   - automatic certificates from an ACME CA (Let's Encrypt) via
//     golang.org/x/crypto/acme/autocert, cached in the shared files too.
//
// With none configured, TLS is disabled and TLSConfig returns nil.
package tlsconf

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/acme/autocert"
)

// Config selects and configures the certificate source.
type Config struct {
	CertFile, KeyFile string // PEM; reloaded without restart when the files change
	SelfSigned        bool   // generate once, keep in Files
	ACMEEmail         string // automatic certificates for Hostname via golang.org/x/crypto/acme/autocert
	Hostname          string
	// Files keeps the self-signed certificate and the ACME cache, shared
	// by every node (the store). Needed for ACME; a self-signed
	// certificate without it lives as long as the Manager (tests).
	Files Files
	// DataDir is where versions before the store kept these files: they
	// are imported into Files once, and left in place.
	DataDir string
	// ExtraNames, in ACME mode, says which other names a client may ask
	// for by SNI and get a certificate of their own (the MTA-STS policy
	// host mta-sts.<domain> of each hosted domain, which senders fetch
	// over HTTPS with that name). nil: only Hostname.
	ExtraNames func(ctx context.Context, name string) bool
}

// Manager hands out certificates to TLS listeners. It is safe for
// concurrent use.
type Manager struct {
	logger *slog.Logger
	// getCert serves every handshake; nil when TLS is disabled.
	getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	acme    *autocert.Manager // non-nil in ACME mode
}

// New returns a Manager for cfg. Its error names the problem: a missing or
// unreadable file, a key that does not match the certificate, more than one
// mode at once, or a setting a mode needs. A nil logger discards logs. ctx
// bounds the start-up work in the store (importing, generating).
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Manager, error) {
	return newManager(ctx, cfg, logger, time.Now)
}

// newManager is New with an injectable clock for tests.
func newManager(ctx context.Context, cfg Config, logger *slog.Logger, now func() time.Time) (*Manager, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{logger: logger}

	var modes []string
	if cfg.CertFile != "" || cfg.KeyFile != "" {
		modes = append(modes, "certificate files (CertFile/KeyFile)")
	}
	if cfg.SelfSigned {
		modes = append(modes, "self-signed (SelfSigned)")
	}
	if cfg.ACMEEmail != "" {
		modes = append(modes, "ACME (ACMEEmail)")
	}
	if len(modes) > 1 {
		return nil, fmt.Errorf("tlsconf: more than one TLS mode configured: %s; choose one", strings.Join(modes, ", "))
	}

	switch {
	case cfg.CertFile != "" || cfg.KeyFile != "":
		if cfg.CertFile == "" {
			return nil, errors.New("tlsconf: KeyFile is set but CertFile is not")
		}
		if cfg.KeyFile == "" {
			return nil, errors.New("tlsconf: CertFile is set but KeyFile is not")
		}
		fs, err := newFileSource(cfg.CertFile, cfg.KeyFile, cfg.Hostname, logger, now)
		if err != nil {
			return nil, err
		}
		m.getCert = fs.getCertificate
	case cfg.SelfSigned:
		ss, err := newSelfSignedSource(ctx, cfg.Files, cfg.DataDir, cfg.Hostname, logger, now)
		if err != nil {
			return nil, err
		}
		m.getCert = ss.getCertificate
	case cfg.ACMEEmail != "":
		a, err := newACMESource(ctx, cfg, logger, now)
		if err != nil {
			return nil, err
		}
		m.acme = a.manager
		m.getCert = a.getCertificate
	}
	return m, nil
}

// Enabled reports whether a certificate source is configured.
func (m *Manager) Enabled() bool { return m.getCert != nil }

// TLSConfig returns a new tls.Config for a listener, or nil when TLS is not
// configured. Certificates come from GetCertificate, so reloads and renewals
// apply to new connections without restarting listeners. Each call returns a
// fresh value the caller may adjust (e.g. set NextProtos for HTTP/2).
//
// In ACME mode the config answers tls-alpn-01 challenges: a ClientHello
// offering the "acme-tls/1" protocol is switched, via GetConfigForClient, to a
// config whose NextProtos is exactly that. "acme-tls/1" is deliberately not
// put in the returned NextProtos: Go refuses a handshake whose client offers
// ALPN protocols none of which the server lists, so a mail client offering
// "imap" would otherwise be cut off. Callers must not replace
// GetConfigForClient.
func (m *Manager) TLSConfig() *tls.Config {
	if !m.Enabled() {
		return nil
	}
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: m.getCert,
	}
	if m.acme != nil {
		cfg.GetConfigForClient = m.acmeChallengeConfig
	}
	return cfg
}

// HTTPHandler returns a handler for plain-HTTP port 80 that answers ACME
// http-01 challenges and passes every other request to fallback. Outside
// ACME mode it returns fallback unchanged. In ACME mode a nil fallback
// redirects to HTTPS (autocert's behaviour).
func (m *Manager) HTTPHandler(fallback http.Handler) http.Handler {
	if m.acme == nil {
		return fallback
	}
	return m.acme.HTTPHandler(fallback)
}
