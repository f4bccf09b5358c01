// Package faults holds fault tests that run Mailroom as real processes
// (`mailroom serve`, built from cmd/mailroom) on a real, private
// PostgreSQL cluster (pgstore/pgtest), and break things under load:
// PostgreSQL restarted during SMTP deliveries, one of two nodes killed
// with SIGKILL during IMAP and queue load. They check what an operator
// relies on: no acknowledged message lost or duplicated, temporary
// replies (SMTP 451 4.3.0, IMAP NO [UNAVAILABLE]) while the database is
// away, and recovery without anyone's help.
//
// The package has tests only. They start their own cluster, whatever
// MAILROOM_TEST_BACKEND says, so `make test` runs them once; without
// PostgreSQL installed they skip (fail under MAILROOM_REQUIRE_POSTGRES=1).
package faults
