package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// fileCheckInterval is how often the certificate files are stat'ed. Stat on
// every handshake would be wasteful under load; a second is still far quicker
// than anyone notices after certbot renews.
const fileCheckInterval = time.Second

// fileSource serves a certificate and key from PEM files and reloads them
// when their modification time or size changes. A new pair that does not
// load (half-written, mismatched, garbage) is logged and the last good
// certificate is kept, so a botched renewal never takes TLS down.
type fileSource struct {
	certFile, keyFile string
	hostname          string
	logger            *slog.Logger
	now               func() time.Time

	mu        sync.Mutex
	cert      *tls.Certificate // last good pair
	attempted pairStamp        // stamps of the pair last tried, good or bad
	checked   time.Time        // last stat
}

// fileStamp identifies a version of a file cheaply. err is set when the file
// could not be stat'ed, so that a vanished file counts as a change.
type fileStamp struct {
	mod  time.Time
	size int64
	err  string
}

type pairStamp struct{ cert, key fileStamp }

func stamp(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{err: err.Error()}
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}
}

func newFileSource(certFile, keyFile, hostname string, logger *slog.Logger, now func() time.Time) (*fileSource, error) {
	f := &fileSource{certFile: certFile, keyFile: keyFile, hostname: hostname, logger: logger, now: now}
	// Stamp before reading: if a file changes while it is read, the next
	// check sees a different stamp and reloads.
	f.attempted = pairStamp{stamp(certFile), stamp(keyFile)}
	cert, err := loadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	f.cert = cert
	f.checked = now()
	checkLeaf(logger, cert.Leaf, hostname, now(), certFile)
	logger.Info("tlsconf: loaded certificate", certAttrs(cert.Leaf, certFile)...)
	return f, nil
}

func (f *fileSource) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	if d := now.Sub(f.checked); d >= fileCheckInterval || d < 0 {
		f.checked = now
		f.reloadIfChanged(now)
	}
	return f.cert, nil
}

func (f *fileSource) reloadIfChanged(now time.Time) {
	st := pairStamp{stamp(f.certFile), stamp(f.keyFile)}
	if st == f.attempted {
		return
	}
	// Remember the attempt even if it fails, so a broken pair is reported
	// once rather than every second until someone fixes it.
	f.attempted = st
	cert, err := loadKeyPair(f.certFile, f.keyFile)
	if err != nil {
		f.logger.Error("tlsconf: certificate files changed but do not load; still serving the previous certificate",
			"err", err, "previous_not_after", f.cert.Leaf.NotAfter)
		return
	}
	f.cert = cert
	checkLeaf(f.logger, cert.Leaf, f.hostname, now, f.certFile)
	f.logger.Info("tlsconf: reloaded certificate", certAttrs(cert.Leaf, f.certFile)...)
}

// loadKeyPair reads a PEM certificate chain and key, with errors that say
// which file is at fault.
func loadKeyPair(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: reading certificate file: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: reading key file: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: certificate %s with key %s: %w", certFile, keyFile, err)
	}
	if cert.Leaf == nil {
		// X509KeyPair fills Leaf unless GODEBUG x509keypairleaf=0.
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tlsconf: parsing certificate %s: %w", certFile, err)
		}
	}
	return &cert, nil
}

// checkLeaf warns about a certificate that will make clients complain. It
// does not refuse it: serving an expired or mismatched certificate is still
// better than no TLS at all, and the operator may know what they are doing.
func checkLeaf(logger *slog.Logger, leaf *x509.Certificate, hostname string, now time.Time, source string) {
	switch {
	case now.After(leaf.NotAfter):
		logger.Error("tlsconf: certificate has expired", certAttrs(leaf, source)...)
	case now.Add(14 * 24 * time.Hour).After(leaf.NotAfter):
		logger.Warn("tlsconf: certificate expires soon", certAttrs(leaf, source)...)
	}
	if hostname != "" {
		if err := leaf.VerifyHostname(hostname); err != nil {
			logger.Warn("tlsconf: certificate does not cover the configured hostname",
				append(certAttrs(leaf, source), "hostname", hostname)...)
		}
	}
}

func certAttrs(leaf *x509.Certificate, source string) []any {
	return []any{
		slog.String("source", source),
		slog.String("subject", leaf.Subject.String()),
		slog.Any("dns_names", leaf.DNSNames),
		slog.Time("not_after", leaf.NotAfter),
	}
}
