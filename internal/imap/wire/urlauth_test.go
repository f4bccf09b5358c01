package wire

import (
	"io"
	"strings"
	"testing"
)

func TestReadGenURLAuth(t *testing.T) {
	runCmdCases(t, (*Decoder).ReadGenURLAuth, []cmdCase[[]GenURLAuthItem]{
		// RFC 4467 section 7 example
		{in: `a GENURLAUTH "imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred" INTERNAL`,
			want: []GenURLAuthItem{{Rump: "imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred", Mechanism: "INTERNAL"}}},
		{in: "a GENURLAUTH imap://j@h/B/;UID=1;URLAUTH=anonymous internal {3+}\r\nx/y XX-1.2",
			want: []GenURLAuthItem{{"imap://j@h/B/;UID=1;URLAUTH=anonymous", "internal"}, {"x/y", "XX-1.2"}}},
		{in: `a GENURLAUTH`, err: "expected a space"},
		{in: `a GENURLAUTH "u"`, err: "expected a space"},
		{in: `a GENURLAUTH "u" INT_ERNAL`, err: "bad URLAUTH mechanism"},
		{in: `a GENURLAUTH "u" (INTERNAL)`, err: "expected a URLAUTH mechanism"},
		{in: `a GENURLAUTH "u" INTERNAL x`, err: "expected a space"},
	})
}

func TestReadGenURLAuthLimit(t *testing.T) {
	in := "a GENURLAUTH" + strings.Repeat(" u INTERNAL", maxURLs+1)
	runCmdCases(t, (*Decoder).ReadGenURLAuth, []cmdCase[[]GenURLAuthItem]{{in: in, err: "too many URLs"}})
}

func TestReadURLFetch(t *testing.T) {
	runCmdCases(t, (*Decoder).ReadURLFetch, []cmdCase[[]URLFetchItem]{
		{in: `a URLFETCH "imap://j@h/INBOX/;UID=1;URLAUTH=anonymous:INTERNAL:0123456789abcdef0123456789abcdef"`,
			want: []URLFetchItem{{URL: "imap://j@h/INBOX/;UID=1;URLAUTH=anonymous:INTERNAL:0123456789abcdef0123456789abcdef"}}},
		// RFC 5524 forms, several URLs, case-insensitive parameters.
		{in: `a URLFETCH u1 (u2 binary BODYPARTSTRUCTURE) ("u3") (u4 Body)`,
			want: []URLFetchItem{{URL: "u1"}, {URL: "u2", Extended: true, Binary: true, BodyPartStructure: true},
				{URL: "u3", Extended: true}, {URL: "u4", Extended: true, Body: true}}},
		{in: `a URLFETCH`, err: "expected a space"},
		{in: `a URLFETCH (u BINARY BODY)`, err: "BINARY or BODY, not both"},
		{in: `a URLFETCH (u FOO)`, err: "unknown URLFETCH parameter"},
		{in: `a URLFETCH (u BINARY`, err: `expected ")"`},
		{in: `a URLFETCH ()`, err: "expected a string"},
		{in: `a URLFETCH u ` + "", err: "expected a string"},
	})
}

func TestReadResetKey(t *testing.T) {
	runCmdCases(t, (*Decoder).ReadResetKey, []cmdCase[ResetKey]{
		{in: `a RESETKEY`, want: ResetKey{}},
		{in: `a RESETKEY inbox`, want: ResetKey{Mailbox: "INBOX", HasMailbox: true}},
		{in: `a RESETKEY "Sent Items" INTERNAL x-foo`, want: ResetKey{Mailbox: "Sent Items", HasMailbox: true, Mechanisms: []string{"INTERNAL", "x-foo"}}},
		{in: `a RESETKEY INBOX (INTERNAL)`, err: "expected a URLAUTH mechanism"},
		{in: `a RESETKEY INBOX a_b`, err: "bad URLAUTH mechanism"},
		{in: `a RESETKEY ` + "", err: "expected a mailbox name"},
	})
}

