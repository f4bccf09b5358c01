package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"mailroom/internal/store"
	"mailroom/internal/store/blob"
	"mailroom/internal/store/blobfs"
)

// Transfer is a whole installation seen as tables of rows and a set of
// bodies, for `mailroom store copy` (package storecopy): read as the
// source of a copy, or filled as its destination. It bypasses the Store
// and its writer on purpose: a copy moves rows as they are (ids, UIDs,
// MODSEQs, the change log) instead of replaying operations, which would
// hand out new ones.
//
// Values are backend-neutral: int64, float64, string, []byte or nil,
// converted by the column's declared type, so that the same row reads the
// same from SQLite and from PostgreSQL.
type Transfer struct {
	dir    string
	conn   *sqlite.Conn
	blobs  *blobfs.FS
	write  bool
	inTx   bool
	shards map[string]bool // blob directories written in the transaction, fsynced before it commits
	refs   []string        // bodies written in the transaction, removed if it rolls back

	cols    map[string][]transferColumn
	autoinc map[string]bool
}

type transferColumn struct {
	name string
	kind byte // 'i' integer, 'f' real, 's' text, 'b' blob (SQLite's type affinity)
	pk   int  // position in the primary key from 1; 0: not in it
}

// transferSkip lists the tables a copy leaves out, with why. Every other
// table is copied, so tables added by later migrations need no change
// here (TestTransferTables checks that these still exist).
var transferSkip = map[string]string{
	"blob_trash": "names body files of this data directory awaiting removal; a copy copies live bodies only",
	"leases":     "locks of running sessions (POP3's maildrop): the copy runs with every server stopped, so none is held",
	// The full-text index and FTS5's shadow tables: derived data in a
	// backend-specific form, rebuilt on the destination by mailroom reindex.
	"content_text":          textIndexSkip,
	"content_text_data":     textIndexSkip,
	"content_text_idx":      textIndexSkip,
	"content_text_content":  textIndexSkip,
	"content_text_docsize":  textIndexSkip,
	"content_text_config":   textIndexSkip,
	"content_indexed":       textIndexSkip,
	"content_grams":         textIndexSkip,
	"content_grams_data":    textIndexSkip,
	"content_grams_idx":     textIndexSkip,
	"content_grams_docsize": textIndexSkip,
	"content_grams_config":  textIndexSkip,
	"content_text_pending":  textIndexSkip,
	"content_text_dead":     textIndexSkip,
	"content_fields":        textIndexSkip,
	"content_unindexed":     textIndexSkip,
}

const textIndexSkip = "the full-text index: derived from the bodies, rebuilt by mailroom reindex"

