package testrig

import (
	"os"
	"testing"

	"mailroom/internal/config"
	"mailroom/internal/store/pgstore/pgtest"
	"mailroom/internal/testrig/teststore"
)

// BackendEnv picks the store every rig of the test binary runs on:
// "sqlite" (the default) or "postgres", a database of its own on a private
// PostgreSQL cluster the test binary starts (Main). `make test` runs the
// protocol tests once with each.
const BackendEnv = teststore.BackendEnv

// Backend is the store backend the rigs run on (BackendEnv).
func Backend() string {
	if b := os.Getenv(BackendEnv); b != "" {
		return b
	}
	return config.BackendSQLite
}

// Main runs the tests of a package that starts rigs, with the PostgreSQL
// cluster they need when Backend is postgres. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testrig.Main(m)) }
func Main(m *testing.M) int { return teststore.Main(m) }

// RequireSQLite skips a test that is about the SQLite backend itself (its
// files in the data directory, its disk-full handling) when the rigs run
// on PostgreSQL.
func RequireSQLite(t testing.TB) {
	t.Helper()
	if Backend() != config.BackendSQLite {
		t.Skipf("about the SQLite backend; %s=%s", BackendEnv, Backend())
	}
}

// useBackend points cfg at the store the rigs run on: for postgres, the
// database that belongs to cfg's data directory, so that a rig restarted
// on the same directory finds its mail again.
func useBackend(t testing.TB, cfg *config.Config) {
	t.Helper()
	if Backend() == config.BackendPostgres {
		cfg.Store = config.Store{Backend: config.BackendPostgres, DSN: pgtest.Database(t, cfg.DataDir)}
	}
}

// SecondNode starts the rig as another node on first's store: its own data
// directory and listeners, the same PostgreSQL database, as two `mailroom
// serve` processes of one installation. It needs the postgres backend
// (SQLite is one node's) and skips the test on SQLite.
func SecondNode(t testing.TB, first *Rig) Option {
	t.Helper()
	if Backend() != config.BackendPostgres {
		t.Skipf("several nodes need the postgres backend; %s=%s", BackendEnv, Backend())
	}
	return func(s *setup) { s.node = first }
}
