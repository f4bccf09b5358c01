package msgfmt

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"

	"mailroom/internal/imap/wire"
)

func literal8(s string) string { return "~{" + strconv.Itoa(len(s)) + "}\r\n" + s }

func TestBinary(t *testing.T) {
	m := loadMsg(t, "binary.eml")
	b := []byte("hello\x00world\x01\x02\xff") // the data binary.eml encodes
	for i := 0; i < 256; i++ {
		b = append(b, byte(i))
	}
	bin := string(b)
	const qp = "caf\xe9 = softbreak, tab\tend \r\nsecond line" // what Dovecot sends too
	mixed := loadMsg(t, "mixed.eml")
	mixedAlt := cut(t, mixed.raw, "--alt\r\nContent-Type: text/plain", "\r\n--outer")

	cases := []struct {
		name    string
		m       testMsg
		sec     *wire.Section
		partial *wire.Partial
		want    string
		size    int64
	}{
		{"base64 with NUL: literal8", m, sec("", 1), nil, literal8(bin), int64(len(bin))},
		{"base64 window holding NUL", m, sec("", 1), &wire.Partial{Offset: 3, Count: 4}, literal8(bin[3:7]), int64(len(bin))},
		{"base64 window without NUL", m, sec("", 1), &wire.Partial{Offset: 6, Count: 5}, literal(bin[6:11]), int64(len(bin))},
		{"base64 window at the end", m, sec("", 1), &wire.Partial{Offset: uint32(len(bin)) - 1, Count: 9}, literal(bin[len(bin)-1:]), int64(len(bin))},
		{"base64 window past the end", m, sec("", 1), &wire.Partial{Offset: uint32(len(bin)), Count: 9}, literal(""), int64(len(bin))},
		{"quoted-printable", m, sec("", 2), nil, literal(qp), int64(len(qp))},
		{"quoted-printable window", m, sec("", 2), &wire.Partial{Offset: 3, Count: 3}, literal(qp[3:6]), int64(len(qp))},
		{"nonexistent", m, sec("", 9), nil, literal(""), 0},
		{"whole message as stored", m, nil, nil, literal(string(m.raw)), int64(len(m.raw))},
		{"whole message window", m, sec(""), &wire.Partial{Offset: 0, Count: 10}, literal(string(m.raw[:10])), int64(len(m.raw))},
		{"multipart as stored", mixed, sec("", 1), nil, literal(mixedAlt), int64(len(mixedAlt))},
		{"qp text in a nested multipart", mixed, sec("", 1, 1), nil, literal("Café and\r\n  crème brûlée."), int64(len("Café and\r\n  crème brûlée."))},
		{"identity part", mixed, sec("", 1, 2), nil, literal("<html><body><p>Caf&eacute;</p></body></html>"), 44},
		{"base64 attachment", mixed, sec("", 2), nil, literal8("%PDF-1.4\n\x00\x01\x02\xff"), 13},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := renderErr(t, false, func(e *wire.Encoder) error { return WriteBinary(e, c.m.msg, c.m.body, c.sec, c.partial) })
			if got != c.want {
				t.Errorf("WriteBinary:\n got %q\nwant %q", clip(got), clip(c.want))
			}
			if err := checkSyntax([]byte(got)); err != nil {
				t.Error(err)
			}
			size, err := BinarySize(c.m.msg, c.m.body, c.sec)
			if err != nil || size != c.size {
				t.Errorf("BinarySize = %d, %v; want %d", size, err, c.size)
			}
		})
	}
}

// An unknown transfer encoding is refused before anything is written.
func TestBinaryUnknownCTE(t *testing.T) {
	m := loadMsg(t, "binary.eml")
	s := sec("", 3)
	if err := CheckBinary(m.msg, s); !errors.Is(err, ErrUnknownCTE) {
		t.Errorf("CheckBinary = %v", err)
	}
	if err := CheckBinary(m.msg, sec("", 1)); err != nil {
		t.Errorf("CheckBinary(1) = %v", err)
	}
	var err error
	out := render(false, func(e *wire.Encoder) { err = WriteBinary(e, m.msg, m.body, s, nil) })
	if !errors.Is(err, ErrUnknownCTE) || out != "" {
		t.Errorf("WriteBinary = %q, %v", out, err)
	}
	if _, err := BinarySize(m.msg, m.body, s); !errors.Is(err, ErrUnknownCTE) {
		t.Errorf("BinarySize = %v", err)
	}
}

// A message/rfc822 part sent base64-encoded is a leaf: BINARY decodes it.
func TestBinaryEncodedMessage(t *testing.T) {
	m := loadMsg(t, "edge.eml")
	got := renderErr(t, false, func(e *wire.Encoder) error { return WriteBinary(e, m.msg, m.body, sec("", 2), nil) })
	if want := literal("From: a@b.c\n\nX\n"); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// NUL in an identity-encoded part: literal8, found by looking only when
// the scan saw a NUL.
func TestBinaryIdentityNUL(t *testing.T) {
	m := scanBytes(t, []byte("Content-Transfer-Encoding: binary\r\n\r\nab\x00cd"))
	got := renderErr(t, false, func(e *wire.Encoder) error { return WriteBinary(e, m.msg, m.body, sec("", 1), nil) })
	if want := literal8("ab\x00cd"); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got = renderErr(t, false, func(e *wire.Encoder) error {
		return WriteBinary(e, m.msg, m.body, sec("", 1), &wire.Partial{Offset: 3, Count: 2})
	})
	if want := literal("cd"); got != want {
		t.Errorf("window: got %q, want %q", got, want)
	}
}

func TestBinaryLongBase64Line(t *testing.T) {
	data := []byte(strings.Repeat("0123456789", 20000))
	msg := "Content-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString(data)
	m := scanBytes(t, []byte(msg))
	got := renderErr(t, false, func(e *wire.Encoder) error { return WriteBinary(e, m.msg, m.body, sec("", 1), nil) })
	if want := literal(string(data)); got != want {
		t.Errorf("got %q, want %q", clip(got), clip(want))
	}
}