// OpenTransfer opens the installation in dir. For reading (write false)
// mail.db is opened read-only, never migrated, and must exist; everything
// is read in one transaction, so a copy sees one point in time. For
// writing the store is created or migrated first, like any Open.
func OpenTransfer(ctx context.Context, dir string, write bool) (*Transfer, error) {
	path := filepath.Join(dir, "mail.db")
	flags := sqlite.OpenReadOnly | sqlite.OpenWAL
	if write {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		flags = sqlite.OpenReadWrite | sqlite.OpenCreate | sqlite.OpenWAL
	} else if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	conn, err := sqlite.OpenConn(path, flags)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	t := &Transfer{dir: dir, conn: conn, write: write}
	if err := t.init(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return t, nil
}

func (t *Transfer) init(ctx context.Context) error {
	if t.write {
		// The schema as Open makes it, without the rest of a running
		// store (its writer, its polling of the change log).
		if err := prepareConn(t.conn, 32<<10); err != nil { // one connection: a bulk copy, alone in its process
			return err
		}
		if err := migrate(t.conn); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	var version int
	if err := sqlitex.ExecuteTransient(t.conn, "PRAGMA user_version", &sqlitex.ExecOptions{
		ResultFunc: func(stmt *sqlite.Stmt) error { version = stmt.ColumnInt(0); return nil },
	}); err != nil {
		return fmt.Errorf("store: read schema version: %w", err)
	}
	switch {
	case version > len(migrations):
		return fmt.Errorf("store: %s: schema version %d is newer than this mailroom's (%d): use the mailroom that wrote it", t.dir, version, len(migrations))
	case version < len(migrations):
		return fmt.Errorf("store: %s: schema version %d is older than this mailroom's (%d): run any mailroom command on it once (e.g. mailroom user list) to upgrade it first", t.dir, version, len(migrations))
	}
	// Every store has its blobs directory already (Open makes it), so
	// this creates nothing in a source.
	blobs, err := blobfs.Open(filepath.Join(t.dir, "blobs"), blobfs.Options{})
	if err != nil {
		return err
	}
	t.blobs = blobs
	if !t.write {
		// One read transaction for the whole copy: a consistent snapshot
		// (WAL readers see the database as of their first read).
		if err := sqlitex.ExecuteTransient(t.conn, "BEGIN", nil); err != nil {
			return fmt.Errorf("store: begin: %w", err)
		}
		t.inTx = true
	}
	return t.loadSchema()
}

// loadSchema reads the tables, their columns and which have AUTOINCREMENT.
func (t *Transfer) loadSchema() error {
	t.cols = map[string][]transferColumn{}
	t.autoinc = map[string]bool{}
	var tables []string
	err := sqlitex.ExecuteTransient(t.conn, "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'", &sqlitex.ExecOptions{
		ResultFunc: func(stmt *sqlite.Stmt) error {
			name := stmt.ColumnText(0)
			if _, skip := transferSkip[name]; !skip {
				tables = append(tables, name)
			}
			if strings.Contains(strings.ToUpper(stmt.ColumnText(1)), "AUTOINCREMENT") {
				t.autoinc[name] = true
			}
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("store: read schema: %w", err)
	}
	for _, name := range tables {
		var cols []transferColumn
		err := sqlitex.ExecuteTransient(t.conn, "SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid", &sqlitex.ExecOptions{
			Args: []any{name},
			ResultFunc: func(stmt *sqlite.Stmt) error {
				cols = append(cols, transferColumn{name: stmt.ColumnText(0), kind: affinity(stmt.ColumnText(1)), pk: stmt.ColumnInt(2)})
				return nil
			},
		})
		if err != nil {
			return fmt.Errorf("store: read columns of %s: %w", name, err)
		}
		t.cols[name] = cols
	}
	return nil
}

// affinity is SQLite's rule for a declared column type (datatype3.html 3.1).
func affinity(decl string) byte {
	d := strings.ToUpper(decl)
	switch {
	case strings.Contains(d, "INT"):
		return 'i'
	case strings.Contains(d, "CHAR"), strings.Contains(d, "CLOB"), strings.Contains(d, "TEXT"):
		return 's'
	case d == "", strings.Contains(d, "BLOB"):
		return 'b'
	default:
		return 'f' // REAL, FLOA, DOUB and NUMERIC
	}
}

// Tables returns the tables a copy copies, each after the tables its
// foreign keys reference.
func (t *Transfer) Tables(ctx context.Context) ([]string, error) {
	refs := map[string][]string{}
	var tables []string
	for name := range t.cols {
		tables = append(tables, name)
		err := sqlitex.ExecuteTransient(t.conn, `SELECT "table" FROM pragma_foreign_key_list(?)`, &sqlitex.ExecOptions{
			Args:       []any{name},
			ResultFunc: func(stmt *sqlite.Stmt) error { refs[name] = append(refs[name], stmt.ColumnText(0)); return nil },
		})
		if err != nil {
			return nil, fmt.Errorf("store: read foreign keys of %s: %w", name, err)
		}
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

func (t *Transfer) column(table, name string) (transferColumn, error) {
	for _, c := range t.cols[table] {
		if c.name == name {
			return c, nil
		}
	}
	return transferColumn{}, fmt.Errorf("store: table %s has no column %q", table, name)
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Count returns the number of rows of a table.
func (t *Transfer) Count(ctx context.Context, table string) (int64, error) {
	if _, ok := t.cols[table]; !ok {
		return 0, fmt.Errorf("store: no table %q to copy", table)
	}
	defer t.conn.SetInterrupt(t.conn.SetInterrupt(ctx.Done()))
	var n int64
	err := sqlitex.ExecuteTransient(t.conn, "SELECT count(*) FROM "+quoteIdent(table), &sqlitex.ExecOptions{
		ResultFunc: func(stmt *sqlite.Stmt) error { n = stmt.ColumnInt64(0); return nil },
	})
	if err != nil {
		return 0, fmt.Errorf("store: count %s: %w", table, interrupted(ctx, err))
	}
	return n, nil
}

// Rows calls fn with each row of table (the named columns, in that order)
// in primary key order, bytewise for text, the order PostgreSQL's Transfer
// uses too. fn must not keep row: it is reused.
func (t *Transfer) Rows(ctx context.Context, table string, columns []string, fn func(row []any) error) (err error) {
	cols := make([]transferColumn, len(columns))
	quoted := make([]string, len(columns))
	for i, name := range columns {
		if cols[i], err = t.column(table, name); err != nil {
			return err
		}
		quoted[i] = quoteIdent(name)
	}
	var key []transferColumn
	for _, c := range t.cols[table] {
		if c.pk > 0 {
			key = append(key, c)
		}
	}
	slices.SortFunc(key, func(a, b transferColumn) int { return a.pk - b.pk })
	if len(key) == 0 {
		key = t.cols[table] // no primary key: every column decides
	}
	order := make([]string, len(key))
	for i, c := range key {
		order[i] = quoteIdent(c.name) + " COLLATE BINARY"
	}
	query := "SELECT " + strings.Join(quoted, ", ") + " FROM " + quoteIdent(table) + " ORDER BY " + strings.Join(order, ", ")
	defer t.conn.SetInterrupt(t.conn.SetInterrupt(ctx.Done()))
	stmt, _, err := t.conn.PrepareTransient(query)
	if err != nil {
		return fmt.Errorf("store: read %s: %w", table, interrupted(ctx, err))
	}
	defer stmt.Finalize()
	row := make([]any, len(cols))
	for {
		ok, err := stmt.Step()
		if err != nil {
			return fmt.Errorf("store: read %s: %w", table, interrupted(ctx, err))
		}
		if !ok {
			return nil
		}
		for i, c := range cols {
			row[i] = columnValue(stmt, i, c.kind)
		}
		if err := fn(row); err != nil {
			return err
		}
	}
}

// columnValue reads a value as its storage class says, text and blobs
// then as the column's affinity says (SQLite lets a BLOB column hold text).
func columnValue(stmt *sqlite.Stmt, i int, kind byte) any {
	switch stmt.ColumnType(i) {
	case sqlite.TypeNull:
		return nil
	case sqlite.TypeInteger:
		return stmt.ColumnInt64(i)
	case sqlite.TypeFloat:
		return stmt.ColumnFloat(i)
	}
	b := make([]byte, stmt.ColumnLen(i))
	stmt.ColumnBytes(i, b)
	if kind == 'b' {
		return b
	}
	return string(b)
}

// interrupted is err, or the context's error where the context's end
// interrupted the statement (SQLite reports only "interrupted").
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Sequences returns, per table with AUTOINCREMENT, the highest id it ever
// handed out (which may exceed the highest id left: ids are never reused).
func (t *Transfer) Sequences(ctx context.Context) (map[string]int64, error) {
	seqs := map[string]int64{}
	err := sqlitex.ExecuteTransient(t.conn, "SELECT name, seq FROM sqlite_sequence", &sqlitex.ExecOptions{
		ResultFunc: func(stmt *sqlite.Stmt) error {
			if _, ok := t.cols[stmt.ColumnText(0)]; ok {
				seqs[stmt.ColumnText(0)] = stmt.ColumnInt64(1)
			}
			return nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("store: read sequences: %w", err)
	}
	return seqs, nil
}

// OpenBody opens the body a contents row's blob column names.
func (t *Transfer) OpenBody(ctx context.Context, ref string) (blob.Reader, error) {
	return t.blobs.Blobs().Open(ctx, ref)
}

// Begin starts the transaction that fills the (empty) destination.
func (t *Transfer) Begin(ctx context.Context) error {
	if !t.write {
		return errors.New("store: transfer opened read-only")
	}
	if t.inTx {
		return errors.New("store: transfer already in a transaction")
	}
	if err := sqlitex.ExecuteTransient(t.conn, "BEGIN IMMEDIATE", nil); err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	t.inTx, t.shards, t.refs = true, map[string]bool{}, nil
	return nil
}

// Write inserts rows into table, in Begin's transaction.
func (t *Transfer) Write(ctx context.Context, table string, columns []string, rows [][]any) error {
	if !t.write || !t.inTx {
		return errors.New("store: write outside a transfer's transaction")
	}
	quoted := make([]string, len(columns))
	for i, name := range columns {
		if _, err := t.column(table, name); err != nil {
			return err
		}
		quoted[i] = quoteIdent(name)
	}
	defer t.conn.SetInterrupt(t.conn.SetInterrupt(ctx.Done()))
	stmt, err := t.conn.Prepare("INSERT INTO " + quoteIdent(table) + " (" + strings.Join(quoted, ", ") +
		") VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", len(columns)), ", ") + ")")
	if err != nil {
		return fmt.Errorf("store: write %s: %w", table, interrupted(ctx, err))
	}
	for _, row := range rows {
		if len(row) != len(columns) {
			return fmt.Errorf("store: write %s: %d values for %d columns", table, len(row), len(columns))
		}
		for i, v := range row {
			switch v := v.(type) {
			case nil:
				stmt.BindNull(i + 1)
			case int64:
				stmt.BindInt64(i+1, v)
			case float64:
				stmt.BindFloat(i+1, v)
			case string:
				stmt.BindText(i+1, v)
			case []byte:
				stmt.BindBytes(i+1, v)
			default:
				stmt.ClearBindings()
				return fmt.Errorf("store: write %s: value of type %T in column %s", table, v, columns[i])
			}
		}
		_, err := stmt.Step()
		stmt.Reset()
		stmt.ClearBindings()
		if err != nil {
			return fmt.Errorf("store: write %s: %w", table, interrupted(ctx, err))
		}
	}
	return nil
}

// PutBody stores a body read from r as a file and returns its reference
// for the blob column. The file is durable before Commit commits.
func (t *Transfer) PutBody(ctx context.Context, r io.Reader) (string, error) {
	if !t.write || !t.inTx {
		return "", errors.New("store: write outside a transfer's transaction")
	}
	w, err := t.blobs.Create()
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Abort()
		return "", fmt.Errorf("store: write body: %w", err)
	}
	ref, err := w.Commit()
	if err != nil {
		return "", err
	}
	t.refs = append(t.refs, ref)
	t.shards[blobfs.Dir(ref)] = true
	return ref, nil
}

// SetSequences makes each AUTOINCREMENT table's counter at least seqs[table],
// so that ids the source handed out and deleted are not handed out again.
// Tables without AUTOINCREMENT have no counter to set on SQLite.
func (t *Transfer) SetSequences(ctx context.Context, seqs map[string]int64) error {
	for table, v := range seqs {
		if !t.autoinc[table] || v <= 0 {
			continue
		}
		if err := sqlitex.Execute(t.conn, "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", &sqlitex.ExecOptions{Args: []any{v, table}}); err != nil {
			return fmt.Errorf("store: set sequence of %s: %w", table, err)
		}
		if t.conn.Changes() == 0 {
			if err := sqlitex.Execute(t.conn, "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", &sqlitex.ExecOptions{Args: []any{table, v}}); err != nil {
				return fmt.Errorf("store: set sequence of %s: %w", table, err)
			}
		}
	}
	return nil
}

// Commit makes the bodies' directories durable, then commits the rows.
func (t *Transfer) Commit(ctx context.Context) error {
	if !t.write || !t.inTx {
		return errors.New("store: commit outside a transfer's transaction")
	}
	for shard := range t.shards {
		if err := t.blobs.SyncDir(shard); err != nil {
			return err
		}
	}
	if err := sqlitex.ExecuteTransient(t.conn, "COMMIT", nil); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	t.inTx, t.refs = false, nil
	return nil
}

// Rollback abandons Begin's transaction and removes the bodies it wrote.
func (t *Transfer) Rollback() error {
	if !t.write || !t.inTx {
		return nil
	}
	t.inTx = false
	err := sqlitex.ExecuteTransient(t.conn, "ROLLBACK", nil)
	for _, ref := range t.refs {
		if rerr := t.blobs.Remove(ref); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	t.refs = nil
	if err != nil {
		return fmt.Errorf("store: rollback: %w", err)
	}
	return nil
}

// Close ends the transfer (rolling back a transaction not committed).
func (t *Transfer) Close() error {
	if t.conn == nil {
		return nil
	}
	var err error
	if t.inTx {
		if t.write {
			err = t.Rollback()
		} else {
			err = sqlitex.ExecuteTransient(t.conn, "ROLLBACK", nil)
		}
	}
	err = errors.Join(err, t.conn.Close())
	t.conn = nil
	return err
}
