// Package upgradetest holds the schema upgrade tests: testdata has, for
// each schema version that was released (landed on main), the data a
// Mailroom of that version made — its SQLite data directory or a pg_dump
// of its PostgreSQL database, and what its IMAP server showed then
// (manifest.txt). scripts/make-schema-fixtures.sh builds those versions
// from git history and makes the fixtures; the tests start today's server
// on each, which migrates it in place, and compare.
//
// The package has no code of its own, only tests.
package upgradetest
