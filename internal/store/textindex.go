package store

import "context"

// The full-text index. The mailbox service extracts the searchable text of
// a message (package internal/mailbox/search decides what that is: the
// same code that IMAP SEARCH's evaluator scans), folds it, and hands it to
// the store with the delivery; the store keeps it per content (copies and
// moves share it) and answers substring queries over one mailbox. The
// store never parses mail: it stores and compares text.
//
// Every text is a sequence of units (one header field, one body part)
// joined by '\n'; the extractor replaces NUL, invalid UTF-8 and nothing
// else by '\n' too. A needle without '\n' therefore never matches across
// two units, which is what SEARCH requires; the caller never sends a
// needle containing '\n' or NUL.

// TextField names one column of the index.
type TextField uint8

// The fields of a TextDoc.
const (
	TextFrom    TextField = iota // FROM: the From fields' values and their addresses
	TextTo                       // TO
	TextCc                       // CC
	TextBcc                      // BCC
	TextSubject                  // SUBJECT
	TextHeader                   // "NAME: value" of every top-level header field, then the MIME part headers (TextFormat 2)
	TextBody                     // BODY: the text parts and attached messages' headers
	TextAll                      // TEXT: TextHeader or TextBody
)

// TextFormat is the version of what an index entry holds, stored with
// each entry (the store writes the current one). Format 1 lacked the MIME
// part headers that TEXT also searches (format 2 has them in Header).
// Entries of an older format still answer every field but TextAll, and
// UnindexedContents lists them, so that `mailroom reindex` upgrades them.
const TextFormat = 2

// TextDoc is the folded searchable text of one message content.
type TextDoc struct {
	From, To, Cc, Bcc, Subject, Header, Body string
	// BodyComplete is false when Body was cut (a body too large to index
	// in full): then only the header fields are answered from the index.
	BodyComplete bool
}

// Field returns the text of one field (TextAll is not a column).
func (d *TextDoc) Field(f TextField) string {
	switch f {
	case TextFrom:
		return d.From
	case TextTo:
		return d.To
	case TextCc:
		return d.Cc
	case TextBcc:
		return d.Bcc
	case TextSubject:
		return d.Subject
	case TextHeader:
		return d.Header
	case TextBody:
		return d.Body
	}
	return ""
}

// TextQuery asks which messages have Needle, folded, in Field.
type TextQuery struct {
	Field  TextField
	Needle string
}

// TextResult answers SearchText. Hits[i] answers queries[i]: the UIDs,
// ascending, of messages whose content is indexed and contains the
// needle. A message whose content is not indexed is in Unindexed (for
// every field) or, when only its body is missing, in BodyUnindexed (for
// TextBody and TextAll), or, when its entry is of a format before
// TextFormat (and its body indexed), in Stale (for TextAll): the caller
// must decide those some other way.
// Prefixed holds the per-copy header prefix (Target.HeaderPrefix) of
// every message that has one, raw, when a query asks for HEADER or TEXT:
// the prefix is part of the message's header but not of the shared
// content, so the caller checks it itself.
type TextResult struct {
	Hits          [][]uint32
	Unindexed     []uint32
	BodyUnindexed []uint32
	Stale         []uint32
	Prefixed      map[uint32][]byte
}

// HeaderQuery reports whether any of qs may match a per-copy header
// prefix: HEADER and TEXT. (A prefix holds no From, To, Cc, Bcc or
// Subject field: see Target.HeaderPrefix.)
func HeaderQuery(qs []TextQuery) bool {
	for _, q := range qs {
		if q.Field == TextHeader || q.Field == TextAll {
			return true
		}
	}
	return false
}

// UnindexedContent is a content the index lacks, with one message holding
// it (to read it through) and that message's prefix length, which is not
// part of the content.
type UnindexedContent struct {
	ContentID int64
	MailboxID int64
	UID       uint32
	PrefixLen int64
}

// TextIndexer is the full-text index of a store.
type TextIndexer interface {
	// SearchText answers several substring queries over one mailbox in
	// one snapshot. Needles are folded and non-empty. within, when not
	// nil, restricts the search and every list of the result to those
	// UIDs: the caller's candidates, once cheaper keys have narrowed them
	// to few, whose stored text is then checked directly instead of
	// looking the needles up in the index of the whole mailbox.
	SearchText(ctx context.Context, mailboxID int64, queries []TextQuery, within []uint32) (TextResult, error)
	// UnindexedContents lists up to limit contents of the account (0:
	// every account) that have no index entry, or one of a format before
	// TextFormat, or one made before the short grams (ShortGrams) existed,
	// with ids above after, in id order: the work list of a reindex, which
	// resumes from the last id it did.
	UnindexedContents(ctx context.Context, accountID, after int64, limit int) ([]UnindexedContent, error)
	// IndexText stores the text of a content (replacing any entry). A
	// content that is gone meanwhile is no error.
	IndexText(ctx context.Context, contentID int64, doc *TextDoc) error
	// DropTextIndex removes the index entries of the account's contents
	// (0: all), for a rebuild from scratch.
	DropTextIndex(ctx context.Context, accountID int64) error
	// FlushText indexes now the text of delivered messages that is
	// waiting to be indexed (a backend may index after the delivery, in
	// the background; one that indexes in the delivery has nothing to
	// do). Searches find such messages already; this makes the index
	// itself complete, as a reindex wants.
	FlushText(ctx context.Context) error
}

// TextStager is implemented by the staged messages of backends with a
// full-text index: the text given is stored with the content, in the
// delivery's transaction.
type TextStager interface {
	SetText(doc *TextDoc)
}
