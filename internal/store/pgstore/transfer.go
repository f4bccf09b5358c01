package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"mailroom/internal/store"
	"mailroom/internal/store/blob"
)

// Transfer is the database seen as tables of rows and a set of bodies, for
// `mailroom store copy` (package storecopy): read as the source of a copy,
// or filled as its destination. Rows move as they are (ids, UIDs, MODSEQs,
// the change log), which replaying operations through the Store would not
// keep.
//
// Values are backend-neutral, as on sqlitestore.Transfer: int64, float64,
// string, []byte or nil. Booleans read as 0 and 1, as SQLite keeps them.
type Transfer struct {
	pool *pgxpool.Pool
	q    transferQuerier // the snapshot or the filling transaction, else the pool
	conn *pgxpool.Conn   // holding the source's snapshot
	tx   pgx.Tx
	// write: the destination; inTx: its transaction is open.
	write, inTx, closed bool
	buf                 []byte // one chunk of the body being written

	cols     map[string][]pgColumn
	identity map[string]string // table → its identity column
}

type transferQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type pgColumn struct {
	name, typ string // information_schema's data_type
}

// transferSkip lists the tables a copy leaves out, with why; every other
// table is copied, so tables added by later migrations need no change here
// (TestTransferTables checks that these still exist).
var transferSkip = map[string]string{
	"mailroom_schema": "this backend's migration counter",
	"blobs":           "bodies: copied through the blob column of contents, whatever the destination keeps them in",
	"blob_chunks":     "bodies: as blobs",
	"blob_trash":      "references awaiting removal from an outside blob store; a copy copies live bodies only",
	"leases":          "locks of running sessions (POP3's maildrop): the copy runs with every server stopped, so none is held",
	"content_text":    "the full-text index: derived from the bodies, rebuilt by mailroom reindex",
}

// transferSkipColumns lists columns only this backend has.
var transferSkipColumns = map[string][]string{
	"changelog": {"xid"}, // the writing transaction, for the feed across nodes: the copy's own on the destination
}

// OpenTransfer connects to the database. For reading (write false) the
// schema is not migrated and must be this binary's, and everything is read
// in one REPEATABLE READ READ ONLY transaction, so a copy sees one point
// in time. For writing the schema is created or migrated first, like any
// Open.
func OpenTransfer(ctx context.Context, dsn string, write bool) (*Transfer, error) {
	t := &Transfer{write: write}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse error quotes the DSN with its password redacted.
		return nil, fmt.Errorf("store: postgres DSN: %w", err)
	}
	cfg.MaxConns = 4
	requireDurableCommits(cfg)
	if t.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("store: connect to postgres: %w", err)
	}
	t.q = t.pool
	if write {
		// The schema as Open makes it, without the rest of a running
		// store (the change feed's listening connection).
		if err := migrate(ctx, t.pool, migrations, slog.New(slog.DiscardHandler)); err != nil {
			t.pool.Close()
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	if err := t.init(ctx); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

func (t *Transfer) init(ctx context.Context) error {
	if !t.write {
		var version int
		err := t.pool.QueryRow(ctx, "SELECT version FROM mailroom_schema").Scan(&version)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
			return errors.New("store: the database holds no mailroom store (no mailroom_schema table)")
		}
		if err != nil {
			return fmt.Errorf("store: read schema version: %w", err)
		}
		switch {
		case version > len(migrations):
			return fmt.Errorf("store: schema version %d is newer than this mailroom's (%d): use the mailroom that wrote it", version, len(migrations))
		case version < len(migrations):
			return fmt.Errorf("store: schema version %d is older than this mailroom's (%d): run any mailroom command on it once (e.g. mailroom user list) to upgrade it first", version, len(migrations))
		}
		if t.conn, err = t.pool.Acquire(ctx); err != nil {
			return fmt.Errorf("store: connect: %w", err)
		}
		if t.tx, err = t.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}); err != nil {
			return fmt.Errorf("store: begin: %w", err)
		}
		t.q, t.inTx = t.tx, true
	}
	return t.loadSchema(ctx)
}

