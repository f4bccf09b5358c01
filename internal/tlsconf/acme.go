package tlsconf

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
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

func newACMESource(ctx context.Context, cfg Config, logger *slog.Logger, now func() time.Time) (*acmeSource, error) {
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
	if cfg.Files == nil {
		return nil, errors.New("tlsconf: ACME needs Files (the store) to keep the account key and certificates in")
	}
	if cfg.DataDir != "" {
		// What autocert.DirCache kept there before the store did.
		if _, err := importDir(ctx, cfg.Files, "acme", filepath.Join(cfg.DataDir, "acme"), acmePrefix, logger); err != nil {
			return nil, err
		}
	}
	a := &acmeSource{hostname: host, extra: cfg.ExtraNames, logger: logger, now: now}
	a.manager = &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      sharedCache{cfg.Files},
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

// acmePrefix is where the ACME cache keeps its entries among the shared
// files.
const acmePrefix = "acme/"

// acmeAccountKey is autocert's cache key of the ACME account key.
const acmeAccountKey = "acme_account+key"

// sharedCache is an autocert.Cache in the shared files: a certificate one
// node obtained is served by every node, which all use one ACME account;
// and http-01 tokens, which autocert puts in its Cache, can be answered by
// whichever node the CA's request reaches (tls-alpn-01 certificates stay
// in the memory of the node that ordered; see docs/operations.md).
type sharedCache struct{ files Files }

// Get implements autocert.Cache.
func (c sharedCache) Get(ctx context.Context, key string) ([]byte, error) {
	data, exists, err := readFile(ctx, c.files, acmePrefix+key)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: ACME cache: %w", err)
	}
	if !exists {
		return nil, autocert.ErrCacheMiss
	}
	return data, nil
}

// Put implements autocert.Cache. The account key is written only if there
// is none: two nodes starting at once each make one, and the first stays
// the installation's account (the other node's registration with its own
// key is harmless, and its next start uses the stored one).
func (c sharedCache) Put(ctx context.Context, key string, data []byte) error {
	var err error
	if key == acmeAccountKey {
		_, err = writeUnlessExists(ctx, c.files, acmePrefix+key, data)
	} else {
		err = c.files.WriteFile(ctx, acmePrefix+key, data)
	}
	if err != nil {
		return fmt.Errorf("tlsconf: ACME cache: %w", err)
	}
	return nil
}

// Delete implements autocert.Cache.
func (c sharedCache) Delete(ctx context.Context, key string) error {
	// autocert deletes tokens with a context that never ends.
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if err := c.files.DeleteFile(ctx, acmePrefix+key); err != nil {
		return fmt.Errorf("tlsconf: ACME cache: %w", err)
	}
	return nil
}
