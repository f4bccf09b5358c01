package msgfmt

import (
	"bytes"
	"encoding/base64"
	"io"
	"math/rand"
	"mime/quotedprintable"
	"strings"
	"testing"
)

// decodeAll runs enc's decoder over in, cut into pieces of the given size
// (0: one piece), the way the streaming passes feed it.
func decodeAll(t *testing.T, enc, in string, piece int) string {
	t.Helper()
	dec, ok := newDecoder(enc)
	if !ok || dec == nil {
		t.Fatalf("no decoder for %q", enc)
	}
	var out []byte
	src := []byte(in)
	for len(src) > 0 {
		n := len(src)
		if piece > 0 {
			n = min(piece, n)
		}
		out = dec.decode(out, src[:n])
		src = src[n:]
	}
	return string(dec.finish(out))
}

func TestBase64Decoder(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"QUJD", "ABC"},
		{"QUJD\r\nREVG\r\n", "ABCDEF"},
		{"QQ==", "A"},
		{"QUI=", "AB"},
		{"QQ==QUI=", "AAB"},      // concatenated encodings
		{"QQ", "A"},              // missing padding
		{"QUI", "AB"},            // missing padding
		{"Q", ""},                // a lone sextet decodes to nothing
		{"Q*U!J D\x00", "ABC"},   // garbage skipped
		{"QQ=\r\n=", "A"},        // padding cut by a line end
		{"====QUJD", "ABC"},      // stray padding
		{"QUJD\r\nQUI", "ABCAB"}, // a partial quantum after full ones
		{"AAAA", "\x00\x00\x00"}, // NUL output
		{"/+/+", "\xff\xef\xfe"}, // end of the alphabet
	}
	for _, c := range cases {
		for _, piece := range []int{0, 1, 3} {
			if got := decodeAll(t, "base64", c.in, piece); got != c.want {
				t.Errorf("base64 %q (pieces of %d) = %q, want %q", c.in, piece, got, c.want)
			}
		}
	}
}

func TestBase64DecoderMatchesStdlib(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		data := make([]byte, rng.Intn(3000))
		rng.Read(data)
		enc := b64Lines(data, 76)
		for _, piece := range []int{0, 1, 7, 4096} {
			if got := decodeAll(t, "base64", enc, piece); got != string(data) {
				t.Fatalf("round trip of %d octets (pieces of %d) differs", len(data), piece)
			}
		}
	}
}

// b64Lines encodes data in base64 with lines of width characters.
func b64Lines(data []byte, width int) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > width {
		b.WriteString(enc[:width])
		b.WriteString("\r\n")
		enc = enc[width:]
	}
	b.WriteString(enc)
	return b.String()
}

func TestQPDecoder(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{"=41=42=c3=a9", "ABé"},              // lower-case hex tolerated
		{"soft=\r\nbreak", "softbreak"},      // soft line break
		{"soft=\nbreak", "softbreak"},        // with a bare LF
		{"soft= \t\r\nbreak", "softbreak"},   // whitespace after the "="
		{"trail  \r\nnext", "trail\r\nnext"}, // transport padding removed
		{"trail \t\nnext", "trail\nnext"},
		{"inner  space", "inner  space"},
		{"end ", "end"},   // the end of the part is a line end
		{"end=", "end"},   // "=" before a boundary: soft break
		{"end= ", "end"},  // likewise with padding
		{"end=\r", "end"}, // likewise, cut in the line end
		{"=4", "=4"},      // truncated escape kept
		{"=G1", "=G1"},    // malformed escapes kept
		{"=4G", "=4G"},
		{"a==41", "a=A"},
		{"= x", "= x"},
		{"=\rx", "=\rx"},     // bare CR is no line end
		{" \rx", " \rx"},     // nor for trailing whitespace
		{"=20\r\n", " \r\n"}, // encoded space is content
		{"a\r\n\r\nb", "a\r\n\r\nb"},
		{"x \r", "x\r"},
	}
	for _, c := range cases {
		for _, piece := range []int{0, 1, 2} {
			if got := decodeAll(t, "quoted-printable", c.in, piece); got != c.want {
				t.Errorf("qp %q (pieces of %d) = %q, want %q", c.in, piece, got, c.want)
			}
		}
	}
}

// A run of whitespace longer than the decoder holds is content; nothing
// is lost and the hold never overflows.
func TestQPDecoderLongWhitespace(t *testing.T) {
	for _, n := range []int{maxHold - 2, maxHold - 1, maxHold, maxHold + 1, 3 * maxHold} {
		for _, tail := range []string{"x", "\r\n", "\r", "=\r\nx", ""} {
			for _, lead := range []string{"", "="} {
				in := lead + strings.Repeat(" ", n) + tail
				got := decodeAll(t, "quoted-printable", in, 0)
				if one := decodeAll(t, "quoted-printable", in, 1); one != got {
					t.Fatalf("%d spaces %q: chunking changes the output", n, tail)
				}
				if len(got) > len(in) {
					t.Fatalf("output longer than input")
				}
				if tail == "x" && lead == "" && got != in {
					t.Errorf("%d spaces before x: got %d octets", n, len(got))
				}
			}
		}
	}
}

func TestQPDecoderMatchesStdlib(t *testing.T) {
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
		w.Binary = false
		_, _ = w.Write(data)
		_ = w.Close()
		std, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(enc.Bytes())))
		if err != nil {
			t.Fatal(err)
		}
		for _, piece := range []int{0, 1, 5} {
			if got := decodeAll(t, "quoted-printable", enc.String(), piece); got != string(std) {
				t.Fatalf("input %q:\n got %q\nwant %q", enc.String(), got, std)
			}
		}
	}
}

// The reader over a decoder gives the same octets as decoding at once,
// whatever the read sizes.
func TestDecodingReader(t *testing.T) {
	data := make([]byte, 200000)
	rand.New(rand.NewSource(3)).Read(data)
	enc := b64Lines(data, 76)
	for _, size := range []int{1, 1000, 1 << 20} {
		r := newDecodingReader(strings.NewReader(enc), &base64Decoder{})
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
}