func (t *Transfer) loadSchema(ctx context.Context) error {
	t.cols = map[string][]pgColumn{}
	t.identity = map[string]string{}
	rows, err := t.q.Query(ctx, `SELECT c.table_name, c.column_name, c.data_type, c.is_identity = 'YES'
		FROM information_schema.columns c JOIN information_schema.tables t
			ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
		WHERE c.table_schema = current_schema() ORDER BY c.table_name, c.ordinal_position`)
	if err != nil {
		return fmt.Errorf("store: read schema: %w", err)
	}
	var table, column, typ string
	var identity bool
	_, err = pgx.ForEachRow(rows, []any{&table, &column, &typ, &identity}, func() error {
		if _, skip := transferSkip[table]; skip {
			return nil
		}
		for _, c := range transferSkipColumns[table] {
			if c == column {
				return nil
			}
		}
		t.cols[table] = append(t.cols[table], pgColumn{name: column, typ: typ})
		if identity {
			t.identity[table] = column
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: read schema: %w", err)
	}
	return nil
}

// Tables returns the tables a copy copies, each after the tables its
// foreign keys reference.
func (t *Transfer) Tables(ctx context.Context) ([]string, error) {
	rows, err := t.q.Query(ctx, `SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint
		WHERE contype = 'f' AND connamespace = current_schema()::regnamespace`)
	if err != nil {
		return nil, fmt.Errorf("store: read foreign keys: %w", err)
	}
	refs := map[string][]string{}
	var from, to string
	if _, err := pgx.ForEachRow(rows, []any{&from, &to}, func() error {
		refs[from] = append(refs[from], to)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("store: read foreign keys: %w", err)
	}
	tables := make([]string, 0, len(t.cols))
	for name := range t.cols {
		tables = append(tables, name)
	}
	order, err := store.TableOrder(tables, refs)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return order, nil
}

// Columns returns a table's columns in their declared order.
func (t *Transfer) Columns(ctx context.Context, table string) ([]string, error) {
	cols, ok := t.cols[table]
	if !ok {
		return nil, fmt.Errorf("store: no table %q to copy", table)
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return names, nil
}

func (t *Transfer) columns(table string, names []string) ([]pgColumn, error) {
	out := make([]pgColumn, len(names))
	for i, name := range names {
		found := false
		for _, c := range t.cols[table] {
			if c.name == name {
				out[i], found = c, true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("store: table %s has no column %q to copy", table, name)
		}
	}
	return out, nil
}

// Count returns the number of rows of a table.
func (t *Transfer) Count(ctx context.Context, table string) (int64, error) {
	if _, ok := t.cols[table]; !ok {
		return 0, fmt.Errorf("store: no table %q to copy", table)
	}
	var n int64
	if err := t.q.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count %s: %w", table, err)
	}
	return n, nil
}

// Rows calls fn with each row of table (the named columns, in that order)
// in primary key order, text compared bytewise (COLLATE "C") as SQLite
// does. fn must not keep row: it is reused.
func (t *Transfer) Rows(ctx context.Context, table string, columns []string, fn func(row []any) error) error {
	cols, err := t.columns(table, columns)
	if err != nil {
		return err
	}
	krows, err := t.q.Query(ctx, `SELECT k.column_name FROM information_schema.table_constraints c
		JOIN information_schema.key_column_usage k ON k.constraint_schema = c.constraint_schema
			AND k.constraint_name = c.constraint_name AND k.table_name = c.table_name
		WHERE c.table_schema = current_schema() AND c.table_name = $1 AND c.constraint_type = 'PRIMARY KEY'
		ORDER BY k.ordinal_position`, table)
	if err != nil {
		return fmt.Errorf("store: read primary key of %s: %w", table, err)
	}
	keyNames, err := pgx.CollectRows(krows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("store: read primary key of %s: %w", table, err)
	}
	key := t.cols[table] // no primary key: every column decides
	if len(keyNames) > 0 {
		if key, err = t.columns(table, keyNames); err != nil {
			return err
		}
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = pgx.Identifier{c.name}.Sanitize()
	}
	order := make([]string, len(key))
	for i, c := range key {
		order[i] = pgx.Identifier{c.name}.Sanitize()
		if c.typ == "text" || strings.HasPrefix(c.typ, "character") {
			order[i] += ` COLLATE "C"`
		}
	}
	rows, err := t.q.Query(ctx, "SELECT "+strings.Join(quoted, ", ")+" FROM "+pgx.Identifier{table}.Sanitize()+
		" ORDER BY "+strings.Join(order, ", "))
	if err != nil {
		return fmt.Errorf("store: read %s: %w", table, err)
	}
	defer rows.Close()
	row := make([]any, len(cols))
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return fmt.Errorf("store: read %s: %w", table, err)
		}
		for i, v := range vals {
			if row[i], err = neutral(v); err != nil {
				return fmt.Errorf("store: read %s.%s: %w", table, cols[i].name, err)
			}
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: read %s: %w", table, err)
	}
	return nil
}

// neutral converts a value as pgx decodes it to the copy's types.
func neutral(v any) (any, error) {
	switch v := v.(type) {
	case nil, int64, float64, string, []byte:
		return v, nil
	case int32:
		return int64(v), nil
	case int16:
		return int64(v), nil
	case float32:
		return float64(v), nil
	case bool:
		if v {
			return int64(1), nil
		}
		return int64(0), nil
	}
	return nil, fmt.Errorf("value of type %T has no counterpart on SQLite", v)
}

// Sequences returns, per table with an identity column, the highest value
// its sequence handed out (0: none yet).
func (t *Transfer) Sequences(ctx context.Context) (map[string]int64, error) {
	seqs := map[string]int64{}
	for table, column := range t.identity {
		var seq *string
		if err := t.q.QueryRow(ctx, "SELECT pg_get_serial_sequence(quote_ident($1), $2)", table, column).Scan(&seq); err != nil {
			return nil, fmt.Errorf("store: find the sequence of %s.%s: %w", table, column, err)
		}
		if seq == nil {
			continue
		}
		// seq is the catalog's own, quoted, name.
		var v int64
		var called bool
		if err := t.q.QueryRow(ctx, "SELECT last_value, is_called FROM "+*seq).Scan(&v, &called); err != nil {
			return nil, fmt.Errorf("store: read the sequence of %s.%s: %w", table, column, err)
		}
		if !called {
			v = 0
		}
		seqs[table] = v
	}
	return seqs, nil
}

// OpenBody opens the body a contents row's blob column names.
func (t *Transfer) OpenBody(ctx context.Context, ref string) (blob.Reader, error) {
	return (&Blobs{pool: t.pool, chunkSize: chunkSize}).Open(ctx, ref)
}

// Begin starts the transaction that fills the (empty) destination.
func (t *Transfer) Begin(ctx context.Context) error {
	if !t.write {
		return errors.New("store: transfer opened read-only")
	}
	if t.inTx {
		return errors.New("store: transfer already in a transaction")
	}
	tx, err := t.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	t.tx, t.q, t.inTx = tx, tx, true
	return nil
}

// Write inserts rows into table (COPY), in Begin's transaction.
func (t *Transfer) Write(ctx context.Context, table string, columns []string, rows [][]any) error {
	if !t.write || !t.inTx {
		return errors.New("store: write outside a transfer's transaction")
	}
	cols, err := t.columns(table, columns)
	if err != nil {
		return err
	}
	for _, row := range rows {
		if len(row) != len(cols) {
			return fmt.Errorf("store: write %s: %d values for %d columns", table, len(row), len(cols))
		}
		for i, c := range cols {
			if c.typ != "boolean" || row[i] == nil {
				continue
			}
			n, ok := row[i].(int64)
			if !ok || (n != 0 && n != 1) {
				return fmt.Errorf("store: write %s.%s: %v is not a boolean", table, c.name, row[i])
			}
			row[i] = n == 1
		}
	}
	if _, err := t.tx.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("store: write %s: %w", table, err)
	}
	return nil
}

// PutBody stores a body read from r as a blob, in Begin's transaction (so
// a copy that fails leaves no body behind), a chunk at a time.
func (t *Transfer) PutBody(ctx context.Context, r io.Reader) (string, error) {
	if !t.write || !t.inTx {
		return "", errors.New("store: write outside a transfer's transaction")
	}
	var id int64
	if err := t.tx.QueryRow(ctx, `INSERT INTO blobs (chunk_size, created) VALUES ($1, extract(epoch FROM now())::bigint) RETURNING id`,
		chunkSize).Scan(&id); err != nil {
		return "", fmt.Errorf("store: write body: %w", err)
	}
	if t.buf == nil {
		t.buf = make([]byte, chunkSize)
	}
	var size int64
	for seq := int32(0); ; seq++ {
		n, err := io.ReadFull(r, t.buf)
		if n > 0 {
			if _, err := t.tx.Exec(ctx, "INSERT INTO blob_chunks (blob_id, seq, data) VALUES ($1, $2, $3)", id, seq, t.buf[:n]); err != nil {
				return "", fmt.Errorf("store: write body %s: %w", formatRef(id), err)
			}
			size += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("store: write body %s: %w", formatRef(id), err)
		}
	}
	if _, err := t.tx.Exec(ctx, "UPDATE blobs SET size = $2, complete = true WHERE id = $1", id, size); err != nil {
		return "", fmt.Errorf("store: write body %s: %w", formatRef(id), err)
	}
	return formatRef(id), nil
}

// SetSequences sets each identity column's sequence past both seqs[table]
// (what the source handed out, deleted rows included, so that their ids
// are not handed out again) and the highest id copied.
func (t *Transfer) SetSequences(ctx context.Context, seqs map[string]int64) error {
	if !t.write || !t.inTx {
		return errors.New("store: write outside a transfer's transaction")
	}
	for table, column := range t.identity {
		col := pgx.Identifier{column}.Sanitize()
		_, err := t.tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence(quote_ident($1), $2), v, true)
			FROM (SELECT greatest($3::bigint, (SELECT max(`+col+`) FROM `+pgx.Identifier{table}.Sanitize()+`)) AS v) m
			WHERE v > 0`, table, column, seqs[table])
		if err != nil {
			return fmt.Errorf("store: set the sequence of %s.%s: %w", table, column, err)
		}
	}
	return nil
}

// Commit commits Begin's transaction.
func (t *Transfer) Commit(ctx context.Context) error {
	if !t.write || !t.inTx {
		return errors.New("store: commit outside a transfer's transaction")
	}
	t.inTx, t.q = false, t.pool
	if err := t.tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// Rollback abandons Begin's transaction, bodies included.
func (t *Transfer) Rollback() error {
	if !t.inTx {
		return nil
	}
	t.inTx, t.q = false, t.pool
	if err := t.tx.Rollback(context.Background()); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("store: rollback: %w", err)
	}
	return nil
}

// Close ends the transfer (rolling back a transaction not committed).
func (t *Transfer) Close() error {
	if t.closed {
		return nil
	}
	t.closed = true
	var err error
	if t.tx != nil {
		err = t.Rollback()
	}
	if t.conn != nil {
		t.conn.Release()
	}
	t.pool.Close()
	return err
}
