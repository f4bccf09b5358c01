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

// DKIMDir is where a data directory kept its DKIM keys before they moved
// into the store (dkim.ImportDir imports them).
func DKIMDir(dataDir string) string { return filepath.Join(dataDir, "dkim") }

// MTASTSDir is where a data directory cached other domains' MTA-STS
// policies, TLSReportDir where it kept TLS-RPT records until sent, before
// both moved into the store (mtasts.ImportDir and tlsrpt.ImportDir import
// them).
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
		Policies:   st, // shared by every node
	}
	var rec *tlsrpt.Recorder
	if cfg.TLSReports.Enabled && q.Relay == "" {
		// Through a smarthost we see no MX host's TLS: nothing to report.
		rec = tlsrpt.NewRecorder(st, nil, logger.With("component", "tlsrpt"))
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
		Signer:         NewKeySigner(st),
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

// keySignerTTL is how long a KeySigner trusts what it read of a domain's
// keys: keys `mailroom domain add` stored through any node sign here
// within it, and a rotation too, at the cost of one look at the store per
// domain per TTL.
const keySignerTTL = 30 * time.Second

// KeySigner signs with the DKIM keys `mailroom domain add` generated, kept
// in the store's shared files (the same on every node). It implements
// Signer.
type KeySigner struct {
	files dkim.Files
	now   func() time.Time

	mu   sync.Mutex
	keys map[string]signerKeys
}

// signerKeys is what was found of a domain's keys, and when.
type signerKeys struct {
	keys   *dkim.Keys // nil: the domain has none
	loaded time.Time
}

// NewKeySigner returns a KeySigner over the keys in files.
func NewKeySigner(files dkim.Files) *KeySigner {
	return &KeySigner{files: files, now: time.Now, keys: map[string]signerKeys{}}
}

// Sign implements Signer. A domain without keys (not ours, or added before
// keys were generated) is sent unsigned.
func (s *KeySigner) Sign(ctx context.Context, domain string, msg store.Staged) ([]byte, error) {
	keys, err := s.load(ctx, domain)
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

// load returns the keys of domain, nil if it has none. What it finds, keys
// or none, is kept for keySignerTTL; when a reload fails, keys found
// before go on signing rather than hold up mail.
func (s *KeySigner) load(ctx context.Context, domain string) (*dkim.Keys, error) {
	now := s.now()
	s.mu.Lock()
	prev, ok := s.keys[domain]
	s.mu.Unlock()
	if ok && now.Sub(prev.loaded) < keySignerTTL && !now.Before(prev.loaded) {
		return prev.keys, nil
	}
	k, err := dkim.Load(ctx, s.files, domain)
	if errors.Is(err, dkim.ErrNoKeys) {
		k, err = nil, nil
	}
	if err != nil {
		if prev.keys != nil {
			return prev.keys, nil
		}
		return nil, err
	}
	s.mu.Lock()
	s.keys[domain] = signerKeys{keys: k, loaded: now}
	s.mu.Unlock()
	return k, nil
}
