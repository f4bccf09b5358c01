package pgstore

import (
	"context"
	"testing"

	"mailroom/internal/store/pgstore/pgtest"
)

// A database whose default is synchronous_commit = off (an operator's
// tuning, a copied configuration) still gets durable commits from the
// store: acknowledged mail must survive a PostgreSQL crash. A stronger
// setting is left alone.
func TestCommitsDurableWhateverTheDefault(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ dflt, want string }{{"off", "on"}, {"remote_apply", "remote_apply"}, {"local", "local"}} {
		dsn := pgtest.NewDatabase(t)
		admin := connect(t, dsn)
		var db string
		if err := admin.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(ctx, "ALTER DATABASE "+db+" SET synchronous_commit = "+tc.dflt); err != nil {
			t.Fatal(err)
		}
		st := openStore(t, dsn)
		var got string
		if err := st.pool.QueryRow(ctx, "SHOW synchronous_commit").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("database default %s: the store's connections commit with %s, want %s", tc.dflt, got, tc.want)
		}
	}
}
