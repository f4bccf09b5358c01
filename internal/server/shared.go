package server

import (
	"context"
	"fmt"
	"log/slog"

	"mailroom/internal/config"
	"mailroom/internal/dkim"
	"mailroom/internal/mtasts"
	"mailroom/internal/queue"
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
	return nil
}
