package wire

import (
	"errors"
	"fmt"
)

// SyntaxError reports client input that does not match the grammar. Msg is
// written for the client: the session answers "tag BAD <Msg>" (or "* BAD"
// when the tag itself could not be read) and then calls DiscardLine.
type SyntaxError struct {
	Msg string
	// Offset is the byte offset in the current line segment where the error
	// was found; it is for logs, not for the client.
	Offset int
}

func (e *SyntaxError) Error() string { return e.Msg }

// LiteralTooLargeError reports a literal whose announced size is over the
// limit that applies where it appears (Limits.MaxLiteral for
// LiteralReader, Limits.MaxInlineLiteral for strings read into memory, 4096
// for a non-synchronizing literal under LITERAL-). Not one octet of the
// literal has been read.
//
// For a synchronizing literal the client waits for a continuation that is
// never sent, so the command is over: answer "tag NO [TOOBIG] ..." (RFC
// 7889) or "tag BAD ..." and do not call anything but DiscardLine (a no-op
// then) before the next ReadTag. For a non-synchronizing literal the client
// sends the octets anyway: answer, then DiscardLine skips them (RFC 7888
// section 4 lets a server read and discard them or close the connection;
// DiscardLine does the former within its budget and returns ErrResync
// otherwise).
type LiteralTooLargeError struct {
	Size    int64 // announced size
	Max     int64 // the limit it broke
	NonSync bool  // {n+}: the octets follow regardless
}

func (e *LiteralTooLargeError) Error() string {
	if e.NonSync && e.Max == literalMinusMax {
		return fmt.Sprintf("non-synchronizing literal of %d octets is over the LITERAL- limit of %d", e.Size, e.Max)
	}
	return fmt.Sprintf("literal of %d octets is over the limit of %d", e.Size, e.Max)
}

// Code returns the response code for the tagged reply: TOOBIG (RFC 4469 /
// RFC 7889 / RFC 9051 7.1).
func (e *LiteralTooLargeError) Code() string { return "TOOBIG" }

// RefusedError wraps the error returned by the continuation callback when
// it refused a synchronizing literal. The client has not sent the literal
// and will not: the command is over.
type RefusedError struct{ Err error }

func (e *RefusedError) Error() string { return "literal refused: " + e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// ErrResync is returned by DiscardLine when the rest of a rejected command
// cannot be skipped within the discard budget (a non-synchronizing literal
// of an absurd size, an endless line). The session should send "* BYE" and
// close the connection: the stream can no longer be trusted to be at a
// command boundary.
var ErrResync = errors.New("wire: cannot resynchronise with the client")

// errNoCommand is returned when a reader is called outside a command
// (before ReadTag, or after the command's CRLF or its refused literal):
// a bug in the caller, never the client's fault.
var errNoCommand = errors.New("wire: no command is being read")

// errLiteralGone is returned by a Literal read after the Decoder moved on
// and discarded the rest of it.
var errLiteralGone = errors.New("wire: literal reader used after the decoder moved on")

func syntaxErr(off int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Msg: fmt.Sprintf(format, args...), Offset: off}
}
