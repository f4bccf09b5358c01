// Package pgstore is Mailroom's mail store on PostgreSQL, for installations
// where several stateless Mailroom nodes serve the same accounts: metadata
// and message bodies in one PostgreSQL database, which brings its own
// replication and failover.
//
// It implements the whole store.Store and passes the conformance suite
// (storetest.Run): schema migrations (schema.go), bodies in the database
// (blobs.go, deliver.go), the change feed across nodes (feed.go, events.go),
// the outbound queue with leases (queue.go) and background maintenance
// (maintain.go).
package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailroom/internal/store"
)

// Options configure Open.
type Options struct {
	// DSN is a libpq connection string or URL
	// ("postgres://mailroom@db.example.org/mailroom", "host=/run/postgresql dbname=mailroom").
	DSN string
	// MaxConns bounds the connection pool (default: pgx's, the larger of
	// 4 and the number of CPUs). Each node holds up to this many
	// connections, so nodes × MaxConns must stay below the server's
	// max_connections.
	MaxConns int32
	Logger   *slog.Logger
	// InlineMax is the largest body kept in its contents row rather than
	// as a blob (default DefaultInlineMax; negative: always a blob, which
	// tests use to run the blob path with small messages).
	InlineMax int
	// DMARCRows bounds the DMARC evaluations kept (default
	// store.MaxDMARCRows); tests lower it.
	DMARCRows int
	// Maintenance runs the periodic jobs of a long-running server (see
	// maintain.go): pruning the change log and old vacation replies,
	// sweeping bodies a crash left behind. Every node of an installation
	// may turn it on; one of them does each round. Admin commands leave
	// it off.
	Maintenance bool
	// MaintenanceInterval is the time between two rounds (default
	// DefaultMaintenanceInterval).
	MaintenanceInterval time.Duration
	// Observer is told of commits, feed lag and body bytes (the server's
	// metrics); nil: nothing is observed.
	Observer store.Observer
}

// Store is the PostgreSQL store.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	opts Options
	// origin marks this process's rows in the change log, so that its
	// feed can tell them from other nodes' changes.
	origin int64
	// changes is the change feed (feed.go).
	changes *feedState
	// stopMaintenance ends the maintenance loop, which closes maintained
	// when it returns (nil without Options.Maintenance).
	stopMaintenance context.CancelFunc
	maintained      chan struct{}
}

// Open connects to the database and brings its schema up to date. A
// database whose schema is newer than this binary knows is refused.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.InlineMax == 0 {
		opts.InlineMax = DefaultInlineMax
	}
	if opts.Observer == nil {
		opts.Observer = store.NopObserver{}
	}
	cfg, err := pgxpool.ParseConfig(opts.DSN)
	if err != nil {
		// pgx's parse error quotes the DSN with its password redacted.
		return nil, fmt.Errorf("store: postgres DSN: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	requireDurableCommits(cfg)
	// A server that cannot be reached is store.ErrUnavailable (unavailable.go).
	cfg.ConnConfig.DialFunc = unavailableDial(cfg.ConnConfig.DialFunc)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connect to postgres: %w", err)
	}
	if err := migrate(ctx, pool, migrations, opts.Logger); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	var o [8]byte
	if _, err := rand.Read(o[:]); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	s := &Store{pool: pool, log: opts.Logger, opts: opts, origin: int64(binary.LittleEndian.Uint64(o[:]) >> 1)}
	if err := s.startFeed(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	if opts.Maintenance {
		interval := opts.MaintenanceInterval
		if interval <= 0 {
			interval = DefaultMaintenanceInterval
		}
		mctx, cancel := context.WithCancel(context.Background())
		s.stopMaintenance, s.maintained = cancel, make(chan struct{})
		go s.maintain(mctx, interval)
	}
	return s, nil
}

// Close closes the connection pool, waiting for connections in use.
func (s *Store) Close() error {
	if s.stopMaintenance != nil {
		s.stopMaintenance()
		<-s.maintained
	}
	s.stopFeed()
	s.pool.Close()
	return nil
}

// SchemaVersion returns the number of migrations applied to the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, "SELECT version FROM mailroom_schema").Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// migrationLock is the key of the advisory lock held while migrating: the
// ASCII of "mailroom", so that other applications sharing the database do
// not pick it by chance.
const migrationLock int64 = 0x6d61696c726f6f6d

// migrate applies the migrations not yet applied, one transaction each.
// Each transaction first takes an advisory lock, so of two nodes starting at
// once one migrates while the other waits, then finds the work done. Only
// the transaction holds the lock: a node that dies mid-migration releases it
// with its connection, and its migration rolls back whole (PostgreSQL's DDL
// is transactional).
func migrate(ctx context.Context, pool *pgxpool.Pool, migrations []string, log *slog.Logger) error {
	for {
		done, err := migrateOne(ctx, pool, migrations, log)
		if err != nil || done {
			return err
		}
	}
}

func migrateOne(ctx context.Context, pool *pgxpool.Pool, migrations []string, log *slog.Logger) (done bool, err error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("migrate: begin: %w", err)
	}
	defer func() {
		if err != nil {
			// The transaction is already failed or the context gone:
			// rollback's own error adds nothing.
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
		return false, fmt.Errorf("migrate: lock: %w", err)
	}
	// Under the lock, so concurrent first starts do not race to create it.
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS mailroom_schema (
		version integer NOT NULL,
		one     boolean PRIMARY KEY DEFAULT true CHECK (one)
	)`); err != nil {
		return false, fmt.Errorf("migrate: create mailroom_schema: %w", err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO mailroom_schema (version) VALUES (0) ON CONFLICT DO NOTHING"); err != nil {
		return false, fmt.Errorf("migrate: init mailroom_schema: %w", err)
	}
	var version int
	if err := tx.QueryRow(ctx, "SELECT version FROM mailroom_schema").Scan(&version); err != nil {
		return false, fmt.Errorf("migrate: read schema version: %w", err)
	}
	if version > len(migrations) {
		return false, fmt.Errorf("database schema version %d is newer than this mailroom (%d): refusing to open; upgrade mailroom", version, len(migrations))
	}
	if version < len(migrations) {
		// Exec without arguments uses the simple protocol, which runs a
		// script of several statements.
		if _, err := tx.Exec(ctx, migrations[version]); err != nil {
			return false, fmt.Errorf("migration %d: %w", version+1, err)
		}
		if _, err := tx.Exec(ctx, "UPDATE mailroom_schema SET version = $1", version+1); err != nil {
			return false, fmt.Errorf("migration %d: record version: %w", version+1, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("migration %d: commit: %w", version+1, err)
	}
	if version < len(migrations) {
		log.Info("store: schema migrated", "version", version+1)
		return false, nil
	}
	return true, nil
}

// Ping implements store.Store: a round trip to the server on a pooled
// connection.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}
