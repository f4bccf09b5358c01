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
	var keys *dkim.Keys
	err = withStore(ctx, configPath, func(st store.Store) error {
		d, err := st.Domain(ctx, domain)
		if err != nil {
			return err
		}
		name = d.Name
		importDKIM(ctx, st, cfg, sio)
		keys, err = dkim.Load(ctx, st, name)
		if errors.Is(err, dkim.ErrNoKeys) {
			if keys, err = dkim.Generate(ctx, st, name, time.Now()); err == nil {
				fmt.Fprintf(sio.err, "generated DKIM keys for %s (it had none)\n", name)
			}
		}
		if err != nil {
			return fmt.Errorf("DKIM keys of %s: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(sio.out, "; DNS records for %s, served by %s. Add them at your DNS provider.\n\n", name, cfg.Hostname)
	return dnsrecords.Format(sio.out, dnsrecords.For(dnsrecords.FromConfig(cfg, name, keys.Records())))
}

// importDKIM imports the DKIM keys an older version kept in the data
// directory into the store (once per installation) before an admin
// command looks for a domain's keys, so that an upgraded installation run
// `domain dns` before `serve` shows the keys its DNS already publishes
// rather than generating new ones. A failure is reported, not fatal: serve
// imports them too.
func importDKIM(ctx context.Context, st store.Store, cfg config.Config, sio *stdio) {
	dir := queue.DKIMDir(cfg.DataDir)
	n, err := dkim.ImportDir(ctx, st, dir, nil)
	if err != nil {
		fmt.Fprintf(sio.err, "importing DKIM keys from %s: %v\n", dir, err)
	} else if n > 0 {
		fmt.Fprintf(sio.err, "imported %d DKIM keys from %s into the store (the files stay in place, no longer used)\n", n, dir)
	}
}
