package sieve

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/migadu/go-sieve/lexer"
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

// extensions are the capabilities scripts may require, in the order
// ManageSieve advertises them. The first group is go-sieve's own; the
// second is what this package adds on top of it.
var (
	libraryExtensions = []string{
		"fileinto", "envelope", "encoded-character", "imap4flags", "variables",
		"relational", "vacation", "copy", "regex", "date", "index", "mailbox",
		"subaddress", "body",
		"comparator-i;octet", "comparator-i;ascii-casemap", "comparator-i;ascii-numeric", "comparator-i;unicode-casemap",
	}
	ownExtensions = []string{
		"reject", "ereject", "vacation-seconds", "include", "spamtest", "spamtestplus",
		"virustest", "duplicate",
	}
)

// Extensions lists the Sieve extensions scripts may require: ManageSieve's
// SIEVE capability. The comparators are not listed (RFC 5804 1.7 lists
// them apart); scripts may still require them.
func Extensions() []string {
	var out []string
	for _, e := range libraryExtensions {
		if !isComparator(e) {
			out = append(out, e)
		}
	}
	return append(out, ownExtensions...)
}

func isComparator(ext string) bool { return len(ext) > 11 && ext[:11] == "comparator-" }

// Check compiles a script and reports the first error, as an *Error.
// ManageSieve's PUTSCRIPT and CHECKSCRIPT, the webmail's editor and
// `mailroom sieve check` use it. Scripts it names with include need not
// exist yet (RFC 6609 3.2: a missing script is an error when the script
// runs).
func Check(content string) error {
	_, err := Compile(content, nil, Limits{})
	return err
}

// positionPrefix is how go-sieve's errors begin when they know where.
var positionPrefix = regexp.MustCompile(`^(\d+):(\d+): `)

// errorAt turns an error of go-sieve into an *Error, at pos when the
// error does not say where itself.
func errorAt(pos lexer.Position, err error) error {
	var se *Error
	if errors.As(err, &se) {
		return err
	}
	msg := err.Error()
	if m := positionPrefix.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		col, _ := strconv.Atoi(m[2])
		return &Error{Line: line, Column: col, Msg: msg[len(m[0]):]}
	}
	return &Error{Line: pos.Line, Column: pos.Col, Msg: msg}
}

func errorf(pos lexer.Position, format string, args ...any) error {
	return &Error{Line: pos.Line, Column: pos.Col, Msg: fmt.Sprintf(format, args...)}
}
