package server

import (
	"context"
	"fmt"
	"log/slog"

	"mailroom/internal/config"
	"mailroom/internal/dataimport"
	"mailroom/internal/dkim"
	"mailroom/internal/mtasts"
	"mailroom/internal/queue"
	"mailroom/internal/sieverules"
	"mailroom/internal/store"
	"mailroom/internal/tlsrpt"
)

// importDataDir moves what older versions kept in files of the data
// directory, and every node must now share, into the store: once per
// installation, leaving the files in place so that a downgrade still finds
// them. (The certificates are imported by tlsconf.New, which reads them.)
func importDataDir(ctx context.Context, cfg config.Config, st store.Store, logger *slog.Logger) error {
	if _, err := dkim.ImportDir(ctx, st, queue.DKIMDir(cfg.DataDir), logger.With("component", "dkim")); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	if _, err := mtasts.ImportDir(ctx, st, queue.MTASTSDir(cfg.DataDir), logger.With("component", "mtasts")); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	if _, err := tlsrpt.ImportDir(ctx, st, queue.TLSReportDir(cfg.DataDir), logger.With("component", "tlsrpt")); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	return migrateSieveSettings(ctx, st, logger)
}

// migrateSieveSettings turns the forwarding and vacation settings of
// older versions into the accounts' managed Sieve scripts, which delivery
// runs instead, before any listener takes mail: once per installation
// (every account's settings are read), again at the next start if a pass
// failed. Nothing writes those settings since (mailroom user set refuses
// them), so one pass is enough.
func migrateSieveSettings(ctx context.Context, st store.Store, logger *slog.Logger) error {
	log := logger.With("component", "sieve")
	n, err := dataimport.Once(ctx, st, "sieve-settings", "account settings forward.* and vacation.*", func() (int, error) {
		return sieverules.MigrateSettings(ctx, st, log)
	})
	if err != nil {
		return err
	}
	if n > 0 {
		log.Info("forwarding and vacation settings migrated into Sieve scripts", "accounts", n)
	}
	return nil
}
