package tlsconf

import (
	"context"
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
	"mailroom/internal/dataimport"
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

// selfSignedName is the shared file holding the self-signed certificate
// and its key, one PEM file so that no node ever reads a certificate with
// another one's key.
const selfSignedName = "tls/selfsigned.pem"

// selfSignedSource serves a self-signed certificate kept in the shared
// files, the same on every node. Reusing it across restarts and nodes
// matters: clients that were told to trust it (or pinned it on first use)
// keep working whichever node they reach.
type selfSignedSource struct {
	files    Files // nil: kept in memory, for tests and tools
	hostname string
	logger   *slog.Logger
	now      func() time.Time

	mu      sync.Mutex
	cert    *tls.Certificate
	checked time.Time
}

func newSelfSignedSource(ctx context.Context, files Files, dataDir, hostname string, logger *slog.Logger, now func() time.Time) (*selfSignedSource, error) {
	s := &selfSignedSource{files: files, hostname: hostname, logger: logger, now: now}
	if files != nil && dataDir != "" {
		if err := s.importDataDir(ctx, filepath.Join(dataDir, "tls")); err != nil {
			return nil, err
		}
	}
	cert, err := s.loadOrCreate(ctx, now())
	if err != nil {
		return nil, err
	}
	s.cert, s.checked = cert, now()
	return s, nil
}

// importDataDir copies the pair an older version kept in
// DataDir/tls/selfsigned.{crt,key} into the store, once, unless the store
// has one: clients trust that certificate already.
func (s *selfSignedSource) importDataDir(ctx context.Context, dir string) error {
	_, err := dataimport.Once(ctx, s.files, "tls", dir, func() (int, error) {
		certPEM, cerr := os.ReadFile(filepath.Join(dir, "selfsigned.crt"))
		keyPEM, kerr := os.ReadFile(filepath.Join(dir, "selfsigned.key"))
		if cerr != nil || kerr != nil {
			return 0, nil
		}
		pair := append(certPEM, keyPEM...)
		if _, err := parsePair(pair); err != nil {
			s.logger.Warn("tlsconf: self-signed certificate in the data directory does not load; not importing it", "dir", dir, "err", err)
			return 0, nil
		}
		wrote, err := dataimport.Put(ctx, s.files, selfSignedName, pair)
		if err != nil {
			return 0, fmt.Errorf("tlsconf: importing %s: %w", dir, err)
		}
		if wrote {
			s.logger.Info("tlsconf: imported the self-signed certificate from the data directory into the store; the files stay in place but are no longer used", "dir", dir)
			return 1, nil
		}
		return 0, nil
	})
	return err
}

func (s *selfSignedSource) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if d := now.Sub(s.checked); d >= selfSignedCheckInterval || d < 0 {
		s.checked = now
		if !s.usable(s.cert.Leaf, now) {
			ctx := hello.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			cert, err := s.loadOrCreate(ctx, now)
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

// loadOrCreate returns the stored certificate if it is usable, and
// otherwise stores a new one, in one atomic update: of several nodes
// starting at once, one stores its certificate and the others take it.
// The candidate is generated before the update, which must be quick, and
// thrown away when the stored one will do.
func (s *selfSignedSource) loadOrCreate(ctx context.Context, now time.Time) (*tls.Certificate, error) {
	certPEM, keyPEM, err := generateSelfSigned(s.names(), now)
	if err != nil {
		return nil, err
	}
	fresh := append(certPEM, keyPEM...)
	if s.files == nil {
		return parsePair(fresh)
	}
	var chosen *tls.Certificate
	var replaced error // why a stored certificate was not used
	err = s.files.UpdateFile(ctx, selfSignedName, func(old []byte, exists bool) ([]byte, bool, error) {
		chosen, replaced = nil, nil
		if exists {
			pair, err := parsePair(old)
			if err == nil && s.usable(pair.Leaf, now) {
				chosen = pair
				return nil, false, nil
			}
			if err == nil {
				err = errors.New("expires soon or does not match the hostname")
			}
			replaced = err
		}
		return fresh, true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("tlsconf: self-signed certificate: %w", err)
	}
	if chosen != nil {
		s.logger.Info("tlsconf: using stored self-signed certificate", certAttrs(chosen.Leaf, selfSignedName)...)
		return chosen, nil
	}
	if replaced != nil {
		s.logger.Info("tlsconf: replaced the stored self-signed certificate", "err", replaced)
	}
	pair, err := parsePair(fresh)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: generated self-signed pair does not load: %w", err)
	}
	s.logger.Info("tlsconf: stored a new self-signed certificate", certAttrs(pair.Leaf, selfSignedName)...)
	return pair, nil
}

// parsePair loads a certificate and its key from one PEM text holding
// both.
func parsePair(data []byte) (*tls.Certificate, error) {
	pair, err := tls.X509KeyPair(data, data)
	if err != nil {
		return nil, err
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, err
		}
	}
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
