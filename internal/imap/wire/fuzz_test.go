package wire

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"mailroom/internal/connbuf"
)

// fuzzLimits are small so that the fuzzer reaches them.
const (
	fuzzMaxLine   = 256
	fuzzMaxInline = 128
)

func fuzzLimits() Limits {
	return Limits{MaxLine: fuzzMaxLine, MaxLiteral: 1024, MaxInlineLiteral: fuzzMaxInline, MaxDepth: 6}
}

// readerNames are the top-level readers the decoder fuzz target drives,
// one per command, chosen by the fuzzer.
var readerNames = []string{
	"atom", "astring", "nstring", "mailbox", "listmailbox", "flaglist", "seqset",
	"datetime", "date", "fetch", "search", "literal", "number64", "list", "string8", "line",
}

// runScript reads commands from br until the input ends or the decoder
// gives up, and returns a transcript of everything it read; the transcript
// must not depend on how the input is chunked.
func runScript(t *testing.T, br *connbuf.Reader, which uint8) string {
	var out strings.Builder
	d := NewDecoder(br, fuzzLimits(), func(n int64) error {
		fmt.Fprintf(&out, "+%d ", n)
		if n > 512 {
			return errors.New("no")
		}
		return nil
	})
	for cmd := 0; cmd < 64; cmd++ {
		tag, err := d.ReadTag()
		if err == io.EOF || errors.Is(err, ErrResync) || err != nil && !isSyntax(err) {
			fmt.Fprintf(&out, "end %v\n", err)
			break
		}
		fmt.Fprintf(&out, "tag %q ", tag)
		if err == nil {
			err = d.ExpectSP()
		}
		if err == nil {
			if name := commandWord(d); name != "" {
				// A command this package has a reader for: read it as
				// the session would, through the line end.
				err = runCommand(d, name, &out)
			} else {
				name := readerNames[(int(which)+cmd)%len(readerNames)]
				err = runReader(d, name, &out)
				if err == nil {
					err = d.ExpectCRLF()
				}
			}
		}
		fmt.Fprintf(&out, "err %v\n", err)
		if err != nil {
			if derr := d.DiscardLine(); derr != nil {
				fmt.Fprintf(&out, "discard %v\n", derr)
				break
			}
		}
		// bounded memory: the buffers never outgrow the limits
		if cap(d.line) > 2*fuzzMaxLine+64 || cap(d.litb) > fuzzMaxInline {
			t.Fatalf("buffers grew: line %d, literal %d", cap(d.line), cap(d.litb))
		}
		if d.depth != 0 && !d.inCmd {
			t.Fatalf("depth %d left after a command", d.depth)
		}
	}
	return out.String()
}

func isSyntax(err error) bool {
	var se *SyntaxError
	var tl *LiteralTooLargeError
	var re *RefusedError
	return errors.As(err, &se) || errors.As(err, &tl) || errors.As(err, &re)
}

func runReader(d *Decoder, name string, out *strings.Builder) error {
	var v any
	var err error
	switch name {
	case "atom":
		v, err = d.ReadAtom()
	case "astring":
		v, err = d.ReadAString()
	case "nstring":
		var ok bool
		var s string
		s, ok, err = d.ReadNString()
		v = fmt.Sprint(s, ok)
	case "mailbox":
		v, err = d.ReadMailbox()
	case "listmailbox":
		v, err = d.ReadListMailbox()
	case "flaglist":
		v, err = d.ReadFlagList()
	case "seqset":
		var s SeqSet
		var saved bool
		s, saved, err = d.ReadSequenceSet()
		v = fmt.Sprint(s.String(), saved)
	case "datetime":
		v, err = d.ReadDateTime()
	case "date":
		v, err = d.ReadDate()
	case "fetch":
		var items []FetchItem
		items, err = d.ReadFetchItems()
		if err == nil && d.SP() {
			var m FetchModifiers
			m, err = d.ReadFetchModifiers()
			v = fmt.Sprintf("%+v", m)
		}
		v = fmt.Sprint(dumpItems(items), v)
	case "search":
		var s *Search
		s, err = d.ReadSearch()
		if err == nil {
			v = dumpKey(s.Key) + s.Charset + fmt.Sprint(s.Return)
		}
	case "literal":
		var l *Literal
		l, err = d.LiteralReader()
		if err == nil {
			var b []byte
			b, err = io.ReadAll(io.LimitReader(l, l.Size/2+1))
			v = fmt.Sprint(l.Size, l.Binary, l.NonSync, crc32.ChecksumIEEE(b))
		}
	case "number64":
		v, err = d.ReadNumber64()
	case "list":
		var items []string
		var item func() error
		item = func() error {
			if c, _ := d.Peek(); c == '(' {
				return d.ReadList(item)
			}
			s, err := d.ReadAString()
			items = append(items, s)
			return err
		}
		err = d.ReadList(item)
		v = items
	case "string8":
		v, err = d.ReadString8()
	case "line":
		// the raw line reader is used between commands; here it ends one
		if err = d.ExpectCRLF(); err == nil {
			var b []byte
			b, err = d.ReadLine()
			v = string(b)
			if err == nil {
				// keep the script's ExpectCRLF meaningful: no command open
				fmt.Fprintf(out, "%s=%q ", name, v)
				return errLineDone
			}
		}
	}
	fmt.Fprintf(out, "%s=%q ", name, fmt.Sprint(v))
	return err
}

