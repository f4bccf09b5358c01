package pgstore

import (
	"context"
	"errors"
	"io"
	"net"
	"os"

	"github.com/jackc/pgx/v5/pgconn"

	"mailroom/internal/store"
)

// Telling "the database is away" from other failures, so that protocols
// answer a temporary error (store.ErrUnavailable) while PostgreSQL
// restarts or fails over, instead of an internal error.
//
// Three ways the database being away shows:
//   - a connection cannot be made (refused, no socket): the pool's
//     dialer marks the error (unavailableDial).
//   - an established connection breaks (a crash, an immediate shutdown, a
//     pooled connection whose server went away since its last use): the
//     dialer's connections mark their read and write errors too.
//   - the server ends the session or refuses it (57P01 on a fast
//     shutdown, 57P03 while starting up): the PgError's SQLSTATE says so,
//     and store.IsUnavailable asks it.
//
// mapError (tx.go) also classifies the errors of writes (unavailable
// below), for a broken connection whose error reached it unmarked.

// unavailableDial wraps the pool's dialer so that a failure to reach the
// server, or an established connection that breaks (the server went away
// between two statements, a pooled connection's next write meets a closed
// socket), carries store.ErrUnavailable. Timeouts are left as they are:
// pgconn uses deadlines to cancel statements and tells them apart by what
// they are.
func unavailableDial(dial pgconn.DialFunc) pgconn.DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			return nil, &unavailableError{err}
		}
		return unavailableConn{c}, nil
	}
}

// unavailableConn marks its read and write errors (see unavailableDial).
type unavailableConn struct{ net.Conn }

func (c unavailableConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	return n, connError(err)
}

func (c unavailableConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	return n, connError(err)
}

func connError(err error) error {
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return err
	}
	return &unavailableError{err}
}

// unavailable marks err with store.ErrUnavailable when it says the
// database connection failed, rather than the statement. Every error of
// a pgstore call comes from the database or the caller's context, so a
// network error or a cut-off reply here is the database's.
func unavailable(err error) error {
	if err == nil || store.IsUnavailable(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var ce *pgconn.ConnectError
	var ne *net.OpError
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, os.ErrDeadlineExceeded) {
		return &unavailableError{err}
	}
	return err
}

// unavailableError is err, also matching store.ErrUnavailable. Its
// Timeout keeps pgconn's test for a timed-out dial working.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string   { return e.err.Error() }
func (e *unavailableError) Unwrap() []error { return []error{store.ErrUnavailable, e.err} }
func (e *unavailableError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.err, &t) && t.Timeout()
}
