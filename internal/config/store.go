package config

import (
	"strings"

	"github.com/jackc/pgx/v5"
)

// Store backends.
const (
	BackendSQLite   = "sqlite"
	BackendPostgres = "postgres"
)

// Store chooses where mail and accounts live: the embedded SQLite database
// in data_dir (one node), or a PostgreSQL database that any number of
// nodes share.
type Store struct {
	// Backend is "sqlite" (default) or "postgres".
	Backend string `toml:"backend"`
	// DSN is the PostgreSQL connection string, libpq's key=value form or
	// a postgres:// URL. A password in it is better given in the
	// PGPASSWORD environment variable or ~/.pgpass, which pgx reads too.
	DSN string `toml:"dsn"`
	// MaxConns bounds this node's connections (0: pgx's default, the
	// larger of 4 and the number of CPUs).
	MaxConns int `toml:"max_conns"`
}

func defaultStore() Store { return Store{Backend: BackendSQLite} }

func (s *Store) validate() error {
	switch s.Backend {
	case BackendSQLite:
		if s.DSN != "" {
			return &Error{Key: "store.dsn", Msg: `is for backend = "postgres"`}
		}
	case BackendPostgres:
		if strings.TrimSpace(s.DSN) == "" {
			return &Error{Key: "store.dsn", Msg: `backend = "postgres" needs a DSN ("host=/run/postgresql dbname=mailroom")`}
		}
		if _, err := pgx.ParseConfig(s.DSN); err != nil {
			// pgx's message quotes the DSN with the password redacted.
			return &Error{Key: "store.dsn", Msg: err.Error()}
		}
	default:
		return &Error{Key: "store.backend", Msg: `must be "sqlite" or "postgres"`}
	}
	if s.MaxConns < 0 || s.MaxConns > 10000 {
		return &Error{Key: "store.max_conns", Msg: "must be between 0 (default) and 10000"}
	}
	return nil
}
