package mime

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"mime/quotedprintable"
	"strings"
	"testing"
	"testing/iotest"
)

// decodePieces decodes in through a TransferReader whose source returns at
// most piece octets a read (0: all at once), read back piece octets at a
// time too, the way the streaming users cut it.
func decodePieces(t testing.TB, enc, in string, piece int) string {
	t.Helper()
	var src io.Reader = strings.NewReader(in)
	if piece > 0 {
		src = &pieceReader{s: in, n: piece}
	}
	r := NewTransferReader(src, enc)
	var out []byte
	buf := make([]byte, max(piece, 1<<16))
	if piece > 0 {
		buf = buf[:piece]
	}
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s %q: %v", enc, in, err)
		}
	}
	return string(out)
}

// pieceReader returns s n octets at a time.
type pieceReader struct {
	s string
	n int
}

func (r *pieceReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	n := copy(p, r.s[:min(r.n, len(r.s))])
	r.s = r.s[n:]
	return n, nil
}

// TestTransferDecode covers the union of the cases of the four decoders
// this one replaced (IMAP BINARY's, SEARCH's, the preview's and the
// webmail's). Where they disagreed the comment says who was wrong.
func TestTransferDecode(t *testing.T) {
	cases := []struct{ enc, in, want string }{
		// identity encodings, any case
		{"7bit", "a=41 \r\n", "a=41 \r\n"},
		{"8bit", "\xe9\r\n", "\xe9\r\n"},
		{"binary", "\x00\xff", "\x00\xff"},
		{"", "as is", "as is"},
		{"x-uuencode", "begin 644 f", "begin 644 f"}, // unknown: raw (see KnownTransferEncoding)

		{"base64", "", ""},
		{"base64", "QUJD", "ABC"},
		{"BASE64", "QUJD", "ABC"},
		{"base64", "QUJD\r\nREVG\r\n", "ABCDEF"},
		{"base64", "QQ==", "A"},
		{"base64", "QUI=", "AB"},
		{"base64", "aGVs\r\nbG8=\r\naGk=", "hellohi"},
		// Concatenated encodings: the webmail (stdlib decoder) stopped at
		// the first padding and lost the rest.
		{"base64", "QQ==QUI=", "AAB"},
		// Missing padding: the webmail lost the partial quantum, the
		// preview dropped it as a possible cut; its octets are exact.
		{"base64", "QQ", "A"},
		{"base64", "QUI", "AB"},
		{"base64", "aGVs\r\nbG8=\r\naGk=\r\nYW", "hellohia"},
		{"base64", "Q", ""}, // a lone sextet holds no whole octet
		{"base64", "Q*U!J D\x00", "ABC"},
		{"base64", "QU=JD", "A$"},   // "=" mid-quantum ends it; "JD" is another partial one
		{"base64", "QQ=\r\n=", "A"}, // padding cut by a line end
		{"base64", "====QUJD", "ABC"},
		{"base64", "QUJD\r\nQUI", "ABCAB"},
		{"base64", "AAAA", "\x00\x00\x00"},
		{"base64", "/+/+", "\xff\xef\xfe"},
		{"base64", "QR==", "A"}, // non-zero padding bits ignored
		{"base64", "@@@=\xff\xfe", ""},

		{"quoted-printable", "", ""},
		{"quoted-printable", "plain text", "plain text"},
		{"Quoted-Printable", "=41", "A"},
		{"quoted-printable", "a=3Db", "a=b"},
		{"quoted-printable", "=41=42=c3=a9", "ABé"},
		{"quoted-printable", "lower=c3=a9", "lower\xc3\xa9"},
		{"quoted-printable", "soft=\r\nbreak", "softbreak"},
		{"quoted-printable", "soft=\nbreak", "softbreak"},
		{"quoted-printable", "soft= \t\r\nbreak", "softbreak"},
		{"quoted-printable", "soft=  \nbr", "softbr"},
		// Trailing blanks are transport padding (RFC 2045 6.7 rule 3):
		// SEARCH and the preview kept them.
		{"quoted-printable", "trail  \r\nnext", "trail\r\nnext"},
		{"quoted-printable", "trail \t\nnext", "trail\nnext"},
		{"quoted-printable", "inner  space", "inner  space"},
		{"quoted-printable", "tab\tkept=20", "tab\tkept "},
		{"quoted-printable", "=20\r\n", " \r\n"}, // an encoded blank is content
		// The end of the part is a line end: SEARCH kept "=" and blanks.
		{"quoted-printable", "end ", "end"},
		{"quoted-printable", "end=", "end"},
		{"quoted-printable", "end= ", "end"},
		{"quoted-printable", "end=\r", "end"},
		{"quoted-printable", "=\r", ""},
		// A cut escape at the end is content: the preview dropped it, as
		// its input was a prefix; it now cuts the prefix at a line end.
		{"quoted-printable", "=4", "=4"},
		{"quoted-printable", "cut=4", "cut=4"},
		{"quoted-printable", "=G1", "=G1"},
		{"quoted-printable", "bad=ZZ", "bad=ZZ"},
		{"quoted-printable", "=4G", "=4G"},
		{"quoted-printable", "a==41", "a=A"},
		{"quoted-printable", "=\r\n=Z=4\r\n", "=Z=4\r\n"},
		// "=" and blanks without a line end are content, all of it:
		// SEARCH shrank the blanks to one.
		{"quoted-printable", "= x", "= x"},
		{"quoted-printable", "=   x", "=   x"},
		// A bare CR is no line end: SEARCH took "=" CR for a soft break.
		{"quoted-printable", "=\rx", "=\rx"},
		{"quoted-printable", " \rx", " \rx"},
		{"quoted-printable", "x \r", "x\r"},
		{"quoted-printable", "a\r\n\r\nb", "a\r\n\r\nb"},
		{"quoted-printable", "\xe9\x00", "\xe9\x00"},
	}
	for _, c := range cases {
		for _, piece := range []int{0, 1, 2, 3} {
			if got := decodePieces(t, c.enc, c.in, piece); got != c.want {
				t.Errorf("%s %q (pieces of %d) = %q, want %q", c.enc, c.in, piece, got, c.want)
			}
		}
		if got := string(AppendDecoded([]byte("x"), []byte(c.in), c.enc)); got != "x"+c.want {
			t.Errorf("AppendDecoded %s %q = %q, want x%q", c.enc, c.in, got, c.want)
		}
	}
}

