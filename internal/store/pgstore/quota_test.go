package pgstore

import (
	"context"
	"slices"
	"strings"
	"testing"

	"mailroom/internal/store"
	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/store/storetest"
)

// TestQuota runs the quota conformance tests alone (TestConformance has
// them too), so that `go test -run Quota` finds them.
func TestQuota(t *testing.T) {
	storetest.RunQuota(t, func(t *testing.T) store.Store { return openStore(t, pgtest.NewDatabase(t)) })
}

// TestQuotaMigrated: the quota migration, undone and run again on a live
// database, counts the usage of the mail that is there.
func TestQuotaMigrated(t *testing.T) {
	i := slices.IndexFunc(migrations, func(m string) bool { return strings.Contains(m, "CREATE TABLE quota_accounts") })
	if i < 0 {
		t.Fatal("no quota migration")
	}
	dsn := pgtest.NewDatabase(t)
	st := openStore(t, dsn)
	storetest.RunQuotaMigrated(t, st, func(t *testing.T) {
		undo := `DROP TABLE quota_accounts; DROP TABLE quota_domains; DROP TABLE quota_server;`
		if _, err := connect(t, dsn).Exec(context.Background(), undo+migrations[i]); err != nil {
			t.Fatal(err)
		}
	})
}
