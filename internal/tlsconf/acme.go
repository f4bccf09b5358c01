package tlsconf

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// acmeErrorLogInterval limits how often certificate failures are logged: an
// outage at the CA would otherwise log once per incoming connection.
const acmeErrorLogInterval = time.Minute

// acmeSource obtains and renews certificates for one host name from an ACME
// CA (Let's Encrypt by default). Validation uses tls-alpn-01 (needs this
// TLS config on port 443) or http-01 (needs Manager.HTTPHandler on port 80).
type acmeSource struct {
	manager  *autocert.Manager
	hostname string
	extra    func(ctx context.Context, name string) bool // Config.ExtraNames
	logger   *slog.Logger
	now      func() time.Time

	mu        sync.Mutex
	lastError time.Time
}

func newACMESource(cfg Config, logger *slog.Logger, now func() time.Time) (*acmeSource, error) {
	host := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(cfg.Hostname)), ".")
	switch {
	case host == "":
		return nil, errors.New("tlsconf: ACME needs Hostname, the public DNS name to get a certificate for")
	case !strings.Contains(host, "."):
		return nil, fmt.Errorf("tlsconf: ACME needs a fully qualified public DNS name, not %q", cfg.Hostname)
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil, fmt.Errorf("tlsconf: ACME needs a DNS name, not the IP address %q", cfg.Hostname)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("tlsconf: ACME needs DataDir to keep the account key and certificates in")
	}
	dir := filepath.Join(cfg.DataDir, "acme")
	// autocert would create it on first write; doing it now reports a
	// permission problem at startup instead of at the first handshake.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tlsconf: creating ACME cache directory: %w", err)
	}
	a := &acmeSource{hostname: host, extra: cfg.ExtraNames, logger: logger, now: now}
	a.manager = &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(dir),
		HostPolicy: a.allowed,
		Email:      cfg.ACMEEmail,
	}
	return a, nil
}

// allowed is the host policy: the hostname, and the extra names the
// configuration allows. Anything else is refused before the CA is asked,
// so a client cannot make us request certificates for names of its
// choosing.
func (a *acmeSource) allowed(ctx context.Context, host string) error {
	if host == a.hostname || a.extra != nil && a.extra(ctx, host) {
		return nil
	}
	return fmt.Errorf("tlsconf: ACME: host %q not configured", host)
}

// getCertificate serves the certificate for the configured host whatever
// name the client asked for, unless it is one of the extra names, which get
// their own. Mail clients often connect without SNI (by IP address, or old
// TLS stacks), which autocert alone would refuse; and a client asking for
// another name gets the one certificate there is, as in the other modes.
func (a *acmeSource) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	h := *hello
	h.ServerName = a.hostname
	if sni := strings.TrimSuffix(strings.ToLower(hello.ServerName), "."); sni != "" && sni != a.hostname && a.extra != nil && a.extra(hello.Context(), sni) {
		h.ServerName = sni
	}
	cert, err := a.manager.GetCertificate(&h)
	if err != nil {
		a.logError(err, hello.ServerName)
		return nil, fmt.Errorf("tlsconf: ACME certificate for %s: %w", h.ServerName, err)
	}
	return cert, nil
}

func (a *acmeSource) logError(err error, sni string) {
	a.mu.Lock()
	now := a.now()
	quiet := now.Sub(a.lastError) < acmeErrorLogInterval && !now.Before(a.lastError)
	if !quiet {
		a.lastError = now
	}
	a.mu.Unlock()
	if !quiet {
		a.logger.Error("tlsconf: no ACME certificate available", "hostname", a.hostname, "sni", sni, "err", err)
	}
}

// acmeChallengeConfig is the GetConfigForClient hook of ACME-mode configs:
// a CA validating with tls-alpn-01 offers only "acme-tls/1", and must get
// that protocol negotiated along with autocert's challenge certificate.
func (m *Manager) acmeChallengeConfig(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	if !slices.Contains(hello.SupportedProtos, acme.ALPNProto) {
		return nil, nil // use the listener's own config
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: m.getCert,
		NextProtos:     []string{acme.ALPNProto},
	}, nil
}
