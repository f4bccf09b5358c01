package dkim

import (
	"context"
	"os"
	"testing"

	"mailroom/internal/store"
	"mailroom/internal/store/pgstore"
	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/store/sqlitestore"
)

// The tests keep the shared files in a real store: SQLite by default,
// PostgreSQL with MAILROOM_TEST_BACKEND=postgres (as the rigs do).
const backendEnv = "MAILROOM_TEST_BACKEND"

func onPostgres() bool { return os.Getenv(backendEnv) == "postgres" }

func TestMain(m *testing.M) {
	if onPostgres() {
		os.Exit(pgtest.Main(m))
	}
	os.Exit(m.Run())
}

// openNodes returns the stores of two nodes of one installation: two
// connections to one PostgreSQL database, or, on SQLite, which is one
// node's, the same store twice.
func openNodes(t testing.TB) (a, b store.Store) {
	t.Helper()
	ctx := context.Background()
	if onPostgres() {
		dsn := pgtest.NewDatabase(t)
		for _, p := range []*store.Store{&a, &b} {
			st, err := pgstore.Open(ctx, pgstore.Options{DSN: dsn})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			*p = st
		}
		return a, b
	}
	st, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, st
}

func openStore(t testing.TB) store.Store {
	a, _ := openNodes(t)
	return a
}
