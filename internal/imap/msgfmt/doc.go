// Package msgfmt renders the message-derived FETCH data of Mailroom's IMAP
// server: ENVELOPE, BODYSTRUCTURE and BODY, BODY[section]<partial> (and the
// RFC822 forms), BINARY[section]<partial> and BINARY.SIZE (RFC 3516), and
// PREVIEW (RFC 8970). It works from the structure mime recorded at delivery
// (offsets, header fields, envelopes) and reads the stored bytes only for
// section contents, so that ENVELOPE and BODYSTRUCTURE cost no I/O at all.
//
// # Memory
//
// Section contents are streamed from the store with Encoder.WriteLiteralFrom
// over io.SectionReaders: a 50 MB attachment never sits in memory. Where
// the size of the value is not known in advance (HEADER.FIELDS filtering,
// BINARY decoding) the value is produced twice by the same streaming code,
// once to count its octets (the literal announces them first) and once to
// send them; each pass holds a few fixed buffers (tens of KiB) whatever the
// input, including header lines of megabytes and base64 without line ends.
//
// # Choices where the RFCs leave room
//
// The reference is Dovecot 2.3, what clients are tested against; each
// choice says where it departs from it, deliberately.
//
//   - Strings are raw header text (encoded words as received). 8-bit text is
//     sent quoted only when the client enabled UTF8=ACCEPT and it is valid
//     UTF-8; otherwise as a literal, which RFC 3501/9051 allow for any
//     nstring (literal = CHAR8 octets) and which is what Dovecot sends. It is
//     not re-encoded with RFC 2047: the charset of raw 8-bit text is unknown,
//     and the client gets the bytes the sender wrote. CR, LF and NUL are
//     dropped from ENVELOPE and BODYSTRUCTURE strings (the values are
//     unfolded header text; a NUL cannot appear in a literal).
//   - An address without a domain gets host "MISSING_DOMAIN" and one without
//     a local part mailbox "MISSING_MAILBOX", as Dovecot sends: a NIL host
//     would make the address read as a group start marker (RFC 9051 7.5.2),
//     a NIL mailbox and host as a group end marker.
//   - Media types, subtypes, parameter names and transfer encodings are sent
//     in lower case (mime records them so). Dovecot sends them as written in
//     the header, which for usual mail is lower case too ("7bit" is its
//     default); they compare case-insensitively anyway.
//   - text/* parts without a charset parameter get ("charset" "us-ascii")
//     appended to their parameters (RFC 2045 5.2), as Dovecot and Cyrus do.
//   - Parameter values are stored decoded (RFC 2231 continuations joined,
//     charsets converted to UTF-8). A value that cannot be sent as a quoted
//     string to this client (8-bit without UTF8=ACCEPT, CR, LF, NUL) is sent
//     re-encoded as RFC 2231 name*=utf-8”%XX (unknown-8bit when the bytes
//     are not UTF-8): clients decode that form in BODYSTRUCTURE, because
//     Dovecot passes it through from the header.
//   - Content-Language is always a parenthesised list, as Dovecot sends it.
//   - A multipart without parts (no boundary line found, an unusable
//     boundary, or a scan limit) is described as the single part
//     text/plain; charset=us-ascii with the multipart's body, RFC 2045 5.2's
//     default for a malformed Content-Type. This agrees with
//     mime.Message.PartAt, which treats such a part as a leaf, so BODY[n]
//     returns what the structure describes. (Dovecot instead invents an
//     empty text/plain child inside the multipart, whose number then has
//     no content.)
//   - A message/rfc822 part whose content was not parsed (base64 or
//     quoted-printable encoded, or a limit hit) keeps the message form the
//     grammar requires, with an all-NIL envelope and an empty text/plain
//     body, as Dovecot does.
//   - message/global (RFC 6532) is described in the message form (envelope,
//     body, lines) as RFC 9051 grammar says, but only when UTF8=ACCEPT is on:
//     RFC 3501's grammar knows only MESSAGE/RFC822 there, so an IMAP4rev1
//     client would misparse it; for such clients it is a basic part, as
//     Dovecot sends it.
//   - body-fld-lines is mime.Part.BodyLines: the number of LF octets in the
//     body, as Dovecot and Cyrus count, so a last line without line end
//     (usual before a boundary, whose CRLF belongs to the boundary) does
//     not count. Structures recorded before mime counted so keep the count
//     of lines that start in the body (one more for such bodies): the
//     binary format did not change, and a message's BODYSTRUCTURE must not
//     change under a client that cached it.
//   - A section that does not exist (BODY[9], BODY[1.HEADER] of a part that
//     is not a message/rfc822, BINARY[9]) is an empty literal {0}, as Dovecot
//     sends; RFC 9051 does not say.
//   - NUL octets in BODY[...] data (which a literal cannot carry) are sent
//     as 0x80, as Dovecot does; the size stays as announced in RFC822.SIZE.
//     BINARY sends them as they are, in a literal8.
//   - BINARY decodes base64 and quoted-printable with package mime's
//     decoder, the one SEARCH and the webmail use, leniently: characters
//     outside the base64 alphabet are skipped, a trailing partial quantum is
//     decoded as far as it goes, malformed quoted-printable escapes are kept
//     as they are, and trailing whitespace is removed from quoted-printable
//     lines (RFC 2045 6.7). 7bit, 8bit and binary are identity; any other
//     encoding is ErrUnknownCTE. A multipart or message/rfc822 section (and
//     BINARY[], the whole message) is sent as stored: RFC 2045 6.4 allows
//     composite types no encoding but identity. (Dovecot re-encodes such
//     sections recursively, rewriting the inner Content-Transfer-Encoding
//     headers.)
//   - BINARY uses literal8 (~{n}) only when the octets sent contain NUL.
package msgfmt