func TestKnownTransferEncoding(t *testing.T) {
	for enc, want := range map[string]bool{
		"": true, "7bit": true, "8BIT": true, "binary": true, "base64": true, " quoted-printable ": true,
		"x-uuencode": false, "uuencode": false, "base-64": false, "8-bit": false,
	} {
		if got := KnownTransferEncoding(enc); got != want {
			t.Errorf("KnownTransferEncoding(%q) = %v", enc, got)
		}
	}
}

func TestBase64MatchesStdlib(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		data := make([]byte, rng.Intn(3000))
		rng.Read(data)
		enc := b64lines(data)
		for _, piece := range []int{0, 1, 7, 4096} {
			if got := decodePieces(t, "base64", enc, piece); got != string(data) {
				t.Fatalf("round trip of %d octets (pieces of %d) differs", len(data), piece)
			}
		}
	}
}

func TestQPMatchesStdlib(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	alphabet := []byte("abc =\t\r\n\xe9\x00xyz.")
	for i := 0; i < 300; i++ {
		data := make([]byte, rng.Intn(2000))
		for j := range data {
			data[j] = alphabet[rng.Intn(len(alphabet))]
		}
		// The encoder writes line ends as CRLF and keeps them; make the
		// data's own line ends CRLF so that the round trip is exact.
		data = bytes.ReplaceAll(bytes.ReplaceAll(data, []byte("\r"), nil), []byte("\n"), []byte("\r\n"))
		var enc bytes.Buffer
		w := quotedprintable.NewWriter(&enc)
		_, _ = w.Write(data)
		_ = w.Close()
		std, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(enc.Bytes())))
		if err != nil {
			t.Fatal(err)
		}
		for _, piece := range []int{0, 1, 5} {
			if got := decodePieces(t, "quoted-printable", enc.String(), piece); got != string(std) {
				t.Fatalf("input %q:\n got %q\nwant %q", enc.String(), got, std)
			}
		}
	}
}