func TestParseSection(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // show of the section
		err  string
	}{
		{in: "", want: show(&Section{})},
		{in: "1.2", want: show(&Section{Part: []int{1, 2}})},
		{in: "header", want: show(&Section{Specifier: "HEADER"})},
		{in: "1.MIME", want: show(&Section{Part: []int{1}, Specifier: "MIME"})},
		{in: "2.text", want: show(&Section{Part: []int{2}, Specifier: "TEXT"})},
		{in: "HEADER.FIELDS (From To)", want: show(&Section{Specifier: "HEADER.FIELDS", Fields: []string{"From", "To"}})},
		{in: "MIME", err: "needs a part number"},
		{in: "0", err: "non-zero"},
		{in: "1.", err: "invalid section"},
		{in: "1]x", err: "invalid section"},
		{in: "1 2", err: `expected "]"`},
		{in: "HEADER.FIELDS {3}", err: "invalid section"},
		{in: "BODY", err: "invalid section"},
	} {
		sec, err := ParseSection(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseSection(%q): err %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseSection(%q): %v", c.in, err)
		} else if got := show(sec); got != c.want {
			t.Errorf("ParseSection(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

// TestReadCatenate reads APPEND messages with CATENATE parts, TEXT
// literals streamed, mixed with a plain literal (MULTIAPPEND).
func TestReadCatenate(t *testing.T) {
	in := "a APPEND Drafts (\\Seen) CATENATE (TEXT {3+}\r\nabc URL \"/INBOX/;UID=2/;SECTION=1\" TEXT {2}\r\nde)" +
		" {2+}\r\nhi catenate (url ;UID=1)\r\n"
	eachRig(t, in, Limits{}, func(t *testing.T, r *rig) {
		d := r.d
		mustTag(t, d, "a")
		mustSP(t, d)
		d.ReadAtom()
		if _, err := d.ReadAppend(); err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			m, ok, err := d.ReadAppendMessage()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			if !m.Catenate {
				b, _ := io.ReadAll(m.Literal)
				got = append(got, "lit:"+string(b))
				continue
			}
			got = append(got, "cat"+show(m.Flags))
			for first := true; ; first = false {
				p, ok, err := d.ReadCatenatePart(first)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
				if p.Text != nil {
					b, _ := io.ReadAll(p.Text)
					got = append(got, "text:"+string(b))
				} else {
					got = append(got, "url:"+p.URL)
				}
			}
		}
		want := []string{"cat" + show([]string{`\Seen`}), "text:abc", "url:/INBOX/;UID=2/;SECTION=1", "text:de", "lit:hi", "cat" + show([]string(nil)), "url:;UID=1"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("got  %q\nwant %q", got, want)
		}
		if len(r.conts) != 1 || r.conts[0] != 2 {
			t.Fatalf("continuations %v, want one for the {2}", r.conts)
		}
		mustEOF(t, d)
	})
}

func TestReadCatenateErrors(t *testing.T) {
	for _, c := range []struct{ in, err string }{
		{"a APPEND x CATENATE ()", "at least one part"},
		{"a APPEND x CATENATE TEXT", `expected "("`},
		{"a APPEND x CATENATES (TEXT {1+}\r\na)", "expected a literal or CATENATE"},
		{"a APPEND x CATENATE (BODY x)", `expected "TEXT" or "URL"`},
		{"a APPEND x CATENATE (URL \"\")", "empty URL"},
		{"a APPEND x CATENATE (URL a URL)", "expected a space"},
		{"a APPEND x CATENATE (URL a", "expected a space"},
		{"a APPEND x CATENATE (TEXT \"abc\")", "expected a literal"},
	} {
		eachRig(t, c.in+"\r\n", Limits{}, func(t *testing.T, r *rig) {
			d := r.d
			mustTag(t, d, "a")
			mustSP(t, d)
			d.ReadAtom()
			if _, err := d.ReadAppend(); err != nil {
				t.Fatal(err)
			}
			var err error
			for err == nil {
				var m AppendMessage
				var ok bool
				if m, ok, err = d.ReadAppendMessage(); err != nil || !ok {
					break
				}
				for first := true; err == nil; first = false {
					if _, ok, err = d.ReadCatenatePart(first); !ok {
						break
					}
				}
				_ = m
			}
			errContains(t, err, c.err)
			if derr := d.DiscardLine(); derr != nil {
				t.Fatal(derr)
			}
			mustEOF(t, d)
		})
	}
}
