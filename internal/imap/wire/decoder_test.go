package wire

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// readOne runs one reader on "t " + arg + "\r\n" and checks the whole line
// was consumed when it succeeds.
func readOne[T any](t *testing.T, arg string, read func(d *Decoder) (T, error)) (T, error) {
	t.Helper()
	var got T
	var gotErr error
	eachRig(t, "t "+arg+"\r\n", Limits{}, func(t *testing.T, r *rig) {
		mustTag(t, r.d, "t")
		mustSP(t, r.d)
		v, err := read(r.d)
		if err == nil {
			// trailing garbage shows as an error at the line end
			err = r.d.ExpectCRLF()
		}
		got, gotErr = v, err
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not a *SyntaxError", err, err)
			}
			if derr := r.d.DiscardLine(); derr != nil {
				t.Fatalf("DiscardLine: %v", derr)
			}
			mustEOF(t, r.d)
			return
		}
		mustEOF(t, r.d)
	})
	return got, gotErr
}

func TestReadTag(t *testing.T) {
	for _, c := range []struct{ in, tag, err string }{
		{"a001 NOOP\r\n", "a001", ""},
		{"A.b]c NOOP\r\n", "A.b]c", ""},
		{"x\r\n", "x", ""},
		{"+x NOOP\r\n", "", "tag"},
		{"* NOOP\r\n", "", "tag"},
		{"(a NOOP\r\n", "", "tag"},
		{"\r\n", "", "empty command"},
		{" a NOOP\r\n", "", "tag"},
	} {
		eachRig(t, c.in, Limits{}, func(t *testing.T, r *rig) {
			tag, err := r.d.ReadTag()
			errContains(t, err, c.err)
			if tag != c.tag {
				t.Fatalf("%q: tag %q, want %q", c.in, tag, c.tag)
			}
			if err := r.d.DiscardLine(); err != nil {
				t.Fatal(err)
			}
			mustEOF(t, r.d)
		})
	}
}

func TestEOF(t *testing.T) {
	eachRig(t, "", Limits{}, func(t *testing.T, r *rig) { mustEOF(t, r.d) })
	eachRig(t, "a NOOP", Limits{}, func(t *testing.T, r *rig) {
		_, err := r.d.ReadTag()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("partial line: %v, want unexpected EOF", err)
		}
	})
}

