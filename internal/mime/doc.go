// Package mime records the MIME structure of a message in a single pass
// while the message is being streamed to disk, so that IMAP FETCH
// (ENVELOPE, BODYSTRUCTURE, BODY[section], partial ranges) and POP3 TOP can
// later be answered by seeking into the stored file instead of parsing it
// again.
//
// # Design
//
// A Scanner is an io.Writer. Delivery code writes the message into it (in
// any chunking, down to single bytes) at the same time as it writes the
// message to disk, then calls Close to obtain a Message: a tree of Parts
// holding exact byte offsets into the input (header start, body start, end),
// line counts, the parsed MIME header fields, an IMAP envelope for every
// message (the root and each message/rfc822 part) and an RFC 8970 preview.
// The Message has a compact binary encoding (MarshalBinary) meant to be kept
// next to the stored message.
//
// The scanner is line oriented but never needs a whole line in memory: it
// looks for line ends with bytes.IndexByte and, per line, keeps only
//
//   - the header bytes it will parse (only the fields it needs, at most
//     Limits.MaxHeaderBytes per header block), and
//   - the first few bytes of lines that start with "--", which is all that
//     boundary detection needs.
//
// Bodies are never buffered, except for a bounded capture (16 KiB) of the
// first text part, used for the preview. Memory is therefore bounded by the
// limits, not by the input, whatever the input looks like (a 1 MB header
// line, a 50 MB base64 line without line ends, 10,000 nested multiparts).
//
// # Offsets and lines
//
// Offsets are byte offsets into the input exactly as written. A line ends
// at LF; CRLF is the normal line end, and a bare LF (flagged BareLF) ends a
// line too. Per RFC 2046 section 5.1.1 the line end that precedes a boundary
// line belongs to the boundary, so a part's End excludes it. The header of a
// part spans [HeaderStart, BodyStart) and includes the empty line that ends
// it; the body spans [BodyStart, End). HeaderLines is the number of lines
// that start inside the header, so a last line without a line end counts;
// BodyLines is the number of line ends (LF) in the body, IMAP's
// body-fld-lines as Dovecot and Cyrus count it.
//
// # Limits
//
// Limits bound the nesting depth, the number of parts, and the header bytes
// kept for parsing. When one is hit the scan goes on (offsets stay exact),
// the affected part becomes a leaf or the remaining input becomes body text
// of the current part, and the Truncated flag is set.
//
// # Decoding content
//
// The package is also the server's one content decoder, so that a part
// reads the same whichever protocol asks: TransferReader and AppendDecoded
// undo Content-Transfer-Encodings (transfer.go), LookupCharset and
// CharsetReader convert charsets to UTF-8 (charset.go). IMAP BINARY, SEARCH,
// the webmail, HTML sanitising, the preview, RFC 2047 words and RFC 2231
// parameters all use them; none has a decoder of its own.
package mime
