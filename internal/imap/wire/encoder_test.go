package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"mailroom/internal/connbuf"
)

func encode(utf8 bool, f func(e *Encoder)) string {
	var b bytes.Buffer
	e := NewEncoder(connbuf.NewWriter(&b))
	e.SetUTF8(utf8)
	f(e)
	if err := e.Flush(); err != nil {
		panic(err)
	}
	return b.String()
}

func TestEncoderForms(t *testing.T) {
	loc := time.FixedZone("", -7*3600)
	set, _ := ParseSeqSet("1:3,5,7:*")
	for _, c := range []struct {
		name string
		utf8 bool
		f    func(e *Encoder)
		want string
	}{
		{"atom", false, func(e *Encoder) { e.Atom("FLAGS") }, "FLAGS"},
		{"numbers", false, func(e *Encoder) { e.Number(0).SP().Number(4294967295).SP().Number64(1<<63 - 1) },
			"0 4294967295 9223372036854775807"},
		{"nil", false, func(e *Encoder) { e.NIL() }, "NIL"},
		{"quoted", false, func(e *Encoder) { e.Quoted(`a "b" \c`) }, `"a \"b\" \\c"`},
		{"quoted-empty", false, func(e *Encoder) { e.Quoted("") }, `""`},
		{"quoted-crlf-falls-back", false, func(e *Encoder) { e.Quoted("a\r\nb") }, "{4}\r\na\r\nb"},
		{"literal", false, func(e *Encoder) { e.Literal("hello") }, "{5}\r\nhello"},
		{"literal-bytes", false, func(e *Encoder) { e.LiteralBytes([]byte("")) }, "{0}\r\n"},
		{"literal8", false, func(e *Encoder) { e.Literal8([]byte("a\x00b")) }, "~{3}\r\na\x00b"},
		{"string-plain", false, func(e *Encoder) { e.String("Re: hi") }, `"Re: hi"`},
		{"string-8bit", false, func(e *Encoder) { e.String("café") }, "{5}\r\ncafé"},
		{"string-8bit-utf8", true, func(e *Encoder) { e.String("café") }, `"café"`},
		{"string-invalid-utf8", true, func(e *Encoder) { e.String("caf\xe9") }, "{4}\r\ncaf\xe9"},
		{"string-nul", true, func(e *Encoder) { e.String("a\x00") }, "{2}\r\na\x00"},
		{"string-long", false, func(e *Encoder) { e.String(strings.Repeat("x", 1025)) }, "{1025}\r\n" + strings.Repeat("x", 1025)},
		{"string-1024", false, func(e *Encoder) { e.String(strings.Repeat("x", 1024)) }, `"` + strings.Repeat("x", 1024) + `"`},
		{"nstring", false, func(e *Encoder) { e.NString("").SP().NString("x") }, `NIL "x"`},
		{"astring", false, func(e *Encoder) {
			e.AString("INBOX").SP().AString("a b").SP().AString("nil").SP().AString("").SP().AString("x]y")
		}, `INBOX "a b" "nil" "" x]y`},
		{"list", false, func(e *Encoder) { e.BeginList().Atom("A").SP().Atom("B").EndList() }, "(A B)"},
		{"flags", false, func(e *Encoder) { e.Flags([]string{`\Seen`, "$Forwarded"}).SP().Flags(nil) }, `(\Seen $Forwarded) ()`},
		{"seqset", false, func(e *Encoder) { e.SeqSet(set) }, "1:3,5,7:*"},
		{"datetime", false, func(e *Encoder) { e.DateTime(time.Date(1996, 7, 5, 2, 44, 25, 0, loc)) }, `"05-Jul-1996 02:44:25 -0700"`},
		{"datetime-utc", false, func(e *Encoder) { e.DateTime(time.Date(2024, 12, 17, 23, 0, 9, 0, time.UTC)) }, `"17-Dec-2024 23:00:09 +0000"`},
		{"mailbox-mutf7", false, func(e *Encoder) { e.Mailbox("~peter/mail/台北/日本語") }, `"~peter/mail/&U,BTFw-/&ZeVnLIqe-"`},
		{"mailbox-utf8", true, func(e *Encoder) { e.Mailbox("~peter/mail/台北/日本語") }, `"~peter/mail/台北/日本語"`},
		{"mailbox-amp", false, func(e *Encoder) { e.Mailbox("A&B") }, `"A&-B"`},
		{"mailbox-quote", false, func(e *Encoder) { e.Mailbox(`a"b`) }, `"a\"b"`},
		{"raw-crlf", false, func(e *Encoder) { e.Raw("* OK").CRLF() }, "* OK\r\n"},
	} {
		if got := encode(c.utf8, c.f); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestEncoderFetchKey(t *testing.T) {
	for _, line := range []struct{ in, want string }{
		{"(BODY.PEEK[HEADER.FIELDS (From To)])", "BODY[HEADER.FIELDS (From To)]"},
		{"(BODY[]<0.100>)", "BODY[]<0>"},
		{"(BINARY.PEEK[1.2])", "BINARY[1.2]"},
		{"(BINARY.SIZE[3])", "BINARY.SIZE[3]"},
		{"(BODY[1.2.HEADER.FIELDS.NOT (\"a b\" NIL)])", `BODY[1.2.HEADER.FIELDS.NOT ("a b" "NIL")]`},
		{"(BODY[2.MIME] UID)", "BODY[2.MIME] UID"},
	} {
		eachRig(t, "t "+line.in+"\r\n", Limits{}, func(t *testing.T, r *rig) {
			mustTag(t, r.d, "t")
			mustSP(t, r.d)
			items, err := r.d.ReadFetchItems()
			if err != nil {
				t.Fatal(err)
			}
			got := encode(false, func(e *Encoder) {
				for i := range items {
					if i > 0 {
						e.SP()
					}
					e.FetchKey(&items[i])
				}
			})
			if got != line.want {
				t.Errorf("%s: %q, want %q", line.in, got, line.want)
			}
			var app []byte
			for i := range items {
				if i > 0 {
					app = append(app, ' ')
				}
				app = AppendFetchKey(app, &items[i])
			}
			if string(app) != line.want {
				t.Errorf("AppendFetchKey %s: %q, want %q", line.in, app, line.want)
			}
		})
	}
}

func TestWriteLiteralFrom(t *testing.T) {
	body := strings.Repeat("line\r\n", 10000)
	var out bytes.Buffer
	e := NewEncoder(connbuf.NewWriter(&out))
	e.Raw("* 1 FETCH (BODY[] ")
	if err := e.WriteLiteralFrom(int64(len(body)), iotest.OneByteReader(strings.NewReader(body)), false); err != nil {
		t.Fatal(err)
	}
	e.Raw(")").CRLF()
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "* 1 FETCH (BODY[] {60000}\r\n" + body + ")\r\n"
	if out.String() != want {
		t.Fatal("streamed literal differs")
	}
	// binary
	got := encode(false, func(e *Encoder) {
		if err := e.WriteLiteralFrom(3, strings.NewReader("a\x00b"), true); err != nil {
			t.Fatal(err)
		}
	})
	if got != "~{3}\r\na\x00b" {
		t.Fatalf("%q", got)
	}
	// a short reader breaks the response: reported
	e = NewEncoder(connbuf.NewWriter(io.Discard))
	err := e.WriteLiteralFrom(10, strings.NewReader("abc"), false)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("short source: %v", err)
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestEncoderStickyError(t *testing.T) {
	e := NewEncoder(connbuf.NewWriter(failWriter{}))
	e.Raw(strings.Repeat("x", 100)).CRLF()
	if err := e.Flush(); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("Flush = %v", err)
	}
}
