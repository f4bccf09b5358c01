// Package search evaluates IMAP SEARCH criteria (RFC 9051 and RFC 3501
// section 6.4.4, with RFC 7162 MODSEQ, RFC 5182 "$", RFC 8474 EMAILID and
// THREADID, and RFC 8514 SAVEDATE keys) against the messages of a mailbox.
//
// Compile turns a Key tree (the protocols build it: IMAP from its SEARCH grammar, the web from its form) into a Matcher once per command;
// the session then calls Match for each message. Keys that only need the
// in-memory index (flags, sizes, dates, UIDs, sequence numbers, modseqs)
// are evaluated first inside AND and OR nodes, so that a message is loaded
// from the store only when the cheap keys leave its fate open. Within one
// Match the message's header is read at most once and its body at most
// once, however many string keys the criteria hold: every string key of a
// kind is answered in the same pass.
//
// # String matching
//
// Strings match as case-insensitive substrings. Both sides are converted
// to UTF-8 and folded with Unicode simple case folding (each rune maps to
// the smallest rune of its unicode.SimpleFold orbit), so "ǅ", "ǆ" and "Ǆ"
// are equal but "ß" does not match "SS": full folding would change string
// lengths and is not what IMAP servers do; RFC 9051 leaves the comparator
// to the server ("i;unicode-casemap" would need full folding and NFKD, which
// no client relies on). No Unicode normalization is applied.
//
// Header keys (FROM, TO, CC, BCC, SUBJECT, HEADER) match the unfolded field
// value after RFC 2047 decoding, for every occurrence of the field in the
// top-level header: addresses are matched as that text, display name and
// address alike. An empty string matches when the field is present. A
// field is considered up to maxFieldBytes; the rest of a longer field is
// not searched.
//
// BODY matches the text/* leaf parts of the message, transfer-decoded
// (base64, quoted-printable) and converted from the part's charset to
// UTF-8 by package mime, as every protocol reads them, and the header fields of attached messages (message/rfc822),
// which are body text of the outer message. Other media types are skipped,
// as RFC 3501 allows. text/html is searched as it is, markup included. A
// match never spans two parts or two header fields; line breaks inside a
// part are text like any other, so a phrase split by a line break does not
// match. TEXT matches "Name: value" of any top-level header field, or
// what BODY would. BODY "" and TEXT "" match every message.
//
// The body is read in fixed-size chunks, decoded by streaming decoders,
// and searched with a carry of the longest needle's length across chunks:
// memory does not grow with the message.
//
// # Dates
//
// BEFORE, ON and SINCE (and the SAVED* keys, the save date being the
// INTERNALDATE) compare the calendar day of the INTERNALDATE in
// Context.Loc (UTC when nil) with the key's day; the store keeps only the
// instant, not the zone of the APPEND. SENTBEFORE, SENTON and SENTSINCE
// compare the calendar day of the Date: header as written, in its own
// zone: "disregarding time and timezone" as RFC 9051 says. A message
// without a parsable Date: header matches no SENT* key.
//
// # Object ids
//
// EMAILID is EmailID(ContentID); THREADID is ThreadID(ThreadID), the
// conversation the store put the message in (see store.Threads). Both
// compare as strings (RFC 8474 section 6): "T05" is no thread.
package search
