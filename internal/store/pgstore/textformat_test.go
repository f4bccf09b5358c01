package pgstore

import (
	"context"
	"slices"
	"strings"
	"testing"

	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/store/storetest"
)

// TestTextFormatMigrated: index entries from before the format column, as
// its migration leaves them (undone and run again on a live database),
// are stale for TEXT and listed for reindexing.
func TestTextFormatMigrated(t *testing.T) {
	i := slices.IndexFunc(migrations, func(m string) bool { return strings.Contains(m, "ADD COLUMN text_format") })
	if i < 0 {
		t.Fatal("no text format migration")
	}
	dsn := pgtest.NewDatabase(t)
	st := openStore(t, dsn)
	storetest.RunTextFormatStale(t, st, func(t *testing.T) {
		conn := connect(t, dsn)
		undo := `ALTER TABLE content_text DROP COLUMN text_format;`
		if _, err := conn.Exec(context.Background(), undo+migrations[i]); err != nil {
			t.Fatal(err)
		}
	})
}
