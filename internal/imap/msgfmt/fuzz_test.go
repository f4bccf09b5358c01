package msgfmt

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"mailroom/internal/imap/wire"
	"mailroom/internal/mime"
)

// oneLiteral parses out as exactly one literal or literal8.
func oneLiteral(out []byte) (content []byte, binary bool, err error) {
	if bytes.HasPrefix(out, []byte("~")) {
		binary, out = true, out[1:]
	}
	end := bytes.Index(out, []byte("}\r\n"))
	if len(out) == 0 || out[0] != '{' || end < 0 {
		return nil, false, fmt.Errorf("not a literal: %q", out)
	}
	n, err := strconv.Atoi(string(out[1:end]))
	if err != nil || n != len(out)-end-3 {
		return nil, false, fmt.Errorf("literal announces %q octets, has %d", out[1:end], len(out)-end-3)
	}
	return out[end+3:], binary, nil
}

// FuzzMessage: for any input, the structure renders with balanced syntax,
// every section of every part resolves inside the message and is written
// as one literal of the announced size, and nothing panics.
func FuzzMessage(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.eml")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\n--x--"))
	f.Add([]byte("Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\nTo: a:;,b\r\n\r\n"))
	f.Add([]byte("To: \"\x00\r\" <@>, g: ;\r\nContent-Type: text/plain; a*0*=x'y'%00; b=\"\xff\"\r\n\r\n"))
	f.Add([]byte("Content-Transfer-Encoding: quoted-printable\r\n\r\n=\r\n=4= \t \r"))
	limits := mime.Limits{MaxDepth: 8, MaxParts: 64, MaxHeaderBytes: 8 << 10}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := mime.Scan(bytes.NewReader(data), limits)
		if err != nil {
			return
		}
		body := newBody(data)
		for _, utf8 := range []bool{false, true} {
			for _, ext := range []bool{false, true} {
				out := render(utf8, func(e *wire.Encoder) { BodyStructure(e, msg, ext) })
				if err := checkSyntax([]byte(out)); err != nil {
					t.Fatalf("BODYSTRUCTURE (utf8 %v, ext %v): %v\n%q", utf8, ext, err, out)
				}
			}
			out := render(utf8, func(e *wire.Encoder) { Envelope(e, msg.Root.Envelope) })
			if err := checkSyntax([]byte(out)); err != nil {
				t.Fatalf("ENVELOPE: %v\n%q", err, out)
			}
		}
		partials := []*wire.Partial{nil, {Offset: 1, Count: 5}, {Offset: 1 << 30, Count: 1}}
		for _, path := range allPaths(msg, 64) {
			secs := []*wire.Section{
				{Part: path},
				{Part: path, Specifier: "HEADER"},
				{Part: path, Specifier: "TEXT"},
				{Part: path, Specifier: "MIME"},
				{Part: path, Specifier: "HEADER.FIELDS", Fields: []string{"Subject", "content-type"}},
				{Part: path, Specifier: "HEADER.FIELDS", Fields: []string{"subject"}, Not: true},
			}
			for _, s := range secs {
				r, ok := SectionRange(msg, s)
				if ok && !(0 <= r.Start && r.Start <= r.End && r.End <= int64(len(data))) {
					t.Fatalf("%+v: range %+v outside %d octets", s, r, len(data))
				}
				for _, p := range partials {
					out := render(false, func(e *wire.Encoder) {
						if err := WriteSection(e, msg, body, s, p); err != nil {
							t.Fatalf("%+v: %v", s, err)
						}
					})
					content, binary, err := oneLiteral([]byte(out))
					if err != nil || binary || bytes.IndexByte(content, 0) >= 0 {
						t.Fatalf("%+v %+v: %v (binary %v)", s, p, err, binary)
					}
					if ok && p == nil && s.Specifier != "HEADER.FIELDS" && int64(len(content)) != r.Len() {
						t.Fatalf("%+v: %d octets, range has %d", s, len(content), r.Len())
					}
				}
			}
			bs := &wire.Section{Part: path}
			size, err := BinarySize(msg, body, bs)
			if errors.Is(err, ErrUnknownCTE) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range partials {
				out := render(false, func(e *wire.Encoder) {
					if err := WriteBinary(e, msg, body, bs, p); err != nil {
						t.Fatalf("BINARY[%v]: %v", path, err)
					}
				})
				content, binary, err := oneLiteral([]byte(out))
				if err != nil {
					t.Fatalf("BINARY[%v]: %v", path, err)
				}
				if !binary && bytes.IndexByte(content, 0) >= 0 {
					t.Fatalf("BINARY[%v]: NUL in a literal", path)
				}
				if p == nil && int64(len(content)) != size {
					t.Fatalf("BINARY[%v]: %d octets, BINARY.SIZE %d", path, len(content), size)
				}
			}
		}
	})
}
