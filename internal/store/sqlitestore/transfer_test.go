package sqlitestore

import (
	"context"
	"slices"
	"strings"
	"testing"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// Every table of the schema is either copied by `mailroom store copy` or
// deliberately skipped (transferSkip, which names only tables that
// exist), every column of a copied table is copied, and the order puts
// each table after those its foreign keys reference.
func TestTransferTables(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tr, err := OpenTransfer(ctx, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var all []string
	if err := sqlitex.ExecuteTransient(tr.conn, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%'", &sqlitex.ExecOptions{
		ResultFunc: func(stmt *sqlite.Stmt) error { all = append(all, stmt.ColumnText(0)); return nil },
	}); err != nil {
		t.Fatal(err)
	}
	tables, err := tr.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for skip := range transferSkip {
		if !slices.Contains(all, skip) {
			t.Errorf("transferSkip names %s, which the schema does not have", skip)
		}
		if slices.Contains(tables, skip) {
			t.Errorf("skipped table %s is copied", skip)
		}
	}
	for _, table := range all {
		if _, skip := transferSkip[table]; !skip && !slices.Contains(tables, table) {
			t.Errorf("table %s is neither copied nor skipped", table)
		}
	}
	pos := func(name string) int { return slices.Index(tables, name) }
	for _, table := range tables {
		cols, err := tr.Columns(ctx, table)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := sqlitex.ExecuteTransient(tr.conn, "SELECT count(*) FROM pragma_table_info(?)", &sqlitex.ExecOptions{
			Args:       []any{table},
			ResultFunc: func(stmt *sqlite.Stmt) error { n = stmt.ColumnInt(0); return nil },
		}); err != nil {
			t.Fatal(err)
		}
		if len(cols) != n || n == 0 {
			t.Errorf("table %s: copying %d of %d columns", table, len(cols), n)
		}
		if err := sqlitex.ExecuteTransient(tr.conn, `SELECT "table" FROM pragma_foreign_key_list(?)`, &sqlitex.ExecOptions{
			Args: []any{table},
			ResultFunc: func(stmt *sqlite.Stmt) error {
				if ref := stmt.ColumnText(0); pos(ref) > pos(table) {
					t.Errorf("%s comes before %s, which it references", table, ref)
				}
				return nil
			},
		}); err != nil {
			t.Fatal(err)
		}
	}
	if pos("domains") > pos("accounts") || pos("accounts") > pos("mailboxes") {
		t.Errorf("order %s", strings.Join(tables, " "))
	}
}