// A run of blanks longer than the decoder holds is content; nothing is
// lost and the hold never overflows.
func TestQPLongBlanks(t *testing.T) {
	for _, n := range []int{maxHold - 2, maxHold - 1, maxHold, maxHold + 1, 3 * maxHold} {
		for _, tail := range []string{"x", "\r\n", "\r", "=\r\nx", ""} {
			for _, lead := range []string{"", "="} {
				in := lead + strings.Repeat(" ", n) + tail
				got := decodePieces(t, "quoted-printable", in, 0)
				if one := decodePieces(t, "quoted-printable", in, 1); one != got {
					t.Fatalf("%d blanks %q: cutting changes the output", n, tail)
				}
				if len(got) > len(in) {
					t.Fatalf("output longer than input")
				}
				if tail == "x" && lead == "" && got != in {
					t.Errorf("%d blanks before x: got %d octets", n, len(got))
				}
			}
		}
	}
}

// A large attachment streams: the reader's memory is its buffers, not the
// body, and any read size gives the same octets.
func TestTransferReaderStreams(t *testing.T) {
	data := make([]byte, 200000)
	rand.New(rand.NewSource(3)).Read(data)
	enc := b64lines(data)
	for _, size := range []int{1, 1000, 1 << 20} {
		r := NewTransferReader(strings.NewReader(enc), "base64")
		var out []byte
		buf := make([]byte, size)
		for {
			n, err := r.Read(buf)
			out = append(out, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("read size %d: output differs", size)
		}
	}

	size := 50 << 20
	if testing.Short() {
		size = 4 << 20
	}
	r := NewTransferReader(&b64Stream{left: size}, "base64")
	var n int64
	allocs := testing.AllocsPerRun(1, func() {
		r.Reset(&b64Stream{left: size}, "base64")
		n, _ = io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, make([]byte, 32<<10))
	})
	if n != int64(size/4*3) || allocs > 5 {
		t.Errorf("50 MB of base64: %d octets, %.0f allocations", n, allocs)
	}
}

// b64Stream is left octets of base64 ("QUJD" lines) made on the fly.
type b64Stream struct{ left int }

func (s *b64Stream) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), s.left)
	for i := range p[:n] {
		p[i] = "QUJD"[i%4]
	}
	s.left -= n
	return n, nil
}

// Errors of the source come out as they are, after what decoded before
// them, and again on every later read; Reset starts afresh.
func TestTransferReaderErrors(t *testing.T) {
	boom := errors.New("boom")
	for _, enc := range []string{"base64", "quoted-printable", "7bit"} {
		src := io.MultiReader(strings.NewReader("QUJD"), iotest.ErrReader(boom))
		r := NewTransferReader(src, enc)
		out, err := io.ReadAll(r)
		if !errors.Is(err, boom) || len(out) == 0 {
			t.Errorf("%s: %q, %v", enc, out, err)
		}
		if _, err := r.Read(make([]byte, 8)); !errors.Is(err, boom) {
			t.Errorf("%s: read after the error: %v", enc, err)
		}
		r.Reset(strings.NewReader("QUJD"), enc)
		if out, err := io.ReadAll(r); err != nil || len(out) == 0 {
			t.Errorf("%s after Reset: %q, %v", enc, out, err)
		}
	}
	var zero TransferReader
	zero.Reset(strings.NewReader("QUI="), "base64")
	if out, _ := io.ReadAll(&zero); string(out) != "AB" {
		t.Errorf("zero TransferReader: %q", out)
	}
}

