package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/store/sqlitestore"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func openStore(t testing.TB, dsn string) *Store {
	t.Helper()
	st, err := Open(context.Background(), Options{DSN: dsn, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestOpenMigrates(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	st := openStore(t, dsn)
	v, err := st.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v != len(migrations) {
		t.Fatalf("schema version %d, want %d", v, len(migrations))
	}
	st.Close()
	// Opening again finds nothing to do and keeps the data.
	if _, err := connect(t, dsn).Exec(ctx, "INSERT INTO domains (name, created) VALUES ('example.org', 1)"); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, dsn)
	if v, err := st.SchemaVersion(ctx); err != nil || v != len(migrations) {
		t.Fatalf("reopened: version %d, %v", v, err)
	}
	var n int
	if err := st.pool.QueryRow(ctx, "SELECT count(*) FROM domains").Scan(&n); err != nil || n != 1 {
		t.Fatalf("domains after reopen: %d, %v", n, err)
	}
}

func TestOpenBadDSN(t *testing.T) {
	_, err := Open(context.Background(), Options{DSN: "postgres://u:secretpw@[::1/x"})
	if err == nil {
		t.Fatal("Open accepted a malformed DSN")
	}
	if strings.Contains(err.Error(), "secretpw") {
		t.Errorf("error shows the password: %v", err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	openStore(t, dsn).Close()
	if _, err := connect(t, dsn).Exec(ctx, "UPDATE mailroom_schema SET version = $1", len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	st, err := Open(ctx, Options{DSN: dsn})
	if err == nil {
		st.Close()
		t.Fatal("Open accepted a database from a newer mailroom")
	}
	want := fmt.Sprintf("database schema version %d is newer than this mailroom (%d)", len(migrations)+1, len(migrations))
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to say %q", err, want)
	}
}

// countingHandler counts the "schema migrated" log records of every node.
type countingHandler struct {
	slog.Handler
	mu       *sync.Mutex
	migrated *int
}

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "store: schema migrated" {
		h.mu.Lock()
		*h.migrated++
		h.mu.Unlock()
	}
	return nil
}

// Nodes starting at once on an empty database: every one opens, and each
// migration runs exactly once.
func TestConcurrentOpen(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	var mu sync.Mutex
	migrated := 0
	log := slog.New(countingHandler{Handler: slog.DiscardHandler, mu: &mu, migrated: &migrated})
	const nodes = 6
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	stores := make([]*Store, nodes)
	for i := range nodes {
		wg.Go(func() {
			stores[i], errs[i] = Open(ctx, Options{DSN: dsn, MaxConns: 2, Logger: log})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %d: %v", i, err)
			continue
		}
		stores[i].Close()
	}
	if migrated != len(migrations) {
		t.Errorf("%d migrations ran across %d nodes, want %d", migrated, nodes, len(migrations))
	}
	var v int
	if err := connect(t, dsn).QueryRow(ctx, "SELECT version FROM mailroom_schema").Scan(&v); err != nil || v != len(migrations) {
		t.Errorf("version %d, %v", v, err)
	}
}

// A failing migration rolls back whole, keeps the version of the last good
// one, and is retried at the next start.
func TestFailedMigrationRollsBack(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	log := slog.New(slog.DiscardHandler)
	steps := []string{
		"CREATE TABLE first (x int)",
		"CREATE TABLE half (x int); SELECT 1/0",
	}
	err = migrate(ctx, pool, steps, log)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "22012" || !strings.Contains(err.Error(), "migration 2") {
		t.Fatalf("migrate: %v, want migration 2 failing with division_by_zero", err)
	}
	var v int
	var half *string
	if err := pool.QueryRow(ctx, "SELECT version, to_regclass('half')::text FROM mailroom_schema").Scan(&v, &half); err != nil {
		t.Fatal(err)
	}
	if v != 1 || half != nil {
		t.Fatalf("after the failure: version %d, table half %v; want 1 and no table", v, half)
	}
	steps[1] = "CREATE TABLE half (x int)"
	if err := migrate(ctx, pool, steps, log); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, "SELECT version, to_regclass('half')::text FROM mailroom_schema").Scan(&v, &half); err != nil {
		t.Fatal(err)
	}
	if v != 2 || half == nil {
		t.Fatalf("after the retry: version %d, table half %v", v, half)
	}
}

// pgOnly are the tables that exist only on PostgreSQL: the schema version
// (PRAGMA user_version on SQLite) and the bodies that are files there.
var pgOnly = []string{"mailroom_schema", "blobs", "blob_chunks"}

// pgOnlyColumns are the columns that exist only on PostgreSQL: the
// transaction that wrote a change log row, for the change feed across
// nodes (feed.go); content_text's key, index state, grams and header
// fields, which SQLite keeps in content_indexed, content_grams and
// content_fields beside its FTS5 rows.
var pgOnlyColumns = map[string][]string{"changelog": {"xid"}, "content_text": {"content_id", "full_body", "text_format", "grams",
	"h_from", "h_to", "h_cc", "h_bcc", "h_subject"}}

// sqliteOnly are FTS5's shadow tables of SQLite's full-text index: the
// PostgreSQL index is content_text's own GIN indexes. (content_text's key
// is SQLite's rowid, PostgreSQL's content_id.)
var sqliteOnly = []string{"content_text_data", "content_text_idx", "content_text_content", "content_text_docsize", "content_text_config",
	"content_indexed", // SQLite keeps content_text.full_body and text_format apart, FTS5 rows being the whole text
	// The short grams: SQLite's FTS5 table content_grams is PostgreSQL's
	// column content_text.grams.
	"content_grams", "content_grams_data", "content_grams_idx", "content_grams_docsize", "content_grams_config",
	// SQLite indexes new text after the delivery (textpending.go);
	// PostgreSQL's GIN indexes take it in the delivery.
	"content_text_pending", "content_text_dead",
	// SQLite keeps the header fields apart from its FTS5 rows; PostgreSQL
	// has them in content_text.
	"content_fields",
	// SQLite's list of the contents its index cannot answer for.
	"content_unindexed"}

// The PostgreSQL schema has every table, column and named index of the
// SQLite schema, so both backends keep one data model.
func TestSchemaMatchesSQLite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lite, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	lite.Close()
	conn, err := sqlite.OpenConn(filepath.Join(dir, "mail.db"), sqlite.OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	want := map[string][]string{} // table → columns
	var indexes []string
	if err := sqlitex.ExecuteTransient(conn, `SELECT m.type, m.name, p.name FROM sqlite_master m
		LEFT JOIN pragma_table_info(m.name) p ON m.type = 'table'
		WHERE m.name NOT LIKE 'sqlite_%' AND m.type != 'trigger' AND (m.type = 'table' OR m.sql IS NOT NULL)`, &sqlitex.ExecOptions{
		ResultFunc: func(st *sqlite.Stmt) error {
			if st.ColumnText(0) == "index" {
				indexes = append(indexes, st.ColumnText(1))
			} else {
				want[st.ColumnText(1)] = append(want[st.ColumnText(1)], st.ColumnText(2))
			}
			return nil
		},
	}); err != nil {
		t.Fatal(err)
	}
	if len(want) < 20 || len(indexes) < 5 {
		t.Fatalf("read only %d tables and %d indexes from SQLite", len(want), len(indexes))
	}

	pg := openStore(t, pgtest.NewDatabase(t))
	got := map[string][]string{}
	rows, err := pg.pool.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = 'public'`)
	if err != nil {
		t.Fatal(err)
	}
	var table, column string
	if _, err := pgx.ForEachRow(rows, []any{&table, &column}, func() error {
		got[table] = append(got[table], column)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for table, cols := range want {
		if slices.Contains(sqliteOnly, table) {
			continue
		}
		if got[table] == nil {
			t.Errorf("table %s missing on PostgreSQL", table)
			continue
		}
		cols = append(slices.Clone(cols), pgOnlyColumns[table]...)
		slices.Sort(cols)
		slices.Sort(got[table])
		if !slices.Equal(cols, got[table]) {
			t.Errorf("table %s: SQLite columns %v, PostgreSQL %v", table, cols, got[table])
		}
	}
	for table := range got {
		if want[table] == nil && !slices.Contains(pgOnly, table) {
			t.Errorf("table %s exists only on PostgreSQL", table)
		}
	}
	for _, ix := range indexes {
		var n int
		if err := pg.pool.QueryRow(ctx, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND indexname = $1", ix).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("index %s missing on PostgreSQL", ix)
		}
	}
}

// The constraints the Go code relies on hold.
func TestSchemaConstraints(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.NewDatabase(t))
	exec := func(sql string, args ...any) error {
		_, err := st.pool.Exec(ctx, sql, args...)
		return err
	}
	code := func(err error) string {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			return pgErr.Code
		}
		return fmt.Sprint(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(exec("INSERT INTO domains (name, created) VALUES ('example.org', 1)"))
	if c := code(exec("INSERT INTO domains (name, created) VALUES ('example.org', 2)")); c != "23505" {
		t.Errorf("duplicate domain: %s, want unique_violation", c)
	}
	if c := code(exec("INSERT INTO accounts (email, domain_id, argon2id, scram_sha256, next_uidvalidity, created) VALUES ('a@x.org', 999, '', '', 1, 1)")); c != "23503" {
		t.Errorf("account in no domain: %s, want foreign_key_violation", c)
	}
	var acct int64
	must(st.pool.QueryRow(ctx, `INSERT INTO accounts (email, domain_id, argon2id, scram_sha256, next_uidvalidity, created)
		SELECT 'a@example.org', id, 'h', '', 1, 1 FROM domains RETURNING id`).Scan(&acct))
	must(exec("INSERT INTO account_settings (account_id, key, value) VALUES ($1, 'admin', 'true')", acct))
	var mb1, mb2 int64
	must(st.pool.QueryRow(ctx, "INSERT INTO mailboxes (account_id, name, uidvalidity) VALUES ($1, 'INBOX', 1) RETURNING id", acct).Scan(&mb1))
	if c := code(exec("INSERT INTO mailboxes (account_id, name, uidvalidity) VALUES ($1, 'INBOX', 2)", acct)); c != "23505" {
		t.Errorf("duplicate mailbox name: %s, want unique_violation", c)
	}
	// A mailbox id is never reused, even after the newest is deleted.
	must(exec("DELETE FROM mailboxes WHERE id = $1", mb1))
	must(st.pool.QueryRow(ctx, "INSERT INTO mailboxes (account_id, name, uidvalidity) VALUES ($1, 'INBOX', 3) RETURNING id", acct).Scan(&mb2))
	if mb2 <= mb1 {
		t.Errorf("mailbox id %d reused after deleting %d", mb2, mb1)
	}
	// Deleting an account takes its settings and mailboxes with it.
	must(exec("DELETE FROM accounts WHERE id = $1", acct))
	var left int
	must(st.pool.QueryRow(ctx, "SELECT (SELECT count(*) FROM account_settings) + (SELECT count(*) FROM mailboxes)").Scan(&left))
	if left != 0 {
		t.Errorf("%d settings and mailboxes outlived their account", left)
	}
	// A blob's chunks go with it, and chunk numbers are not negative.
	var blob int64
	must(st.pool.QueryRow(ctx, "INSERT INTO blobs (created, chunk_size) VALUES (1, 2) RETURNING id").Scan(&blob))
	must(exec("INSERT INTO blob_chunks (blob_id, seq, data) VALUES ($1, 0, 'ab'), ($1, 1, 'cd')", blob))
	if c := code(exec("INSERT INTO blob_chunks (blob_id, seq, data) VALUES ($1, -1, 'x')", blob)); c != "23514" {
		t.Errorf("negative chunk number: %s, want check_violation", c)
	}
	must(exec("DELETE FROM blobs WHERE id = $1", blob))
	must(st.pool.QueryRow(ctx, "SELECT count(*) FROM blob_chunks").Scan(&left))
	if left != 0 {
		t.Errorf("%d chunks outlived their blob", left)
	}
	// Text sorts bytewise, as on SQLite, whatever the cluster's locale.
	must(exec("INSERT INTO domains (name, created) VALUES ('b.example', 1), ('B.example', 1), ('a.example', 1)"))
	rows, err := st.pool.Query(ctx, "SELECT name FROM domains ORDER BY name")
	must(err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	must(err)
	if want := []string{"B.example", "a.example", "b.example", "example.org"}; !slices.Equal(names, want) {
		t.Errorf("domains sorted %v, want %v", names, want)
	}
}

// A database that is not there fails Open promptly with the operation
// that failed, rather than hanging.
func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err := Open(ctx, Options{DSN: "host=" + t.TempDir() + " dbname=mailroom connect_timeout=5"})
	if err == nil {
		t.Fatal("Open succeeded without a server")
	}
	if !strings.Contains(err.Error(), "store: migrate: begin") {
		t.Errorf("error %q does not say what failed", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Open took %v to fail", d)
	}
}
