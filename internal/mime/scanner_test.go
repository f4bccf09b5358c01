package mime

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestBoundaryEdgeCases(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  map[string]string // path -> body ("*" any); "!path" -> must not exist
	}{
		{"empty parts", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n",
			map[string]string{"1": "", "2": "", "3": "x", "!4": ""}},
		{"transport padding and close without eol", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b \t\r\n\r\nx\r\n--b-- \r\nepilogue\r\n--b\r\n\r\nnot a part",
			map[string]string{"1": "x", "!2": ""}},
		{"close at eof without eol", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nlast\r\n--b--",
			map[string]string{"1": "last", "!2": ""}},
		{"delimiter at eof opens nothing", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nlast\r\n--b",
			map[string]string{"1": "last", "!2": ""}},
		{"inner boundary is prefix of outer", crlf("Content-Type: multipart/mixed; boundary=ab\n\n--ab\nContent-Type: multipart/mixed; boundary=a\n\n--a\n\none\n--ab\n\ntwo\n--ab--\n"),
			map[string]string{"1.1": "one", "2": "two"}},
		{"outer boundary is prefix of inner", crlf("Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/mixed; boundary=ab\n\n--ab\n\none\n--ab--\n--a\n\ntwo\n--a--\n"),
			map[string]string{"1.1": "one", "2": "two"}},
		{"prefix match with trailing junk", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b junk\r\n\r\none\r\n--b--junk\r\n",
			map[string]string{"1": "one", "!2": ""}},
		{"similar line is text", "Content-Type: multipart/mixed; boundary=bb\r\n\r\n--bb\r\n\r\n--b\r\n-\r\n--\r\n--bb--\r\n",
			map[string]string{"1": "--b\r\n-\r\n--"}},
		{"quoted boundary with trailing space", "Content-Type: multipart/mixed; boundary=\"b c \"\r\n\r\n--b c\r\n\r\none\r\n--b c--\r\n",
			map[string]string{"1": "one"}},
		{"header ended by boundary", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n--b\r\n\r\ntwo\r\n--b--\r\n",
			map[string]string{"1": "", "2": "two"}},
		{"empty line eaten by boundary", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n--b--\r\n",
			map[string]string{"1": ""}},
		{"message part with no body", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n--b--\r\n",
			map[string]string{"1": "", "1.1": ""}},
		{"message part header ends at boundary", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n--b--\r\n",
			map[string]string{"1": "", "1.1": ""}},
		{"encapsulated header only", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: x\r\n--b--\r\n",
			map[string]string{"1": "Subject: x", "1.1": ""}},
		{"outer boundary ends inner message", crlf("Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: message/rfc822\n\nContent-Type: multipart/mixed; boundary=i\n\n--i\n\nin\n--o\n\nout\n--o--\n"),
			map[string]string{"1.1": "in", "2": "out"}},
		{"base64 message is a leaf", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA0KDQpib2R5\r\n--b--\r\n",
			map[string]string{"1": "U3ViamVjdDogeA0KDQpib2R5", "!1.1": ""}},
		{"preamble boundary lookalike", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--bx is prefix-matched\r\n\r\none\r\n--b--\r\n",
			map[string]string{"1": "one"}},
		{"multipart with empty boundary", "Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n\r\nx\r\n",
			map[string]string{"1": "--\r\n\r\nx\r\n"}},
		{"message/global", "Content-Type: message/global\r\n\r\nSubject: g\r\n\r\nbody\r\n",
			map[string]string{"1": "Subject: g\r\n\r\nbody\r\n", "1.1": "body\r\n"}},
		{"root message/rfc822", "Content-Type: message/rfc822\r\n\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n\r\nA\r\n--z\r\n\r\nB\r\n--z--\r\n",
			map[string]string{"": "*", "1.1": "A", "1.2": "B", "!2": "", "!1.3": ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mustScan(t, tc.input, Limits{})
			for path, body := range tc.want {
				if rest, ok := strings.CutPrefix(path, "!"); ok {
					if _, found := m.PartAt(parsePath(rest)); found {
						t.Errorf("part %s exists", rest)
					}
					continue
				}
				wantBody(t, m, tc.input, path, "", body)
			}
			checkChunking(t, []byte(tc.input), Limits{})
			if t.Failed() {
				t.Log("\n" + dump(m))
			}
		})
	}
}

