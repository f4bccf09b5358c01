package pgstore

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"mailroom/internal/store/pgstore/pgtest"
)

// Every table of the schema is either copied by `mailroom store copy` or
// deliberately skipped (transferSkip and transferSkipColumns name only
// tables and columns that exist), and the order puts each table after
// those its foreign keys reference.
func TestTransferTables(t *testing.T) {
	ctx := context.Background()
	tr, err := OpenTransfer(ctx, pgtest.NewDatabase(t), true)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	rows, err := tr.pool.Query(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
	if err != nil {
		t.Fatal(err)
	}
	all, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
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
	for table, cols := range transferSkipColumns {
		for _, col := range cols {
			var n int
			if err := tr.pool.QueryRow(ctx, "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2",
				table, col).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Errorf("transferSkipColumns names %s.%s, which the schema does not have", table, col)
			}
		}
	}
	rows, err = tr.pool.Query(ctx, `SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint WHERE contype = 'f'`)
	if err != nil {
		t.Fatal(err)
	}
	var from, to string
	if _, err := pgx.ForEachRow(rows, []any{&from, &to}, func() error {
		if slices.Contains(tables, from) && slices.Index(tables, to) > slices.Index(tables, from) {
			t.Errorf("%s comes before %s, which it references", from, to)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Every identity column has its sequence carried over.
	seqs, err := tr.Sequences(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"domains", "accounts", "mailboxes", "contents", "changelog", "queue", "queue_recipients", "app_passwords"} {
		if v, ok := seqs[table]; !ok || v != 0 {
			t.Errorf("sequence of %s in a new database: %d, %v", table, v, ok)
		}
	}
}
