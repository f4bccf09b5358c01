package sieve

import (
	"regexp"
	"strconv"
)

// posRE is where go-sieve's messages say an error is: "line:column: ".
var posRE = regexp.MustCompile(`^(?:[^:\s]*:)?([0-9]+):([0-9]+): `)

// errorOf is the *Error of a go-sieve error, with its line and column
// taken out of the message, so that an editor can point at the line.
func errorOf(err error) *Error {
	msg := err.Error()
	m := posRE.FindStringSubmatch(msg)
	if m == nil {
		return &Error{Msg: msg}
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	return &Error{Line: line, Column: col, Msg: msg[len(m[0]):]}
}
