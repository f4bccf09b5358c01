package msgfmt

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"mailroom/internal/connbuf"
	"mailroom/internal/imap/wire"
	"mailroom/internal/mime"
)

// memBody is an in-memory store.Body.
type memBody struct{ *bytes.Reader }

func (memBody) Close() error { return nil }

func newBody(b []byte) memBody { return memBody{bytes.NewReader(b)} }

// testMsg is a scanned test message with its bytes.
type testMsg struct {
	raw  []byte
	msg  *mime.Message
	body memBody
}

func scanBytes(t testing.TB, raw []byte) testMsg {
	t.Helper()
	m, err := mime.Scan(bytes.NewReader(raw), mime.Limits{})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return testMsg{raw: raw, msg: m, body: newBody(raw)}
}

// loadMsg scans testdata/name.
func loadMsg(t testing.TB, name string) testMsg {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return scanBytes(t, raw)
}

// render runs fn on an encoder and returns what it wrote.
func render(utf8 bool, fn func(e *wire.Encoder)) string {
	var buf bytes.Buffer
	w := connbuf.NewWriter(&buf)
	e := wire.NewEncoder(w)
	e.SetUTF8(utf8)
	fn(e)
	_ = e.Flush()
	return buf.String()
}

// renderErr is render for functions that can fail.
func renderErr(t testing.TB, utf8 bool, fn func(e *wire.Encoder) error) string {
	t.Helper()
	var err error
	out := render(utf8, func(e *wire.Encoder) { err = fn(e) })
	if err != nil {
		t.Fatalf("unexpected error: %v (output %q)", err, out)
	}
	return out
}

// literal builds the expected literal for s.
func literal(s string) string { return "{" + strconv.Itoa(len(s)) + "}\r\n" + s }

// checkSyntax verifies that out is a sequence of IMAP response values with
// balanced parentheses outside quoted strings and literals, well-formed
// quoted strings, and literals whose announced octets are present (and
// hold no NUL unless literal8).
func checkSyntax(out []byte) error {
	depth := 0
	for i := 0; i < len(out); {
		switch c := out[i]; c {
		case '(':
			depth++
			i++
		case ')':
			depth--
			if depth < 0 {
				return fmt.Errorf("unbalanced ')' at %d", i)
			}
			i++
		case '"':
			i++
			for {
				if i >= len(out) {
					return fmt.Errorf("unterminated quoted string")
				}
				c := out[i]
				if c == '\\' {
					if i+1 >= len(out) || out[i+1] != '"' && out[i+1] != '\\' {
						return fmt.Errorf("bad escape at %d", i)
					}
					i += 2
					continue
				}
				if c == '\r' || c == '\n' || c == 0 {
					return fmt.Errorf("%q in quoted string at %d", c, i)
				}
				i++
				if c == '"' {
					break
				}
			}
		case '~', '{':
			binary := c == '~'
			if binary {
				i++
				if i >= len(out) || out[i] != '{' {
					return fmt.Errorf("'~' without literal at %d", i)
				}
			}
			end := bytes.Index(out[i:], []byte("}\r\n"))
			if end < 0 {
				return fmt.Errorf("bad literal header at %d", i)
			}
			n, err := strconv.Atoi(string(out[i+1 : i+end]))
			if err != nil || n < 0 {
				return fmt.Errorf("bad literal length at %d", i)
			}
			i += end + 3
			if i+n > len(out) {
				return fmt.Errorf("literal of %d octets cut at %d", n, len(out)-i)
			}
			if !binary && bytes.IndexByte(out[i:i+n], 0) >= 0 {
				return fmt.Errorf("NUL in literal at %d", i)
			}
			i += n
		default:
			if c == '\r' || c == '\n' || c == 0 || c >= 0x80 {
				return fmt.Errorf("%q outside strings at %d", c, i)
			}
			i++
		}
	}
	if depth != 0 {
		return fmt.Errorf("%d unclosed '('", depth)
	}
	return nil
}

// allPaths lists the part numbers of every part of msg, in document order,
// by IMAP numbering (PartAt), the empty path first.
func allPaths(msg *mime.Message, limit int) [][]int {
	paths := [][]int{nil}
	var walk func(prefix []int)
	walk = func(prefix []int) {
		for n := 1; len(paths) < limit; n++ {
			p := append(append([]int(nil), prefix...), n)
			if _, ok := msg.PartAt(p); !ok {
				return
			}
			paths = append(paths, p)
			walk(p)
		}
	}
	walk(nil)
	return paths
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
