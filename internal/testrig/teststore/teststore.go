// Package teststore opens real stores for the tests of packages below the
// server (certificates, DKIM keys, reports …) on the backend the test run
// asks for: SQLite by default, PostgreSQL with MAILROOM_TEST_BACKEND=postgres,
// as the rigs of internal/testrig do. Import it from tests only.
package teststore

import (
	"context"
	"fmt"
	"os"
	"testing"

	"mailroom/internal/store"
	"mailroom/internal/store/pgstore"
	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/store/sqlitestore"
)

// BackendEnv picks the backend: "sqlite" (default) or "postgres".
const BackendEnv = "MAILROOM_TEST_BACKEND"

// OnPostgres reports whether the tests run on PostgreSQL.
func OnPostgres() bool { return os.Getenv(BackendEnv) == "postgres" }

// Main runs the tests with the private PostgreSQL cluster they need when
// they run on PostgreSQL. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(teststore.Main(m)) }
func Main(m *testing.M) int {
	switch b := os.Getenv(BackendEnv); b {
	case "", "sqlite":
		return m.Run()
	case "postgres":
		return pgtest.Main(m)
	default:
		fmt.Fprintf(os.Stderr, "%s=%q: must be sqlite or postgres\n", BackendEnv, b)
		return 2
	}
}

// OpenNodes returns the stores of two nodes of one installation: two
// connections to one new PostgreSQL database, or, on SQLite, which is one
// node's, the same new store twice. They are closed when the test ends.
func OpenNodes(t testing.TB) (a, b store.Store) {
	t.Helper()
	ctx := context.Background()
	if OnPostgres() {
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

// Open returns a new store, closed when the test ends.
func Open(t testing.TB) store.Store {
	t.Helper()
	a, _ := OpenNodes(t)
	return a
}
