package store

import (
	"errors"
	"strings"
)

// ErrUnavailable: the backend could not be reached (a database server
// that is down, restarting or refusing connections). Nothing was stored
// and the same request can succeed once it is back, so protocols answer
// it as a temporary failure (SMTP 451 4.3.0, IMAP NO [UNAVAILABLE],
// POP3 -ERR [SYS/TEMP]) rather than as an internal error or by dropping
// the client. Backends wrap the errors that mean this with it.
var ErrUnavailable = errors.New("store unavailable")

// IsUnavailable reports whether err means that the store is away for a
// while (see ErrUnavailable). Besides the sentinel it asks the error
// itself: a database error that carries an SQLSTATE (PostgreSQL's
// drivers expose it as SQLState()) of class 08 (connection exception),
// 57P01–57P03 (the server is shutting down, crashed, or is starting up)
// or 53300 (too many connections) is one the client can retry, even
// where the backend did not wrap it.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) {
		return true
	}
	var st interface{ SQLState() string }
	if errors.As(err, &st) {
		code := st.SQLState()
		return strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03" || code == "53300"
	}
	return false
}