func TestReadAtom(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{"FETCH", "FETCH", ""},
		{"fetch", "fetch", ""},
		{"Fetch", "Fetch", ""},
		{"X-ATOM.1", "X-ATOM.1", ""},
		{"", "", "end of line"},
		{"(x)", "", "atom"},
		{"a]b", "", "expected end of line"}, // "]" ends an atom
		{"caf\xc3\xa9", "", "end of line"},
	} {
		got, err := readOne(t, c.in, (*Decoder).ReadAtom)
		errContains(t, err, c.err)
		if err == nil && got != c.want {
			t.Errorf("ReadAtom(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestReadNumbers(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
		err  string
	}{
		{"0", 0, ""},
		{"4294967295", 4294967295, ""},
		{"4294967296", 0, "too large"},
		{"12x", 12, "expected end of line"},
		{"x", 0, "number"},
		{"", 0, "end of line"},
	} {
		got, err := readOne(t, c.in, (*Decoder).ReadNumber)
		errContains(t, err, c.err)
		if uint64(got) != c.want {
			t.Errorf("ReadNumber(%q) = %d, want %d", c.in, got, c.want)
		}
	}
	for _, c := range []struct {
		in   string
		want uint64
		err  string
	}{
		{"9223372036854775807", 1<<63 - 1, ""},
		{"9223372036854775808", 0, "too large"},
		{"18446744073709551616", 0, "too large"},
	} {
		got, err := readOne(t, c.in, (*Decoder).ReadNumber64)
		errContains(t, err, c.err)
		if got != c.want {
			t.Errorf("ReadNumber64(%q) = %d, want %d", c.in, got, c.want)
		}
	}
	for _, c := range []struct {
		in   string
		want uint32
		err  string
	}{
		{"1", 1, ""},
		{"0", 0, "non-zero"},
		{"01", 0, "non-zero"},
	} {
		got, err := readOne(t, c.in, (*Decoder).ReadNZNumber)
		errContains(t, err, c.err)
		if got != c.want {
			t.Errorf("ReadNZNumber(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestReadStrings(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{"abc", "abc", ""},
		{"a]b", "a]b", ""},
		{"~peter/mail", "~peter/mail", ""},
		{`"a b"`, "a b", ""},
		{`""`, "", ""},
		{`"q\"uo\\te"`, `q"uo\te`, ""},
		{"\"caf\xc3\xa9\"", "café", ""},
		{"{5}\r\nhello", "hello", ""},
		{"{0}\r\n", "", ""},
		{"{3+}\r\na\r\n", "a\r\n", ""},
		{"{4}\r\n\xff\xfe\r\n", "\xff\xfe\r\n", ""},
		{`"unterminated`, "", "unterminated"},
		{`"bad\n"`, "", "escape"},
		{"\"\xff\"", "", "UTF-8"},
		{"\"a\x00b\"", "", "NUL"},
		{"{3}x", "", "CRLF"},
		{"{}", "", "size"},
		{"{3", "", "}"},
		{"{3}\r\na\x00b", "", "NUL"},
		{"~{3}", "", "binary literal"}, // the client waits: nothing follows
		{"(x)", "", "string"},
		{"", "", "end of line"},
		{"a%b", "", "expected end of line"},
	} {
		got, err := readOne(t, c.in, (*Decoder).ReadAString)
		errContains(t, err, c.err)
		if err == nil && got != c.want {
			t.Errorf("ReadAString(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, want, err string }{
		{`"x"`, "x", ""},
		{"{1}\r\nx", "x", ""},
		{"x", "", "quoted"},
	} {
		got, err := readOne(t, c.in, (*Decoder).ReadString)
		errContains(t, err, c.err)
		if got != c.want {
			t.Errorf("ReadString(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	got, err := readOne(t, "~{3}\r\na\x00b", (*Decoder).ReadString8)
	if err != nil || got != "a\x00b" {
		t.Errorf("ReadString8 = %q, %v", got, err)
	}
}

func TestReadNString(t *testing.T) {
	type res struct {
		s  string
		ok bool
	}
	for _, c := range []struct {
		in   string
		want res
		err  string
	}{
		{"NIL", res{"", false}, ""},
		{"nil", res{"", false}, ""},
		{`"NIL"`, res{"NIL", true}, ""},
		{`""`, res{"", true}, ""},
		{"{2}\r\nab", res{"ab", true}, ""},
		{"NILS", res{}, "string or NIL"},
		{"abc", res{}, "string or NIL"},
	} {
		got, err := readOne(t, c.in, func(d *Decoder) (res, error) {
			s, ok, err := d.ReadNString()
			return res{s, ok}, err
		})
		errContains(t, err, c.err)
		if got != c.want {
			t.Errorf("ReadNString(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestReadMailbox(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"inbox", "INBOX"},
		{`"InBoX"`, "INBOX"},
		{"INBOX/Sub", "INBOX/Sub"},
		{"inbox/Sub", "inbox/Sub"},
		{"&U,BTFw-", "&U,BTFw-"},
		{"{5}\r\ninBox", "INBOX"},
	} {
		got, err := readOne(t, c.in, (*Decoder).ReadMailbox)
		if err != nil || got != c.want {
			t.Errorf("ReadMailbox(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"%", "%"},
		{"foo/*", "foo/*"},
		{`"*"`, "*"},
		{"a]%", "a]%"},
	} {
		got, err := readOne(t, c.in, (*Decoder).ReadListMailbox)
		if err != nil || got != c.want {
			t.Errorf("ReadListMailbox(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestReadFlagList(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{`(\Seen \answered $Forwarded foo \X-Ext)`, `\Seen \Answered $Forwarded foo \X-Ext`, ""},
		{`()`, ``, ""},
		{`(\DRAFT)`, `\Draft`, ""},
		{`(\*)`, "", "flag name"},
		{`(\Seen`, "", "end of line"},
		{`(\Seen  \Draft)`, "", "flag"},
		{`( \Seen)`, "", "flag"},
		{`\Seen`, "", `"("`},
		{`("Seen")`, "", "flag"},
	} {
		got, err := readOne(t, c.in, func(d *Decoder) ([]string, error) {
			// the arena is reused by the next command: keep a copy
			f, err := d.ReadFlagList()
			return slices.Clone(f), err
		})
		errContains(t, err, c.err)
		if err == nil && strings.Join(got, " ") != c.want {
			t.Errorf("ReadFlagList(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestReadListDepth(t *testing.T) {
	var item func(d *Decoder) func() error
	item = func(d *Decoder) func() error {
		return func() error {
			if c, _ := d.Peek(); c == '(' {
				return d.ReadList(item(d))
			}
			_, err := d.ReadAtom()
			return err
		}
	}
	read := func(d *Decoder) (bool, error) { return true, d.ReadList(item(d)) }
	ok := strings.Repeat("(", DefaultMaxDepth) + "a" + strings.Repeat(")", DefaultMaxDepth)
	if _, err := readOne(t, ok, read); err != nil {
		t.Fatalf("depth %d: %v", DefaultMaxDepth, err)
	}
	deep := "(" + ok + ")"
	_, err := readOne(t, deep, read)
	errContains(t, err, "nested")
	_, err = readOne(t, "(a b (c d) ())", read)
	errContains(t, err, "")
}

func TestReadDateTime(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Time
		err  string
	}{
		{`"17-Jul-1996 02:44:25 -0700"`, time.Date(1996, 7, 17, 9, 44, 25, 0, time.UTC), ""},
		{`" 5-jul-1996 02:44:25 +0000"`, time.Date(1996, 7, 5, 2, 44, 25, 0, time.UTC), ""},
		{`"29-Feb-2024 23:59:59 +0130"`, time.Date(2024, 2, 29, 22, 29, 59, 0, time.UTC), ""},
		{`"29-Feb-2023 00:00:00 +0000"`, time.Time{}, "invalid date-time"},
		{`"17-Jux-1996 02:44:25 -0700"`, time.Time{}, "invalid date-time"},
		{`"17-Jul-1996 24:00:00 -0700"`, time.Time{}, "invalid date-time"},
		{`"17-Jul-1996 02:44:25 -0760"`, time.Time{}, "invalid date-time"},
		{`"7-Jul-1996 02:44:25 -0700"`, time.Time{}, "invalid date-time"},
		{`17-Jul-1996 02:44:25 -0700`, time.Time{}, "double quotes"},
		{`"17-Jul-1996"`, time.Time{}, "invalid date-time"},
	} {
		got, err := readOne(t, c.in, (*Decoder).ReadDateTime)
		errContains(t, err, c.err)
		if !got.Equal(c.want) {
			t.Errorf("ReadDateTime(%s) = %v, want %v", c.in, got, c.want)
		}
	}
	got, _ := readOne(t, `"17-Jul-1996 02:44:25 -0700"`, (*Decoder).ReadDateTime)
	if _, off := got.Zone(); off != -7*3600 {
		t.Errorf("zone offset %d, want -7h", off)
	}
}

func TestReadDate(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Time
		err  string
	}{
		{"1-Feb-1994", time.Date(1994, 2, 1, 0, 0, 0, 0, time.UTC), ""},
		{"01-feb-1994", time.Date(1994, 2, 1, 0, 0, 0, 0, time.UTC), ""},
		{`"31-Dec-2020"`, time.Date(2020, 12, 31, 0, 0, 0, 0, time.UTC), ""},
		{"32-Jan-2000", time.Time{}, "invalid date"},
		{"1-Foo-2000", time.Time{}, "invalid date"},
		{"1-Feb-19945", time.Time{}, "invalid date"},
		{"001-Feb-1994", time.Time{}, "invalid date"},
		{`"1-Feb-1994`, time.Time{}, "invalid date"},
		{"1-Feb-94", time.Time{}, "invalid date"},
		{"", time.Time{}, "invalid date"},
	} {
		got, err := readOne(t, c.in, (*Decoder).ReadDate)
		errContains(t, err, c.err)
		if !got.Equal(c.want) {
			t.Errorf("ReadDate(%s) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestPeekSPCRLF(t *testing.T) {
	eachRig(t, "a NOOP\r\nb X Y\n", Limits{}, func(t *testing.T, r *rig) {
		d := r.d
		mustTag(t, d, "a")
		if c, _ := d.Peek(); c != ' ' {
			t.Fatalf("Peek = %q", c)
		}
		if d.CRLF() || !d.SP() || d.SP() {
			t.Fatal("SP/CRLF misreport")
		}
		if a, _ := d.ReadAtom(); a != "NOOP" {
			t.Fatal(a)
		}
		if c, _ := d.Peek(); c != '\r' {
			t.Fatalf("Peek at end = %q", c)
		}
		if !d.CRLF() {
			t.Fatal("CRLF not seen")
		}
		if _, err := d.ReadAtom(); err == nil {
			t.Fatal("read after the command ended")
		}
		// bare LF ends a line too
		mustTag(t, d, "b")
		mustSP(t, d)
		d.ReadAtom()
		mustSP(t, d)
		errContains(t, d.ExpectSP(), "expected a space")
		errContains(t, d.ExpectCRLF(), "expected end of line")
		if err := d.DiscardLine(); err != nil {
			t.Fatal(err)
		}
		mustEOF(t, d)
	})
}

func TestLineTooLong(t *testing.T) {
	long := strings.Repeat("x", 100)
	in := "a1 LOGIN " + long + " pw\r\na2 NOOP\r\n"
	eachRig(t, in, Limits{MaxLine: 40}, func(t *testing.T, r *rig) {
		d := r.d
		mustTag(t, d, "a1")
		mustSP(t, d)
		d.ReadAtom()
		mustSP(t, d)
		_, err := d.ReadAString()
		errContains(t, err, "too long")
		if err := d.DiscardLine(); err != nil {
			t.Fatal(err)
		}
		mustTag(t, d, "a2")
		mustSP(t, d)
		d.ReadAtom()
		mustCRLF(t, d)
		mustEOF(t, d)
	})
	// the tag of an overlong line is still read, so the BAD can be tagged
	eachRig(t, "t1 "+long+"\r\n", Limits{MaxLine: 20}, func(t *testing.T, r *rig) {
		mustTag(t, r.d, "t1")
		mustSP(t, r.d)
		_, err := r.d.ReadAtom()
		errContains(t, err, "too long")
		r.d.DiscardLine()
		mustEOF(t, r.d)
	})
}

func TestReadLine(t *testing.T) {
	eachRig(t, "a AUTHENTICATE PLAIN\r\ndGVzdA==\r\n"+strings.Repeat("y", 50)+"\r\nDONE\r\n", Limits{MaxLine: 30},
		func(t *testing.T, r *rig) {
			d := r.d
			mustTag(t, d, "a")
			mustSP(t, d)
			d.ReadAtom()
			mustSP(t, d)
			d.ReadAtom()
			mustCRLF(t, d)
			if l, err := d.ReadLine(); err != nil || string(l) != "dGVzdA==" {
				t.Fatalf("ReadLine = %q, %v", l, err)
			}
			_, err := d.ReadLine()
			errContains(t, err, "too long")
			if l, err := d.ReadLine(); err != nil || string(l) != "DONE" {
				t.Fatalf("ReadLine = %q, %v", l, err)
			}
			mustEOF(t, d)
		})
}

// TestCommandSequence reads a few real client commands end to end.
func TestCommandSequence(t *testing.T) {
	in := "a1 LOGIN \"user@example.org\" {6}\r\nsecret\r\n" +
		"a2 SELECT INBOX (CONDSTORE)\r\n" +
		"a3 UID STORE 1:3 +FLAGS.SILENT (\\Deleted)\r\n" +
		"a4 LIST \"\" \"*\"\r\n"
	eachRig(t, in, Limits{}, func(t *testing.T, r *rig) {
		d := r.d
		mustTag(t, d, "a1")
		mustSP(t, d)
		if a, _ := d.ReadAtom(); a != "LOGIN" {
			t.Fatal(a)
		}
		mustSP(t, d)
		u, _ := d.ReadAString()
		mustSP(t, d)
		p, err := d.ReadAString()
		if u != "user@example.org" || p != "secret" || err != nil {
			t.Fatalf("LOGIN %q %q %v", u, p, err)
		}
		mustCRLF(t, d)
		if len(r.conts) != 1 || r.conts[0] != 6 {
			t.Fatalf("continuations %v", r.conts)
		}

		mustTag(t, d, "a2")
		mustSP(t, d)
		d.ReadAtom()
		mustSP(t, d)
		if mb, _ := d.ReadMailbox(); mb != "INBOX" {
			t.Fatal(mb)
		}
		mustSP(t, d)
		var params []string
		if err := d.ReadList(func() error {
			a, err := d.ReadAtom()
			params = append(params, a)
			return err
		}); err != nil || len(params) != 1 || params[0] != "CONDSTORE" {
			t.Fatalf("params %v %v", params, err)
		}
		mustCRLF(t, d)

		mustTag(t, d, "a3")
		mustSP(t, d)
		d.ReadAtom()
		mustSP(t, d)
		d.ReadAtom()
		mustSP(t, d)
		set, saved, err := d.ReadSequenceSet()
		if err != nil || saved || set.String() != "1:3" {
			t.Fatalf("set %v %v %v", set, saved, err)
		}
		mustSP(t, d)
		if a, _ := d.ReadAtom(); a != "+FLAGS.SILENT" {
			t.Fatal(a)
		}
		mustSP(t, d)
		if f, err := d.ReadFlagList(); err != nil || len(f) != 1 || f[0] != `\Deleted` {
			t.Fatalf("flags %v %v", f, err)
		}
		mustCRLF(t, d)

		mustTag(t, d, "a4")
		mustSP(t, d)
		d.ReadAtom()
		mustSP(t, d)
		ref, _ := d.ReadMailbox()
		mustSP(t, d)
		pat, _ := d.ReadListMailbox()
		if ref != "" || pat != "*" {
			t.Fatalf("LIST %q %q", ref, pat)
		}
		mustCRLF(t, d)
		mustEOF(t, d)
	})
}
