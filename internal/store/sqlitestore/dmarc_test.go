package sqlitestore

import (
	"context"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"

	"mailroom/internal/store"
)

// TestDMARCResultsBounded: at the bound (store.MaxDMARCRows, here made
// small), a new kind of row is dropped while existing rows still count.
func TestDMARCResultsBounded(t *testing.T) {
	const bound = 50
	st := openWith(t, Options{Dir: t.TempDir(), DMARCRows: bound})
	ctx := context.Background()
	day := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	row := store.DMARCResult{Day: day, PolicyDomain: "bank.example", SourceIP: "192.0.2.1", HeaderFrom: "bank.example",
		Disposition: "none", DKIM: "pass", SPF: "pass"}
	if err := st.AddDMARCResult(ctx, row); err != nil {
		t.Fatal(err)
	}
	// Fill the table to its bound in one statement (a flood of distinct
	// senders, without a flood of test time).
	err := st.write(ctx, func(tx *txn) error {
		return tx.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
			INSERT INTO dmarc_results (`+dmarcColumns+`)
			SELECT ?2, 'flood.example', '', '', 'ip' || i, 'flood.example', '', 'none', 'fail', 'fail', '', '', 1 FROM n`,
			bound-1, day.Unix())
	})
	if err != nil {
		t.Fatal(err)
	}
	other := row
	other.SourceIP = "192.0.2.99"
	if err := st.AddDMARCResult(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := st.AddDMARCResult(ctx, row); err != nil {
		t.Fatal(err)
	}
	var total, added, counted int
	err = st.query(ctx, `SELECT count(*), sum(source_ip = '192.0.2.99'), sum(CASE WHEN source_ip = '192.0.2.1' THEN count END)
		FROM dmarc_results`, func(s *sqlite.Stmt) error {
		total, added, counted = s.ColumnInt(0), s.ColumnInt(1), s.ColumnInt(2)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total != bound || added != 0 || counted != 2 {
		t.Fatalf("%d rows (want the bound %d), new row added %d times, existing row counted %d (want 2)",
			total, bound, added, counted)
	}
}
