package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

const (
	selfSignedValidity = 365 * 24 * time.Hour
	// selfSignedRenewBefore: a certificate closer than this to expiry is
	// replaced, at start or while running.
	selfSignedRenewBefore = 30 * 24 * time.Hour
	// selfSignedCheckInterval is how often a running server checks whether
	// its self-signed certificate needs replacing.
	selfSignedCheckInterval = time.Hour
)

// selfSignedSource serves a self-signed certificate kept in
// DataDir/tls/selfsigned.{crt,key}. Reusing it across restarts matters:
// clients that were told to trust it (or pinned it) keep working.
type selfSignedSource struct {
	dir      string
	hostname string
	logger   *slog.Logger
	now      func() time.Time

	mu      sync.Mutex
	cert    *tls.Certificate
	checked time.Time
}

func newSelfSignedSource(dataDir, hostname string, logger *slog.Logger, now func() time.Time) (*selfSignedSource, error) {
	if dataDir == "" {
		return nil, errors.New("tlsconf: SelfSigned needs DataDir to keep the certificate in")
	}
	s := &selfSignedSource{dir: filepath.Join(dataDir, "tls"), hostname: hostname, logger: logger, now: now}
	cert, err := s.loadOrCreate(now())
	if err != nil {
		return nil, err
	}
	s.cert, s.checked = cert, now()
	return s, nil
}

func (s *selfSignedSource) paths() (certFile, keyFile string) {
	return filepath.Join(s.dir, "selfsigned.crt"), filepath.Join(s.dir, "selfsigned.key")
}

func (s *selfSignedSource) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if d := now.Sub(s.checked); d >= selfSignedCheckInterval || d < 0 {
		s.checked = now
		if !s.usable(s.cert.Leaf, now) {
			cert, err := s.loadOrCreate(now)
			if err != nil {
				s.logger.Error("tlsconf: renewing self-signed certificate failed; still serving the old one", "err", err)
			} else {
				s.cert = cert
			}
		}
	}
	return s.cert, nil
}

// usable reports whether leaf can go on being served: not near expiry and
// naming the configured host (which may have changed since it was made).
func (s *selfSignedSource) usable(leaf *x509.Certificate, now time.Time) bool {
	if now.Before(leaf.NotBefore) || now.Add(selfSignedRenewBefore).After(leaf.NotAfter) {
		return false
	}
	for _, name := range s.names() {
		if leaf.VerifyHostname(name) != nil {
			return false
		}
	}
	return true
}

// names are the host names and addresses the certificate must cover.
func (s *selfSignedSource) names() []string {
	names := []string{"localhost", "127.0.0.1", "::1"}
	if s.hostname != "" && s.hostname != "localhost" {
		names = append([]string{s.hostname}, names...)
	}
	return names
}

// loadOrCreate returns the stored certificate if it is usable, and otherwise
// generates and stores a new one.
func (s *selfSignedSource) loadOrCreate(now time.Time) (*tls.Certificate, error) {
	certFile, keyFile := s.paths()
	cert, err := loadKeyPair(certFile, keyFile)
	switch {
	case err == nil && s.usable(cert.Leaf, now):
		s.logger.Info("tlsconf: using stored self-signed certificate", certAttrs(cert.Leaf, certFile)...)
		return cert, nil
	case err == nil:
		s.logger.Info("tlsconf: stored self-signed certificate expires soon or does not match the hostname; replacing it",
			certAttrs(cert.Leaf, certFile)...)
	case errors.Is(err, os.ErrNotExist):
		s.logger.Info("tlsconf: generating self-signed certificate", "dir", s.dir)
	default:
		s.logger.Warn("tlsconf: stored self-signed certificate unusable; replacing it", "err", err)
	}

	certPEM, keyPEM, err := generateSelfSigned(s.names(), now)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("tlsconf: creating %s: %w", s.dir, err)
	}
	// MkdirAll leaves an existing directory's mode alone; the key must not
	// be readable by others.
	if err := os.Chmod(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("tlsconf: securing %s: %w", s.dir, err)
	}
	// Key first: a crash in between leaves a pair that does not match,
	// which the next start detects and replaces.
	if err := writeFileAtomic(keyFile, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(certFile, certPEM, 0o644); err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: generated self-signed pair does not load: %w", err)
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tlsconf: parsing generated certificate: %w", err)
		}
	}
	s.logger.Info("tlsconf: wrote self-signed certificate", certAttrs(pair.Leaf, certFile)...)
	return &pair, nil
}

// generateSelfSigned makes an ECDSA P-256 certificate valid for a year for
// names (DNS names or IP addresses; the first is the subject CN).
func generateSelfSigned(names []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsconf: generating key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("tlsconf: generating serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: names[0], Organization: []string{"Mailroom self-signed"}},
		// An hour of slack for clients whose clocks run a little behind.
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsconf: creating certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsconf: encoding key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// writeFileAtomic writes data to path via a temporary file and rename, so a
// reader never sees a half-written file. The temporary file gets perm before
// any data is written to it.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("tlsconf: writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("tlsconf: writing %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("tlsconf: writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("tlsconf: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("tlsconf: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("tlsconf: writing %s: %w", path, err)
	}
	return nil
}