// commandNames are the commands the fuzz target reads with their command
// readers when a line starts with one (after the tag).
var commandNames = []string{
	"LOGIN", "AUTHENTICATE", "ENABLE", "COMPRESS", "ID", "SELECT", "EXAMINE", "CREATE", "DELETEACL", "DELETE", "SUBSCRIBE",
	"RENAME", "LIST", "LSUB", "STATUS", "APPEND", "STORE", "COPY", "MOVE", "FETCH", "SEARCH", "SORT", "THREAD", "UID",
	"GENURLAUTH", "URLFETCH", "RESETKEY", "SETACL", "GETACL", "LISTRIGHTS", "MYRIGHTS", "GETMETADATA", "SETMETADATA",
}

// commandWord consumes a command name from commandNames if one is next.
func commandWord(d *Decoder) string {
	for _, name := range commandNames {
		if d.peekWord(name) {
			d.pos += len(name)
			return name
		}
	}
	return ""
}

// runCommand reads a command's arguments with its reader and records what
// was read.
func runCommand(d *Decoder, name string, out *strings.Builder) error {
	var v any
	var err error
	switch name {
	case "LOGIN":
		v, err = d.ReadLogin()
	case "AUTHENTICATE":
		var a Authenticate
		a, err = d.ReadAuthenticate()
		v = a
		if err == nil && !a.HasInitialResponse {
			// one challenge's answer, a line outside the command
			fmt.Fprintf(out, "%s=%s ", name, show(v))
			var resp []byte
			resp, err = d.ReadAuthenticateResponse()
			name, v = "response", resp
		}
	case "ENABLE":
		v, err = d.ReadEnable()
	case "COMPRESS":
		v, err = d.ReadCompress()
	case "ID":
		v, err = d.ReadID()
	case "SELECT", "EXAMINE":
		v, err = d.ReadSelect()
	case "CREATE":
		v, err = d.ReadCreate()
	case "DELETE", "SUBSCRIBE":
		v, err = d.ReadMailboxArg()
	case "RENAME":
		v, err = d.ReadRename()
	case "SETACL":
		v, err = d.ReadACL(ACLIdentifierRights)
	case "DELETEACL", "LISTRIGHTS":
		v, err = d.ReadACL(ACLIdentifier)
	case "GETACL", "MYRIGHTS":
		v, err = d.ReadACL(ACLMailbox)
	case "GETMETADATA":
		v, err = d.ReadGetMetadata()
	case "SETMETADATA":
		var m SetMetadata
		m, err = d.ReadSetMetadata(SetMetadataLimits{MaxEntries: 4, MaxValue: 64, MaxTotal: 100})
		if err == nil {
			total := 0
			for _, e := range m.Entries {
				total += len(e.Value)
				if len(e.Value) > fuzzMaxLine && len(e.Value) > 64 {
					panic(fmt.Sprintf("value of %d octets past the limits", len(e.Value)))
				}
			}
			if len(m.Entries) > 4 || total > 100+fuzzMaxLine {
				panic(fmt.Sprintf("%d entries, %d octets past the limits", len(m.Entries), total))
			}
		}
		v = m
	case "LIST":
		v, err = d.ReadListCommand()
	case "LSUB":
		v, err = d.ReadLsub()
	case "STATUS":
		v, err = d.ReadStatus()
	case "APPEND":
		var a Append
		if a, err = d.ReadAppend(); err != nil {
			break
		}
		fmt.Fprintf(out, "%s=%s ", name, show(a))
		for i := 0; i < 8; i++ {
			m, ok, e := d.ReadAppendMessage()
			if err = e; err != nil || !ok {
				break
			}
			if m.Catenate {
				fmt.Fprintf(out, "cat=%s,%d ", show(m.Flags), m.Date.Unix())
				err = runCatenate(d, out)
				if err != nil {
					break
				}
				continue
			}
			// read half of it: the decoder skips the rest
			b, e := io.ReadAll(io.LimitReader(m.Literal, m.Literal.Size/2+1))
			fmt.Fprintf(out, "msg=%s,%d,%v,%x ", show(m.Flags), m.Date.Unix(), m.Literal.Binary, crc32.ChecksumIEEE(b))
			if err = e; err != nil {
				break
			}
		}
		v = "end"
	case "GENURLAUTH":
		v, err = d.ReadGenURLAuth()
	case "URLFETCH":
		v, err = d.ReadURLFetch()
	case "RESETKEY":
		v, err = d.ReadResetKey()
	case "STORE":
		v, err = d.ReadStore()
	case "COPY", "MOVE":
		v, err = d.ReadCopy()
	case "FETCH":
		v, err = d.ReadFetch()
	case "SEARCH":
		var s *Search
		if err = d.ExpectSP(); err == nil {
			if s, err = d.ReadSearch(); err == nil {
				v = dumpKey(s.Key) + s.Charset + fmt.Sprint(s.Return)
				err = d.ExpectCRLF()
			}
		}
	case "SORT":
		var q *Sort
		if err = d.ExpectSP(); err == nil {
			if q, err = d.ReadSort(); err == nil {
				v = fmt.Sprint(q.Criteria, q.Charset, q.Return, q.Return != nil && q.Return.Partial != nil, q.Update, len(q.UpdateFetch)) + dumpKey(q.Key)
				if q.Return != nil && q.Return.Partial != nil {
					p := *q.Return.Partial
					if p.Lo == 0 || p.Lo > p.Hi {
						panic(fmt.Sprintf("bad partial range %+v", p))
					}
					v = fmt.Sprint(v, p)
				}
				err = d.ExpectCRLF()
			}
		}
	case "THREAD":
		var q *Thread
		if err = d.ExpectSP(); err == nil {
			if q, err = d.ReadThread(); err == nil {
				v = q.Algorithm + q.Charset + dumpKey(q.Key)
				err = d.ExpectCRLF()
			}
		}
	case "UID":
		var sub string
		if err = d.ExpectSP(); err == nil {
			sub, err = d.ReadAtom()
		}
		switch {
		case err != nil:
		case strings.EqualFold(sub, "EXPUNGE"):
			v, err = d.ReadUIDExpunge()
		case strings.EqualFold(sub, "FETCH"), strings.EqualFold(sub, "STORE"), strings.EqualFold(sub, "COPY"),
			strings.EqualFold(sub, "MOVE"), strings.EqualFold(sub, "SEARCH"), strings.EqualFold(sub, "SORT"),
			strings.EqualFold(sub, "THREAD"):
			return runCommand(d, strings.ToUpper(sub), out)
		default:
			err = &SyntaxError{Msg: "not a UID command"}
		}
	}
	fmt.Fprintf(out, "%s=%s ", name, show(v))
	return err
}

