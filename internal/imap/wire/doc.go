// Package wire is the protocol layer of Mailroom's IMAP server: the grammar
// of client commands (RFC 9051 IMAP4rev2 and RFC 3501 IMAP4rev1, with
// LITERAL+/LITERAL- RFC 7888, UTF8=ACCEPT RFC 6855, CONDSTORE/QRESYNC RFC
// 7162, ESEARCH/SEARCHRES RFC 4731/5182, BINARY RFC 3516, OBJECTID RFC
// 8474, PREVIEW RFC 8970, SAVEDATE RFC 8514) and the encoder of responses.
// It knows nothing of mailboxes or sessions.
//
// # Reading commands
//
// The session reads each command with a Decoder, reader by reader, in the
// order of the command's grammar:
//
//	tag, err := d.ReadTag()          // io.EOF: the client closed
//	cmd, err := d.ReadCommandName()  // "FETCH", or UID and "FETCH" for UID FETCH
//	... command-specific readers ...
//	err = d.ExpectCRLF()             // the command is complete
//
// Each command's arguments have a reader that returns them as a typed
// struct and, except where noted, consumes the line end: when it returns
// nil the command is complete and the caller has only behaviour left.
//
//	LOGIN ReadLogin → Login        AUTHENTICATE ReadAuthenticate → Authenticate
//	                               (then ReadAuthenticateResponse per challenge)
//	ENABLE ReadEnable → Enable     ID ReadID → ID
//	SELECT, EXAMINE ReadSelect → Select (CONDSTORE, QRESYNC)
//	CREATE ReadCreate → Create     RENAME ReadRename → Rename
//	DELETE, SUBSCRIBE, UNSUBSCRIBE ReadMailboxArg → mailbox name
//	LIST ReadListCommand → List    LSUB ReadLsub → List
//	STATUS ReadStatus → Status     APPEND ReadAppend → Append, then
//	                               ReadAppendMessage → AppendMessage per message,
//	                               ReadCatenatePart → CatPart per CATENATE part (RFC 4469)
//	GENURLAUTH ReadGenURLAuth      URLFETCH ReadURLFetch (RFC 4467, 5524)
//	RESETKEY ReadResetKey → ResetKey
//	STORE ReadStore → Store        COPY, MOVE ReadCopy → Copy
//	FETCH ReadFetch → Fetch        UID EXPUNGE ReadUIDExpunge → UIDExpunge
//	SEARCH ExpectSP, ReadSearch → *Search, ExpectCRLF
//	no arguments (NOOP, IDLE …)    ExpectCRLF; IDLE's end: ReadLine, IdleDone
//
// They do the grammar's checks, no more: whether a flag may be stored, a
// mailbox exists or an extension was enabled is the caller's business, and
// so is decoding modified UTF-7 mailbox names (it depends on UTF8=ACCEPT).
// APPEND's messages are never held in memory: ReadAppendMessage stops at
// each literal and hands out its octets as a *Literal to stream.
//
// On any error the session answers — "tag BAD <msg>" for a *SyntaxError,
// "tag NO [TOOBIG]" or BAD for a *LiteralTooLargeError, nothing more for a
// *RefusedError if its callback already answered, "* BYE" for I/O errors and
// ErrResync — and calls DiscardLine, which skips the rest of the command.
//
// # Literals and resynchronisation
//
// A synchronizing literal {n} is only read after the continuation callback
// has sent "+": when the decoder refuses it (too large) or the callback
// does, the client never sends it, so the command ends right there. After a
// syntax error the server must not send "+" either: DiscardLine reads the
// rest of the line and, if it ends with {n}, stops — the client is waiting
// for a continuation and takes the tagged BAD as the end of its command
// (RFC 9051 section 7.5). Non-synchronizing literals ({n+}, RFC 7888) are
// sent without waiting, so DiscardLine skips their octets and goes on with
// the line after them. Nothing is skipped beyond MaxLiteral+MaxLine octets:
// past that DiscardLine gives up with ErrResync.
//
// # Memory
//
// A command line is held in memory up to Limits.MaxLine, a literal read
// into a string up to MaxInlineLiteral; APPEND's message literal is
// streamed (LiteralReader). Slices returned while reading a command
// (sequence sets, fetch items with their sections, flag lists, LIST
// patterns, STATUS items — alone or in a command reader's struct) come
// from a per-command arena reused by the next command, so that a FETCH
// line costs no allocation once warm: they are valid until the next
// ReadTag. Sequence sets and fetch items have Clone methods for callers
// that keep them longer.
//
// # Choices where the RFCs leave room
//
//   - A bare LF ends a line like CRLF (as Dovecot and Cyrus accept).
//   - Quoted strings may carry valid UTF-8 whether or not UTF8=ACCEPT was
//     enabled (RFC 9051 QUOTED-CHAR); other 8-bit octets need a literal.
//     Atoms are 7-bit.
//   - NUL is refused in quoted strings and in literals read into memory,
//     except literal8. LiteralReader leaves that check to the caller.
//   - A {n+} literal over 4096 octets without LITERAL+ is refused with
//     TOOBIG and skipped (RFC 7888 section 5 allows skipping or closing).
//   - Only "INBOX" itself is case-insensitive, not "inbox/child".
//   - FETCH partial offsets and counts above 2^32-1 (RFC 9051 allows 63
//     bits) are clamped: same result for any message under 4 GiB.
//   - "*" in sequence sets follows RFC 9051 section 9 seq-number: the
//     caller passes max = number of messages, or for UIDs the last UID or
//     UIDNEXT when the mailbox is empty (see SeqSet).
//   - RETURN () in SEARCH means RETURN (ALL) (RFC 4731 3.1).
//   - SEARCH NOT/OR chains may nest 16*MaxDepth deep; parentheses MaxDepth.
//   - CHANGEDSINCE takes mod-sequence-value (>= 1); 0 is a syntax error.
//     UNCHANGEDSINCE takes 0 (mod-sequence-valzer), and so does QRESYNC's
//     modseq, which clients with nothing cached send.
//   - Lists the grammar wants non-empty are accepted empty where that has
//     a harmless meaning: ENABLE with no name, STATUS x (), SELECT x (),
//     LIST "" (), CREATE x (USE ()). An empty STORE modifier list is
//     refused: it used to read as UNCHANGEDSINCE 0.
//   - Unknown STATUS items (also in LIST's RETURN (STATUS ...)) are a
//     syntax error, found before any mailbox is looked at.
//   - "$" (SEARCHRES) is refused in QRESYNC's known-uids and
//     seq-match-data: no search result exists before SELECT.
package wire
