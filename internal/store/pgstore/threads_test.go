package pgstore

import (
	"context"
	"slices"
	"strings"
	"testing"

	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/store/storetest"
)

// TestRethreadMigrated: mail from before conversations, as the migration
// leaves it (undone and run again on a live database), is grouped by
// RethreadAccount.
func TestRethreadMigrated(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	st := openStore(t, dsn)
	i := slices.IndexFunc(migrations, func(m string) bool { return strings.Contains(m, "CREATE TABLE thread_keys") })
	if i < 0 {
		t.Fatal("no thread migration")
	}
	storetest.RunRethreadMigrated(t, st, func(t *testing.T) {
		conn := connect(t, dsn)
		undo := `DROP TABLE thread_keys; DROP INDEX messages_thread; ALTER TABLE messages DROP COLUMN thread_id;`
		if _, err := conn.Exec(context.Background(), undo+migrations[i]); err != nil {
			t.Fatal(err)
		}
	})
}