// runCatenate reads a CATENATE message's parts, half of each TEXT
// literal (the decoder skips the rest).
func runCatenate(d *Decoder, out *strings.Builder) error {
	for first := true; ; first = false {
		p, ok, err := d.ReadCatenatePart(first)
		if err != nil || !ok {
			return err
		}
		if p.Text == nil {
			fmt.Fprintf(out, "url=%q ", p.URL)
			continue
		}
		b, err := io.ReadAll(io.LimitReader(p.Text, p.Text.Size/2+1))
		fmt.Fprintf(out, "text=%d,%x ", p.Text.Size, crc32.ChecksumIEEE(b))
		if err != nil {
			return err
		}
	}
}

// errLineDone marks the "line" reader, which consumes whole lines itself.
var errLineDone = &SyntaxError{Msg: "line read"}

func FuzzDecoder(f *testing.F) {
	for _, s := range []string{
		"a1 UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To)])\r\n",
		"a FETCH 1 (BODY[1.2.MIME]<0.10> BINARY.PEEK[1] PREVIEW (LAZY)) (CHANGEDSINCE 5 VANISHED)\r\n",
		"t SEARCH RETURN (MIN SAVE) CHARSET UTF-8 OR (SEEN $) NOT MODSEQ \"/flags/\\\\seen\" all 5 SINCE 1-Feb-1994\r\n",
		"a APPEND INBOX (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {5}\r\nhello\r\n",
		"a APPEND INBOX ~{3+}\r\na\x00b\r\nb NOOP\r\n",
		"a LOGIN {3+}\r\nabc {2}\r\nxy\r\n",
		"a LOGIN (bad) {5000+}\r\nxx\r\n",
		"x \"quo\\\"ted\" nil {0}\r\n\r\n",
		"a LIST \"\" %/*\r\n",
		"t 1:*,3,5:7\r\nt $\r\n",
		"t ((a (b)) c)\r\n",
		"t 01-Feb-2000\r\n",
		strings.Repeat("x", 300) + "\r\n",
		"a\nb\r\n\r\n",
		"a SELECT INBOX (CONDSTORE QRESYNC (67890007 90060115194045000 1:29997 (5000,7500 15000,22500)))\r\n",
		"a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"INBOX\" %) RETURN (CHILDREN STATUS (MESSAGES UNSEEN))\r\nb LSUB \"\" *\r\n",
		"a STATUS {5+}\r\nInbox (UIDNEXT MESSAGES HIGHESTMODSEQ)\r\n",
		"a UID STORE 1:*,$ (UNCHANGEDSINCE 12) -FLAGS.SILENT \\Seen $Junk\r\nb STORE 1 FLAGS (\\Deleted)\r\n",
		"a APPEND INBOX (\\Seen) \"07-Feb-1994 21:52:25 -0800\" {3}\r\none ~{4+}\r\nt\x00re {2000}\r\n",
		"a UID COPY 1:3 \"Old Mail\"\r\nb MOVE $ Trash\r\nc UID EXPUNGE 3000:3002\r\n",
		"a CREATE Archive (USE (\\Archive))\r\nb RENAME a {1+}\r\nb\r\nc DELETE x\r\nd SUBSCRIBE y\r\n",
		"a ENABLE IMAP4rev2 QRESYNC\r\nb ID (\"name\" \"x\" \"os\" NIL)\r\nc ID NIL\r\n",
		"a COMPRESS DEFLATE\r\nb COMPRESS \"x\"\r\nc COMPRESS\r\n",
		"a LOGIN {3+}\r\njoe pw\r\nb AUTHENTICATE PLAIN\r\nAGpvZQBzZWNyZXQ=\r\nc AUTHENTICATE PLAIN =\r\n",
		"a FETCH 1:* (FLAGS) (CHANGEDSINCE 3)\r\nb UID SEARCH RETURN (SAVE) ALL\r\n",
		"a APPEND Drafts (\\Seen) CATENATE (TEXT {3+}\r\nabc URL \"/INBOX;UIDVALIDITY=7/;UID=2/;SECTION=1\") CATENATE (URL x) {2+}\r\nhi\r\n",
		"a APPEND x catenate (text {4}\r\n\r\n\r\n url {3}\r\n;u= text ~{1+}\r\n\x00)\r\n",
		"a GENURLAUTH \"imap://j@h/INBOX/;UID=1;URLAUTH=anonymous\" INTERNAL {1+}\r\nx y\r\n",
		"a URLFETCH url (\"u\" BINARY BODYPARTSTRUCTURE) (v)\r\nb RESETKEY\r\nc RESETKEY INBOX INTERNAL\r\n",
		"a UID SORT RETURN (MIN PARTIAL -1:-50) (REVERSE DATE subject DISPLAYFROM) UTF-8 UNSEEN\r\nb SORT (ARRIVAL) \"US-ASCII\" 1:*\r\n",
		"a UID SORT RETURN (UPDATE (FLAGS) CONTEXT COUNT) (REVERSE DATE SUBJECT) UTF-8 UNSEEN\r\nb SORT RETURN (UPDATE) (ARRIVAL) UTF-8 ALL\r\n",
		"a THREAD REFERENCES UTF-8 ALL\r\nb UID THREAD orderedsubject us-ascii OR SEEN (FROM x)\r\nc SEARCH RETURN (PARTIAL 4:2 COUNT) ALL\r\n",
		"a SETACL INBOX/Drafts Chris +cda\r\nb DELETEACL {5+}\r\nINBOX Fred\r\nc GETACL x\r\nd LISTRIGHTS a \"b\"\r\ne MYRIGHTS y z\r\n",
		"a GETMETADATA (MAXSIZE 1024 DEPTH infinity) \"\" (/shared /private/vendor)\r\nb GETMETADATA INBOX (DEPTH 1) /private/comment\r\n",
		"a SETMETADATA INBOX (/private/comment {4+}\r\na\r\nb /shared/x ~{3+}\r\na\x00b /shared/y NIL /shared/z \"\")\r\nb SETMETADATA \"\" (/shared/a* x)\r\n",
	} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(9))
		f.Add([]byte(s), uint8(10))
	}
	f.Fuzz(func(t *testing.T, in []byte, which uint8) {
		whole := runScript(t, connbuf.NewReader(bytes.NewReader(in)), which)
		oneByte := runScript(t, connbuf.NewReader(iotest.OneByteReader(bytes.NewReader(in))), which)
		if whole != oneByte {
			t.Fatalf("chunking changes the result:\n%s\n---\n%s", whole, oneByte)
		}
	})
}

