package sqlitestore

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"mailroom/internal/store"
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
	dir := t.TempDir()
	st := openTest(t, dir)
	defer st.Close()
	storetest.RunTextFormatStale(t, st, func(t *testing.T) {
		conn, err := sqlite.OpenConn(filepath.Join(dir, "mail.db"), sqlite.OpenReadWrite|sqlite.OpenWAL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// The column goes with the trigger reading it, which comes back
		// after, as migration 16 made it, and lists the stale entries.
		undo := `DROP TRIGGER content_unindexed_indexed; DROP TRIGGER content_unindexed_changed; ALTER TABLE content_indexed DROP COLUMN text_format;`
		if err := sqlitex.ExecuteScript(conn, undo+migrations[i]+indexedTrigger+fillUnindexed, nil); err != nil {
			t.Fatal(err)
		}
	})
}

// TestUnindexedFormat: content_unindexed's trigger and fill (migration 16)
// take the current store.TextFormat as fully indexed. A new format needs
// a migration that recreates both with its number (and refills the list).
func TestUnindexedFormat(t *testing.T) {
	want := fmt.Sprintf("text_format >= %d", store.TextFormat)
	for name, sql := range map[string]string{"indexedTrigger": indexedTrigger, "fillUnindexed": fillUnindexed} {
		if !strings.Contains(sql, want) {
			t.Errorf("%s does not hold %q:%s", name, want, sql)
		}
	}
}
