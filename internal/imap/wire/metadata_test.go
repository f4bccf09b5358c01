package wire

import (
	"errors"
	"strings"
	"testing"
)

func TestReadGetMetadata(t *testing.T) {
	read := func(d *Decoder) (GetMetadata, error) { return d.ReadGetMetadata() }
	with := func(g GetMetadata) GetMetadata {
		if g.MaxSize == 0 {
			g.MaxSize = -1
		}
		return g
	}
	runCmdCases(t, read, []cmdCase[GetMetadata]{
		// RFC 5464's examples (4.2, 4.2.1, 4.2.2, 4.4.1).
		{in: `a GETMETADATA "" /shared/comment`, want: with(GetMetadata{Mailbox: "", Entries: []string{"/shared/comment"}})},
		{in: `a GETMETADATA "INBOX" /private/comment`, want: with(GetMetadata{Mailbox: "INBOX", Entries: []string{"/private/comment"}})},
		{in: `a GETMETADATA "INBOX" (/shared/comment /private/comment)`, want: with(GetMetadata{Mailbox: "INBOX", Entries: []string{"/shared/comment", "/private/comment"}})},
		{in: `a GETMETADATA "INBOX" (MAXSIZE 1024) (/shared/comment /private/comment)`, want: GetMetadata{Mailbox: "INBOX", MaxSize: 1024, Entries: []string{"/shared/comment", "/private/comment"}}},
		{in: `a GETMETADATA "INBOX" (DEPTH 1) (/private/filters/values)`, want: with(GetMetadata{Mailbox: "INBOX", Depth: Depth1, Entries: []string{"/private/filters/values"}})},
		// The syntax's order: options first.
		{in: `a GETMETADATA (MAXSIZE 1024 DEPTH infinity) INBOX /shared`, want: GetMetadata{Mailbox: "INBOX", MaxSize: 1024, Depth: DepthInfinity, Entries: []string{"/shared"}}},
		{in: `a getmetadata (depth 0) "Other Users/kim@example.org/Team" ("/Private/Comment")`, want: with(GetMetadata{Mailbox: "Other Users/kim@example.org/Team", Entries: []string{"/Private/Comment"}})},
		{in: "a GETMETADATA inbox {15+}\r\n/shared/comment", want: with(GetMetadata{Mailbox: "INBOX", Entries: []string{"/shared/comment"}})},
		{in: `a GETMETADATA INBOX (/private /shared/vendor)`, want: with(GetMetadata{Mailbox: "INBOX", Entries: []string{"/private", "/shared/vendor"}})},

		{in: `a GETMETADATA INBOX`, err: "expected a space"},
		{in: `a GETMETADATA INBOX ()`, err: "at least one entry"},
		{in: `a GETMETADATA INBOX /comment`, err: `must start with "/private" or "/shared"`},
		{in: `a GETMETADATA INBOX comment`, err: `must start with "/private" or "/shared"`},
		{in: `a GETMETADATA INBOX /shared/*`, err: `"*" and "%"`},
		{in: `a GETMETADATA INBOX "/shared/a%"`, err: `"*" and "%"`},
		{in: `a GETMETADATA INBOX /shared//comment`, err: "empty component"},
		{in: `a GETMETADATA INBOX /shared/`, err: "empty component"},
		{in: "a GETMETADATA INBOX {16+}\r\n/shared/\x01comment", err: "control or non-ASCII"},
		{in: `a GETMETADATA INBOX "/shared/caf` + "\xc3\xa9" + `"`, err: "control or non-ASCII"},
		{in: `a GETMETADATA (MAXSIZE 10 MAXSIZE 20) INBOX /shared`, err: "given twice"},
		{in: `a GETMETADATA (DEPTH 2) INBOX /shared`, err: "DEPTH is 0, 1 or infinity"},
		{in: `a GETMETADATA (FOO 2) INBOX /shared`, err: "unknown GETMETADATA option"},
		{in: `a GETMETADATA () INBOX /shared`, err: "empty GETMETADATA options"},
		{in: `a GETMETADATA (MAXSIZE -1) INBOX /shared`, err: "number"},
		{in: `a GETMETADATA (MAXSIZE 1) INBOX (DEPTH 1) /shared`, err: "must start"},
		{in: `a GETMETADATA INBOX /shared x`, err: "expected end of line"},
		// Bounded: a long name (literal or not) and too many names.
		{in: "a GETMETADATA INBOX {1025+}\r\n/shared/" + strings.Repeat("x", 1017), err: "an entry name is at most 1024 octets, not 1025"},
		{in: "a GETMETADATA INBOX (/shared/a {2000}", err: "an entry name is at most 1024 octets, not 2000"},
		{in: `a GETMETADATA INBOX "/shared/` + strings.Repeat("x", 1020) + `"`, err: "an entry name is at most 1024 octets"},
		{in: "a GETMETADATA INBOX (" + strings.Repeat("/shared/a ", 1000) + "/shared/b)", err: "more than 1000 entry names"},
	})
}

