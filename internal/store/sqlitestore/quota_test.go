package sqlitestore

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"mailroom/internal/store"
	"mailroom/internal/store/storetest"
)

// TestQuota runs the quota conformance tests alone (TestConformance has
// them too), so that `go test -run Quota` finds them.
func TestQuota(t *testing.T) {
	storetest.RunQuota(t, func(t *testing.T) store.Store { return openTest(t, t.TempDir()) })
}

// TestQuotaMigrated: the quota migration, undone and run again on a live
// database, counts the usage of the mail that is there.
func TestQuotaMigrated(t *testing.T) {
	i := slices.IndexFunc(migrations, func(m string) bool { return strings.Contains(m, "CREATE TABLE quota_accounts") })
	if i < 0 {
		t.Fatal("no quota migration")
	}
	dir := t.TempDir()
	st := openTest(t, dir)
	defer st.Close()
	storetest.RunQuotaMigrated(t, st, func(t *testing.T) {
		conn, err := sqlite.OpenConn(filepath.Join(dir, "mail.db"), sqlite.OpenReadWrite|sqlite.OpenWAL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		undo := `DROP TABLE quota_accounts; DROP TABLE quota_domains; DROP TABLE quota_server;`
		if err := sqlitex.ExecuteScript(conn, undo+migrations[i], nil); err != nil {
			t.Fatal(err)
		}
	})
}