func TestEmptyLineEatenOffsets(t *testing.T) {
	in := "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n--b--\r\n"
	m := mustScan(t, in, Limits{})
	p := m.Root.Parts[0]
	// RFC 2046: the CRLF before "--b--" is the boundary's, so the part is
	// its header field line without the empty line.
	if got := in[p.HeaderStart:p.BodyStart]; got != "Content-Type: message/rfc822\r\n" || p.HeaderLines != 1 {
		t.Errorf("header %q lines %d", got, p.HeaderLines)
	}
	c := p.Parts[0]
	if c.HeaderStart != p.End || c.End != p.End || c.Envelope == nil {
		t.Errorf("encapsulated: %+v", c)
	}
}

func TestPartAt(t *testing.T) {
	m := mustScan(t, rfc822Msg, Limits{})
	cases := map[string]string{
		"":        "multipart/mixed",
		"1":       "text/plain",
		"2":       "message/rfc822",
		"2.1":     "text/plain",     // first child of the encapsulated multipart
		"2.2":     "message/rfc822", // message inside multipart inside message
		"2.2.1":   "text/plain",     // non-multipart inner message: part 1 = its body
		"2.2.1.1": "",
		"2.2.2":   "",
		"2.3":     "",
		"1.1":     "",
		"0":       "",
		"-1":      "",
		"3":       "",
	}
	for path, want := range cases {
		p, ok := m.PartAt(parsePath(path))
		got := ""
		if ok {
			got = p.Type + "/" + p.Subtype
		}
		if got != want {
			t.Errorf("PartAt(%q) = %q, want %q", path, got, want)
		}
	}
	// Non-multipart message: part 1 is the body, i.e. the root itself.
	m = mustScan(t, simpleMsg, Limits{})
	if p, ok := m.PartAt([]int{1}); !ok || p != m.Root {
		t.Error("part 1 of a single-part message is not the root")
	}
	if _, ok := m.PartAt([]int{2}); ok {
		t.Error("part 2 of a single-part message exists")
	}
	if _, ok := m.PartAt([]int{1, 1}); ok {
		t.Error("part 1.1 of a single-part message exists")
	}
	var nilMsg *Message
	if _, ok := nilMsg.PartAt(nil); ok {
		t.Error("nil message has parts")
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		in   string
		want ScanFlags
	}{
		{"a\r\n\r\nb\r\n", 0},
		{"a\n\nb", BareLF},
		{"a\r\n\r\nb\rc\r\n", BareCR},
		{"a\r\n\r\nb\r", BareCR},
		{"a\r\r\n\r\n", BareCR},
		{"a\r\n\r\n\x00", NULByte},
		{"a\r\n\r\n\xc3\xa9", EightBit},
		{"a\r\n\r\n" + strings.Repeat("x", 998) + "\r\n", 0},
		{"a\r\n\r\n" + strings.Repeat("x", 999) + "\r\n", LongLine},
	}
	for _, tc := range tests {
		for _, chunk := range []int{1, 2, 3, 1 << 20} {
			m := scanChunks(t, []byte(tc.in), Limits{}, chunk)
			if m.Flags != tc.want {
				t.Errorf("%q chunk %d: flags %v, want %v", tc.in, chunk, m.Flags, tc.want)
			}
		}
	}
	if s := (BareLF | Truncated | 1<<20).String(); s != "BareLF|Truncated|0x100000" {
		t.Errorf("String() = %q", s)
	}
}

