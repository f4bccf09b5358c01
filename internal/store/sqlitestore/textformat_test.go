package sqlitestore

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

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
		undo := `ALTER TABLE content_indexed DROP COLUMN text_format;`
		if err := sqlitex.ExecuteScript(conn, undo+migrations[i], nil); err != nil {
			t.Fatal(err)
		}
	})
}
