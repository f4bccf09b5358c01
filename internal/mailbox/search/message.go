package search

import (
	"context"
	"errors"
	"strconv"
	"time"

	"mailroom/internal/mime"
	"mailroom/internal/store"
)

// List is the messages a search runs over: one mailbox's, ascending by
// UID. At builds one message (nil if it is gone meanwhile), All every
// one that is still there: a search whose index answers leave few
// candidates asks for those alone, so a session need not build a Message
// for each of 100,000 to find 58.
type List interface {
	Len() int
	UID(i int) uint32
	At(i int) Message
	All() []Message
}

// Slice is a List of messages at hand.
type Slice []Message

func (s Slice) Len() int         { return len(s) }
func (s Slice) UID(i int) uint32 { return s[i].Meta().UID }
func (s Slice) At(i int) Message { return s[i] }
func (s Slice) All() []Message   { return s }

// Message is what the evaluator can ask about one message. The IMAP
// session implements it over the shared in-memory index (the cheap
// fields) and the store (structure and bytes, which the evaluator asks for
// only when a key needs them, at most once per Match).
type Message interface {
	Meta() store.MessageMeta
	// Seq is the message's sequence number in the session.
	Seq() uint32
	// Recent reports \Recent for the session (IMAP4rev1 only).
	Recent() bool
	Structure(ctx context.Context) (*mime.Message, error)
	// Body opens the message's bytes; the evaluator closes what it opens
	// before Match returns.
	Body(ctx context.Context) (store.Body, error)
}

// Context is the session state a search depends on.
type Context struct {
	// MaxSeq and MaxUID stand for 0 ("*") in sequence and UID sets. For
	// sequence numbers MaxSeq is the number of messages; for UIDs MaxUID is
	// the UID of the last message, or UIDNEXT when the mailbox is empty, so
	// that "*" then matches no message and "n:*" still covers the last
	// message when n is above it (RFC 9051 6.4.9).
	MaxSeq, MaxUID uint32
	// Saved is the saved result (IMAP SEARCHRES "$"), as UIDs.
	Saved []uint32
	// Now is the time of the search. No key uses it yet; it is here for
	// RFC 5032 OLDER/YOUNGER.
	Now time.Time
	// Loc is the zone in which an INTERNALDATE's calendar day is taken for
	// BEFORE, ON, SINCE and the SAVED* keys; nil means UTC.
	Loc *time.Location
	// Charset is the SEARCH CHARSET argument ("" when absent). US-ASCII
	// and UTF-8 always work; other charsets that mime.KnownCharset knows
	// are converted; the rest fail with ErrBadCharset.
	Charset string
}

// Errors from Compile. A session answers ErrInvalid with BAD and
// ErrBadCharset with NO [BADCHARSET].
var (
	ErrInvalid    = errors.New("search: invalid criteria")
	ErrBadCharset = errors.New("search: unsupported charset")
)

// EmailID is the RFC 8474 EMAILID of messages with the given ContentID:
// "M" and the decimal id. Copies of a message share it, as RFC 8474 wants,
// and it only uses objectid characters.
func EmailID(contentID int64) string {
	return "M" + strconv.FormatInt(contentID, 10)
}

// ThreadID is the RFC 8474 THREADID of messages of the given thread
// (store.MessageMeta.ThreadID): "T" and the decimal id.
func ThreadID(threadID int64) string {
	return "T" + strconv.FormatInt(threadID, 10)
}

// parseThreadID inverts ThreadID, accepting only its exact output.
func parseThreadID(s string) (int64, bool) {
	if len(s) < 2 || s[0] != 'T' {
		return 0, false
	}
	n, err := strconv.ParseInt(s[1:], 10, 64)
	if err != nil || ThreadID(n) != s {
		return 0, false
	}
	return n, true
}

// parseEmailID inverts EmailID, accepting only its exact output so that
// "M007" does not find message 7 (object ids compare as strings).
func parseEmailID(s string) (int64, bool) {
	if len(s) < 2 || s[0] != 'M' {
		return 0, false
	}
	n, err := strconv.ParseInt(s[1:], 10, 64)
	if err != nil || EmailID(n) != s {
		return 0, false
	}
	return n, true
}
