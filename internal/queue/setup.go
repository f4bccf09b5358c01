package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/dkim"
	"mailroom/internal/panics"
	"mailroom/internal/remote"
	"mailroom/internal/store"
	"mailroom/internal/tlsrpt"
)

// DKIMDir is where a data directory keeps its DKIM keys.
func DKIMDir(dataDir string) string { return filepath.Join(dataDir, "dkim") }

// MTASTSDir is where a data directory caches other domains' MTA-STS
// policies; TLSReportDir where it keeps TLS-RPT records until sent.
func MTASTSDir(dataDir string) string    { return filepath.Join(dataDir, "mta-sts") }
func TLSReportDir(dataDir string) string { return filepath.Join(dataDir, "tlsrpt") }

// TLSReports returns the TLS-RPT recorder, nil if reports are off.
func (q *Queue) TLSReports() *tlsrpt.Recorder { return q.opts.TLSReports }

// FromConfig builds the queue that serve runs, and that admin commands use
// to bounce what they drop, from the configuration. p counts the
// deliveries that panicked (nil for admin commands, which deliver nothing).
func FromConfig(cfg config.Config, st store.Store, logger *slog.Logger, p *panics.Counter) (*Queue, error) {
	q := cfg.Queue
	rc := remote.Config{
		Hostname:   cfg.Hostname,
		DNSServers: cfg.DNS.Servers,
		Port:       q.RemotePort,
		Logger:     logger.With("component", "remote"),
		PolicyDir:  MTASTSDir(cfg.DataDir),
	}
	var rec *tlsrpt.Recorder
	if cfg.TLSReports.Enabled && q.Relay == "" {
		// Through a smarthost we see no MX host's TLS: nothing to report.
		rec = tlsrpt.NewRecorder(TLSReportDir(cfg.DataDir), nil, logger.With("component", "tlsrpt"))
		rc.TLSReports = rec
	}
	if q.Relay != "" {
		sh := &remote.Smarthost{Addr: q.Relay, ImplicitTLS: q.RelayTLS == "implicit", Username: q.RelayUsername}
		if q.RelayPasswordFile != "" {
			data, err := os.ReadFile(q.RelayPasswordFile)
			if err != nil {
				return nil, fmt.Errorf("queue.relay_password_file: %w", err)
			}
			sh.Password, _, _ = strings.Cut(string(data), "\n")
			sh.Password = strings.TrimRight(sh.Password, "\r")
		}
		rc.Smarthost = sh
	}
	intervals := make([]time.Duration, len(q.RetryIntervals))
	for i, d := range q.RetryIntervals {
		intervals[i] = d.Std()
	}
	return New(Options{
		Store:          st,
		Transport:      remote.New(rc),
		Signer:         NewKeySigner(DKIMDir(cfg.DataDir)),
		Hostname:       cfg.Hostname,
		RetryIntervals: intervals,
		MaxAge:         q.MaxAge.Std(),
		DelayWarning:   q.DelayWarning.Std(),
		Concurrency:    q.Concurrency,
		LeaseTime:      q.LeaseTime.Std(),
		MaxFullReturn:  int64(cfg.SMTP.MaxMessageSize),
		Logger:         logger,
		Panics:         p,
		TLSReports:     rec,
	}), nil
}

// KeySigner signs with the DKIM keys `mailroom domain add` generated in a
// directory. It implements Signer.
type KeySigner struct {
	dir string

	mu   sync.Mutex
	keys map[string]*dkim.Keys
}

// NewKeySigner returns a KeySigner over the keys in dir.
func NewKeySigner(dir string) *KeySigner {
	return &KeySigner{dir: dir, keys: map[string]*dkim.Keys{}}
}

// Sign implements Signer. A domain without keys (not ours, or added before
// keys were generated) is sent unsigned.
func (s *KeySigner) Sign(ctx context.Context, domain string, msg store.Staged) ([]byte, error) {
	keys, err := s.load(domain)
	if err != nil || keys == nil {
		return nil, err
	}
	r, err := msg.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	header, err := keys.Sign(r)
	if err != nil {
		return nil, err
	}
	return []byte(header), nil
}

// load returns the keys of domain, nil if it has none. Keys found are
// kept; a domain without keys is looked up again next time, since
// `mailroom domain add` may create them while the server runs.
func (s *KeySigner) load(domain string) (*dkim.Keys, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.keys[domain]; ok {
		return k, nil
	}
	k, err := dkim.Load(s.dir, domain)
	if errors.Is(err, dkim.ErrNoKeys) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.keys[domain] = k
	return k, nil
}