func FuzzMUTF7(f *testing.F) {
	for _, s := range []string{"~peter/mail/台北/日本語", "&", "Entwürfe", "𝄞&x", "a\x00\x7f", "&U,BTFw-", "&-&AGE-", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if utf8.ValidString(s) {
			enc := EncodeMUTF7(s)
			for i := 0; i < len(enc); i++ {
				if enc[i] < 0x20 || enc[i] > 0x7e {
					t.Fatalf("EncodeMUTF7(%q) = %q: not printable ASCII", s, enc)
				}
			}
			dec, err := DecodeMUTF7(enc)
			if err != nil || dec != s {
				t.Fatalf("DecodeMUTF7(EncodeMUTF7(%q)) = %q, %v", s, dec, err)
			}
		}
		if dec, err := DecodeMUTF7(s); err == nil {
			if !utf8.ValidString(dec) {
				t.Fatalf("DecodeMUTF7(%q) = %q: invalid UTF-8", s, dec)
			}
			if again, err := DecodeMUTF7(EncodeMUTF7(dec)); err != nil || again != dec {
				t.Fatalf("re-encoding %q: %q %v", dec, again, err)
			}
		}
	})
}

func FuzzParseSeqSet(f *testing.F) {
	for _, s := range []string{"1:*,3,5:7", "*", "4294967295:1", "3,3,3"} {
		f.Add(s, uint32(10))
	}
	f.Fuzz(func(t *testing.T, s string, max uint32) {
		set, err := ParseSeqSet(s)
		if err != nil {
			return
		}
		again, err := ParseSeqSet(set.String())
		if err != nil || again.String() != set.String() {
			t.Fatalf("round trip %q: %q %v", s, again, err)
		}
		r := set.Resolve(max)
		for i, x := range r {
			if x.Start == 0 || x.Start > x.Stop || i > 0 && uint64(r[i-1].Stop)+1 >= uint64(x.Start) {
				t.Fatalf("Resolve(%q, %d) = %v: not compact", s, max, r)
			}
		}
		for _, n := range []uint32{1, 2, max / 2, max, max + 1, set[0].Start, set[0].Stop} {
			if set.Contains(n, max) != r.Contains(n, max) {
				t.Fatalf("Contains(%d) differs between %q and its resolved form %v", n, s, r)
			}
		}
	})
}
