package server

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"

	"mailroom/internal/config"
	"mailroom/internal/delivery"
	"mailroom/internal/mailbox"
	"mailroom/internal/mailfetch"
	"mailroom/internal/store"
)

// newFetcher builds the collector of mail from other servers ([fetch]):
// collected mail goes through the delivery agent (INBOX) or the mailbox
// service (another folder), as local mail does.
func newFetcher(cfg config.Config, st store.Store, agent *delivery.Agent, boxes *mailbox.Service, logger *slog.Logger) (*mailfetch.Fetcher, error) {
	var roots *x509.CertPool
	if cfg.Fetch.CAFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		pem, err := os.ReadFile(cfg.Fetch.CAFile)
		if err != nil {
			return nil, fmt.Errorf("fetch.ca_file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("fetch.ca_file: %s holds no PEM certificate", cfg.Fetch.CAFile)
		}
		roots = pool
	}
	return mailfetch.New(mailfetch.Config{
		Store: st, Deliver: agent, Mailboxes: boxes,
		Interval: cfg.Fetch.Interval.Std(), Concurrency: cfg.Fetch.Concurrency,
		Timeout: cfg.Fetch.Timeout.Std(), RunTimeout: cfg.Fetch.RunTimeout.Std(),
		MaxMessageSize: int64(cfg.SMTP.MaxMessageSize), RootCAs: roots,
		Logger: logger.With("component", "fetch"),
	}), nil
}