func TestCharset(t *testing.T) {
	cases := []struct {
		label, in, want string
		known           bool
	}{
		{"", "h\xc3\xa9", "h\xc3\xa9", true},
		{"UTF-8", "h\xc3\xa9", "h\xc3\xa9", true},
		{"utf8", "\xff", "\xff", true}, // passes unchecked; callers replace
		{"unicode-1-1-utf-8", "\xc3\xa9", "é", true},
		// ASCII labels pass 8-bit bytes: the webmail read "ascii" (not
		// "us-ascii") as Windows-1252.
		{"us-ascii", "h\xc3\xa9", "h\xc3\xa9", true},
		{"ASCII", "h\xc3\xa9", "h\xc3\xa9", true},
		// ISO-8859-1 is read as Windows-1252, as clients do: SEARCH, the
		// preview and RFC 2047 words made 0x80 a C1 control, the webmail
		// a euro sign.
		{"iso-8859-1", "K\xf6ln \x80", "Köln €", true},
		{"ISO_8859-1", "\x93q\x94", "“q”", true},
		{"latin1", "\xe9", "é", true},
		{"windows-1252", "\x80", "€", true},
		{"koi8-r", "\xf0\xd2\xc9\xd7\xc5\xd4", "Привет", true},
		{"gb2312", "\xc4\xe3\xba\xc3", "你好", true},
		{"ks_c_5601-1987", "\xc7\xd1", "한", true},
		{"shift_jis", "\x93\xfa", "日", true},
		{"iso-2022-jp", "\x1b$BF|\x1b(B", "日", true},
		{"utf-16", "\x00h\x00i", "hi", true}, // RFC 2781: big endian without a BOM
		{"utf-16", "\xff\xfeh\x00", "h", true},
		{"utf-16le", "h\x00", "h", true},
		// Only the IANA registry knows IBM code pages: the webmail did not.
		{"ibm437", "\x82", "é", true},
		{"cp850", "\x82", "é", true},
		{"hz-gb-2312", "~{Dc:C~}", "你好", true}, // WHATWG's "replacement", IANA's HZ
		{"utf-8*en", "x", "x", true},           // RFC 2231 language suffix
		{" Windows-1252 ", "\x80", "€", true},
		// Unknown: the bytes pass through, everywhere.
		{"x-no-such-charset", "h\xc3\xa9", "h\xc3\xa9", false},
		{"iso-2022-kr", "abc", "abc", false}, // WHATWG's "replacement" only
		{"utf-7", "+AOk-", "+AOk-", false},
	}
	for _, c := range cases {
		if got := KnownCharset(c.label); got != c.known {
			t.Errorf("KnownCharset(%q) = %v", c.label, got)
		}
		out, err := io.ReadAll(CharsetReader(c.label, iotest.OneByteReader(strings.NewReader(c.in))))
		if err != nil || string(out) != c.want {
			t.Errorf("CharsetReader(%q, %q) = %q, %v; want %q", c.label, c.in, out, err, c.want)
		}
		if b, ok := toUTF8(c.label, []byte(c.in)); string(b) != c.want || ok != c.known {
			t.Errorf("toUTF8(%q, %q) = %q, %v", c.label, c.in, b, ok)
		}
	}
}

// FuzzTransferDecode: no panic, output never longer than the input (for
// the transfer encodings) or four times it (charset conversion), and the
// same octets however the input is cut.
func FuzzTransferDecode(f *testing.F) {
	for _, s := range []string{
		"QUJD\r\nREVG", "QQ==QUI=", "Q*U!J D\x00", "=41=c3=a9 \r\nx=\r\n", "= \t\r\n=4", "=\rx", strings.Repeat(" ", 300) + "\r\n",
	} {
		f.Add([]byte(s), uint8(0), uint8(3))
		f.Add([]byte(s), uint8(1), uint8(1))
	}
	encs := []string{"base64", "quoted-printable", "7bit", "x-unknown"}
	charsets := []string{"utf-8", "iso-8859-1", "shift_jis", "utf-16", "iso-2022-jp", "gb18030", "x-unknown"}
	f.Fuzz(func(t *testing.T, in []byte, sel, piece uint8) {
		enc := encs[int(sel)%len(encs)]
		whole := AppendDecoded(nil, in, enc)
		if len(whole) > len(in) {
			t.Fatalf("%s: %d octets out of %d", enc, len(whole), len(in))
		}
		if got := decodePieces(t, enc, string(in), 1+int(piece)%9); got != string(whole) {
			t.Fatalf("%s: cutting changes the output: %q vs %q", enc, got, whole)
		}
		cs := charsets[int(sel>>2)%len(charsets)]
		out, err := io.ReadAll(CharsetReader(cs, NewTransferReader(bytes.NewReader(in), enc)))
		if err != nil {
			t.Fatalf("%s/%s: %v", enc, cs, err)
		}
		if len(out) > 4*len(in)+16 {
			t.Fatalf("%s/%s: %d octets out of %d", enc, cs, len(out), len(in))
		}
	})
}