func TestReadSetMetadata(t *testing.T) {
	lim := SetMetadataLimits{MaxEntries: 3, MaxValue: 20, MaxTotal: 30}
	read := func(d *Decoder) (SetMetadata, error) { return d.ReadSetMetadata(lim) }
	// The examples within roomier limits (RFC 5464's carry 34 octets).
	roomy := func(d *Decoder) (SetMetadata, error) {
		return d.ReadSetMetadata(SetMetadataLimits{MaxEntries: 3, MaxValue: 20, MaxTotal: 100})
	}
	v := func(name, value string) MetadataValue { return MetadataValue{Name: name, Value: []byte(value)} }
	runCmdCases(t, roomy, []cmdCase[SetMetadata]{
		// RFC 5464 4.3's examples.
		{in: "a SETMETADATA INBOX (/private/comment {18}\r\nMy new comment\r\nok)", want: SetMetadata{Mailbox: "INBOX", Entries: []MetadataValue{v("/private/comment", "My new comment\r\nok")}}},
		{in: `a SETMETADATA INBOX (/private/comment NIL)`, want: SetMetadata{Mailbox: "INBOX", Entries: []MetadataValue{{Name: "/private/comment"}}}},
		{in: `a SETMETADATA INBOX (/private/comment "My new comment" /shared/comment "This one is for you!")`,
			want: SetMetadata{Mailbox: "INBOX", Entries: []MetadataValue{v("/private/comment", "My new comment"), v("/shared/comment", "This one is for you!")}}},
		{in: `a SETMETADATA "" (/private/vendor/example/x "")`, want: SetMetadata{Entries: []MetadataValue{v("/private/vendor/example/x", "")}}},
		// literal8 carries NUL; a non-synchronizing literal.
		{in: "a SETMETADATA INBOX (/shared/x ~{3}\r\na\x00b /shared/y {2+}\r\nhi)", want: SetMetadata{Mailbox: "INBOX", Entries: []MetadataValue{v("/shared/x", "a\x00b"), v("/shared/y", "hi")}}},

		{in: `a SETMETADATA INBOX ()`, err: "at least one entry"},
		{in: `a SETMETADATA INBOX /private/comment "x"`, err: `"("`},
		{in: `a SETMETADATA INBOX (/private/comment)`, err: "expected a space"},
		{in: `a SETMETADATA INBOX (/private "x")`, err: "needs a name below"},
		{in: `a SETMETADATA INBOX (/shared/vendor/example "x")`, err: "vendor entry"},
		{in: `a SETMETADATA INBOX (/shared/a* "x")`, err: `"*" and "%"`},
		{in: `a SETMETADATA INBOX (/shared/a atom)`, err: "a value"},
		{in: "a SETMETADATA INBOX (/shared/a {3}\r\na\x00b)", err: "NUL"},
		{in: `a SETMETADATA INBOX (/shared/a "x") extra`, err: "expected end of line"},
	})

	// Past the limits: too many entries, a literal too large for one
	// value or for what is left of the total; the rest is skipped.
	for _, c := range []struct {
		in      string
		tooMany bool
		total   bool // the command's total ran out, not a value's limit
		max     int64
	}{
		{in: `a SETMETADATA INBOX (/shared/a "1" /shared/b "2" /shared/c "3" /shared/d "4")`, tooMany: true},
		{in: "a SETMETADATA INBOX (/shared/a {21}", max: 20},
		{in: "a SETMETADATA INBOX (/shared/a {21+}\r\n" + strings.Repeat("x", 21) + ")", max: 20},
		{in: "a SETMETADATA INBOX (/shared/a {20+}\r\n" + strings.Repeat("x", 20) + " /shared/b {11}", total: true},
		{in: "a SETMETADATA INBOX (/shared/a {20+}\r\n" + strings.Repeat("x", 20) + " /shared/b {21}", max: 10},
		{in: `a SETMETADATA INBOX (/shared/a "` + strings.Repeat("x", 20) + `" /shared/b "` + strings.Repeat("y", 11) + `")`, total: true},
	} {
		eachRig(t, c.in+"\r\n", Limits{}, func(t *testing.T, r *rig) {
			readCmd(t, r, read, func(_ SetMetadata, err error) {
				var many *TooManyEntriesError
				var big *LiteralTooLargeError
				var total *TotalTooLargeError
				switch {
				case c.tooMany && (!errors.As(err, &many) || many.Max != 3):
					t.Errorf("%q: %v, want too many entries", c.in, err)
				case c.total && (!errors.As(err, &total) || total.Max != 30):
					t.Errorf("%q: %v, want the total over 30", c.in, err)
				case c.total || c.tooMany:
				case !errors.As(err, &big) || big.Max != c.max:
					t.Errorf("%q: %v, want a literal refused over %d", c.in, err, c.max)
				}
			})
		})
	}
}

func TestCheckEntryName(t *testing.T) {
	for _, c := range []struct {
		name     string
		get, set bool
	}{
		{"/shared/comment", true, true},
		{"/PRIVATE/Comment", true, true},
		{"/shared/a b", true, true},
		{"/private", true, false},
		{"/shared/vendor", true, false},
		{"/shared/vendor/example", true, false},
		{"/shared/vendor/example/x", true, true},
		{"/private/vendorx", true, true},
		{"", false, false},
		{"/", false, false},
		{"/public/x", false, false},
		{"/shared/\x7f", false, false},
		{"/shared/\x19", false, false},
		{"/privatex/y", false, false},
	} {
		if got := CheckEntryName(c.name, false) == nil; got != c.get {
			t.Errorf("CheckEntryName(%q, get) ok = %v", c.name, got)
		}
		if got := CheckEntryName(c.name, true) == nil; got != c.set {
			t.Errorf("CheckEntryName(%q, set) ok = %v", c.name, got)
		}
	}
}

func TestEncodeMetadata(t *testing.T) {
	got := encode(false, func(e *Encoder) {
		e.Metadata([]MetadataValue{
			{Name: "/private/comment", Value: []byte("My own comment")},
			{Name: "/shared/a b", Value: []byte("two\r\nlines")},
			{Name: "/shared/bin", Value: []byte("a\x00b")},
			{Name: "/shared/empty", Value: []byte{}},
			{Name: "/shared/gone"},
		})
	})
	want := "(/private/comment \"My own comment\" \"/shared/a b\" {10}\r\ntwo\r\nlines /shared/bin ~{3}\r\na\x00b /shared/empty \"\" /shared/gone NIL)"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
