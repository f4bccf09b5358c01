package sieve

import (
	"fmt"
	"strings"

	gosieve "github.com/migadu/go-sieve"
)

// Error is a script that does not compile, or that failed while running:
// where (Line and Column count from 1; 0 when unknown) and why.
type Error struct {
	Line, Column int
	Msg          string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// Extensions lists the Sieve extensions scripts may require: ManageSieve's
// SIEVE capability.
func Extensions() []string {
	return []string{"fileinto", "envelope", "encoded-character", "imap4flags", "variables", "relational", "vacation", "copy", "regex", "date", "index", "mailbox", "subaddress", "body"}
}

// Check compiles a script and reports the first error, as an *Error.
// ManageSieve's PUTSCRIPT and CHECKSCRIPT and the webmail's editor use it.
// Scripts it names with include need not exist yet (RFC 6609 3.2: a
// missing script is an error when the script runs).
func Check(content string) error {
	opts := gosieve.DefaultOptions()
	opts.EnabledExtensions = Extensions()
	if _, err := gosieve.Load(strings.NewReader(content), opts); err != nil {
		return errorOf(err)
	}
	return nil
}
