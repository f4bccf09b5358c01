package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"mailroom/internal/config"
	"mailroom/internal/dkim"
	"mailroom/internal/dnsrecords"
	"mailroom/internal/queue"
	"mailroom/internal/store"
)

// domainDNS prints the records an operator publishes for a domain. Keys of
// a domain added before DKIM existed are generated now.
func domainDNS(ctx context.Context, configPath, domain string, sio *stdio) error {
	cfg, err := config.Load(configPath)
	if err != nil {
		return err
	}
	var name string
	err = withStore(ctx, configPath, func(st store.Store) error {
		d, err := st.Domain(ctx, domain)
		name = d.Name
		return err
	})
	if err != nil {
		return err
	}
	dir := queue.DKIMDir(cfg.DataDir)
	keys, err := dkim.Load(dir, name)
	if errors.Is(err, dkim.ErrNoKeys) {
		if keys, err = dkim.Generate(dir, name, time.Now()); err == nil {
			fmt.Fprintf(sio.err, "generated DKIM keys for %s (it had none)\n", name)
		}
	}
	if err != nil {
		return fmt.Errorf("DKIM keys of %s: %w", name, err)
	}
	fmt.Fprintf(sio.out, "; DNS records for %s, served by %s. Add them at your DNS provider.\n\n", name, cfg.Hostname)
	return dnsrecords.Format(sio.out, dnsrecords.For(dnsrecords.FromConfig(cfg, name, keys.Records())))
}