func TestLimits(t *testing.T) {
	t.Run("MaxParts", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("Content-Type: multipart/mixed; boundary=b\r\n\r\n")
		for i := range 50 {
			b.WriteString("--b\r\n\r\npart")
			b.WriteString(strings.Repeat("x", i))
			b.WriteString("\r\n")
		}
		b.WriteString("--b--\r\n")
		in := b.String()
		m := mustScan(t, in, Limits{MaxParts: 10})
		if len(m.Root.Parts) != 9 || m.Flags&Truncated == 0 {
			t.Fatalf("parts %d flags %v", len(m.Root.Parts), m.Flags)
		}
		last := m.Root.Parts[8]
		if body := in[last.BodyStart:last.End]; !strings.HasPrefix(body, "partxxxxxxxx\r\n--b\r\n") || !strings.HasSuffix(body, "--b--\r\n") {
			t.Errorf("last part does not hold the rest: %q", clip([]byte(body)))
		}
		checkChunking(t, []byte(in), Limits{MaxParts: 10})
	})
	t.Run("MaxDepth message", func(t *testing.T) {
		in := "Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\nSubject: deep\r\n\r\nbody\r\n"
		m := mustScan(t, in, Limits{MaxDepth: 1})
		if len(m.Root.Parts) != 1 || len(m.Root.Parts[0].Parts) != 0 || m.Flags&Truncated == 0 {
			t.Fatalf("%s flags %v", dump(m), m.Flags)
		}
		wantBody(t, m, in, "1.1", "message/rfc822", "Subject: deep\r\n\r\nbody\r\n")
	})
	t.Run("MaxHeaderBytes", func(t *testing.T) {
		in := "Subject: " + strings.Repeat("s", 100) + "\r\nFrom: a@example.com\r\nContent-Type: text/html\r\n\r\nx"
		m := mustScan(t, in, Limits{MaxHeaderBytes: 64})
		if m.Flags&Truncated == 0 || len(m.Root.Envelope.Subject) > 64 || m.Root.Subtype != "plain" {
			t.Errorf("flags %v subject %d type %s", m.Flags, len(m.Root.Envelope.Subject), m.Root.Subtype)
		}
		checkChunking(t, []byte(in), Limits{MaxHeaderBytes: 64})
	})
	t.Run("PreviewRunes", func(t *testing.T) {
		m := mustScan(t, "\r\nééééé", Limits{PreviewRunes: 3})
		if m.Preview != "ééé" {
			t.Errorf("preview %q", m.Preview)
		}
	})
}

func TestNestedMultipartsFast(t *testing.T) {
	in := []byte(nestedMultiparts(10000))
	start := time.Now()
	scanChunks(t, in, Limits{})
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("10,000 nested multiparts took %v", d)
	}
	// Raising the depth limit stays linear in the input per level.
	m := scanChunks(t, in, Limits{MaxDepth: 1000})
	checkInvariants(t, m, in)
}

func TestClosed(t *testing.T) {
	s := NewScanner(Limits{})
	if _, err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	if _, err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestScanReaderError(t *testing.T) {
	if _, err := Scan(errReader{}, Limits{}); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("err = %v", err)
	}
	m, err := Scan(strings.NewReader(simpleMsg), Limits{})
	if err != nil || m.Root.Envelope.Subject != "Hello world" {
		t.Errorf("Scan: %v", err)
	}
}

func TestDefaultTypes(t *testing.T) {
	for in, want := range map[string]string{
		"Content-Type: text\r\n\r\n":                       "text/plain",
		"Content-Type: TEXT/HTML; charset=x\r\n\r\n":       "text/html",
		"Content-Type: image/\r\n\r\n":                     "text/plain",
		"Content-Type: application/x (comment)\r\n\r\n":    "application/x",
		"content-type:\r\n  multipart/alternative\r\n\r\n": "multipart/alternative",
	} {
		m := mustScan(t, in, Limits{})
		if got := m.Root.Type + "/" + m.Root.Subtype; got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
	m := mustScan(t, "Content-Transfer-Encoding: BASE64 (x)\r\nContent-Disposition: ATTACHMENT\r\n\r\n", Limits{})
	if m.Root.Encoding != "base64" || m.Root.Disposition != "attachment" {
		t.Errorf("encoding %q disposition %q", m.Root.Encoding, m.Root.Disposition)
	}
}
