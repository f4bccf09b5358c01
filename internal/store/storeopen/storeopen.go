// Package storeopen opens the store a configuration names: the embedded
// SQLite database in data_dir or a PostgreSQL database shared by several
// nodes. It is the one place that knows both backends, so that the server
// and every admin command open the same store the same way.
package storeopen

import (
	"context"
	"fmt"
	"log/slog"

	"mailroom/internal/config"
	"mailroom/internal/store"
	"mailroom/internal/store/pgstore"
	"mailroom/internal/store/sqlitestore"
)

// Options adjust what Open opens.
type Options struct {
	Logger *slog.Logger
	// Maintenance runs the store's background jobs (crash recovery,
	// pruning, sweeping unreferenced bodies): for serve, not for the
	// short-lived admin commands.
	Maintenance bool
	// SQLite changes the SQLite store's options before it opens (tests
	// make the disk fill up or fail this way). It has no PostgreSQL
	// counterpart.
	SQLite []func(*sqlitestore.Options)
	// Observer is told of commits, feed lag and body bytes (the server's
	// metrics); nil: nothing is observed.
	Observer store.Observer
}

// Open opens the store cfg.Store names. Close it when done.
func Open(ctx context.Context, cfg config.Config, opts Options) (store.Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	switch cfg.Store.Backend {
	case config.BackendSQLite, "":
		o := sqlitestore.Options{Dir: cfg.DataDir, Logger: opts.Logger, Maintenance: opts.Maintenance, Observer: opts.Observer}
		for _, fn := range opts.SQLite {
			fn(&o)
		}
		return sqlitestore.Open(ctx, o)
	case config.BackendPostgres:
		if len(opts.SQLite) > 0 {
			return nil, fmt.Errorf("store: SQLite options given for the postgres backend")
		}
		return pgstore.Open(ctx, pgstore.Options{
			DSN:      cfg.Store.DSN,
			MaxConns: int32(cfg.Store.MaxConns),
			Logger:   opts.Logger,
			Observer: opts.Observer,
		})
	default:
		return nil, fmt.Errorf("store: unknown backend %q", cfg.Store.Backend)
	}
}
