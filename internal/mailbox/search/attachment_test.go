package search

import (
	"context"
	"slices"
	"testing"
)

// TestHasAttachment: HASATTACHMENT by message structure, one message per
// case, evaluated through Compile and Match as every protocol does, with
// NOT and the structure-only promise (the body is never opened).
func TestHasAttachment(t *testing.T) {
	cases := []struct {
		name, raw string
		want      bool
	}{
		{"plain text", "Subject: a\n\nhello\n", false},
		{"html only", "Content-Type: text/html\n\n<p>hi</p>\n", false},
		{"a lone pdf", "Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n\nJVBERg==\n", true},
		{"alternative", "Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n--b\nContent-Type: text/html\n\n<p>hi</p>\n--b--\n", false},
		{"mixed with pdf", "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee\n--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=r.pdf\n\n%PDF\n--b--\n", true},
		{"text attachment by disposition", "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee\n--b\nContent-Type: text/plain\nContent-Disposition: attachment\n\nnotes\n--b--\n", true},
		{"text attachment by name", "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee\n--b\nContent-Type: text/plain; name=notes.txt\n\nnotes\n--b--\n", true},
		{"nested image", "Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/related; boundary=i\n\n--i\nContent-Type: text/html\n\n<img src=cid:x>\n--i\nContent-Type: image/png\nContent-ID: <x>\n\nPNG\n--i--\n--o--\n", true},
		{"forwarded message", "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nfwd\n--b\nContent-Type: message/rfc822\n\nSubject: inner\n\ninner\n--b--\n", true},
		{"empty multipart", "Content-Type: multipart/mixed; boundary=b\n\n--b--\n", false},
	}
	var msgs []*testMsg
	var want []uint32
	for i, c := range cases {
		m := newMsg(t, crlf(c.raw), msgMeta(uint32(i+1)), uint32(i+1), false)
		msgs = append(msgs, m)
		if got := HasAttachment(m.st); got != c.want {
			t.Errorf("%s: HasAttachment = %v, want %v", c.name, got, c.want)
		}
		if c.want {
			want = append(want, uint32(i+1))
		}
	}
	if got := run(t, &Key{Op: "HASATTACHMENT"}, Context{}, msgs); !slices.Equal(got, want) {
		t.Errorf("HASATTACHMENT matched %v, want %v", got, want)
	}
	not := run(t, &Key{Op: "NOT", Children: []*Key{{Op: "HASATTACHMENT"}}}, Context{}, msgs)
	if len(not)+len(want) != len(msgs) || slices.ContainsFunc(not, func(u uint32) bool { return slices.Contains(want, u) }) {
		t.Errorf("NOT HASATTACHMENT matched %v, HASATTACHMENT %v", not, want)
	}
	for _, m := range msgs {
		if n := m.opens.Load(); n != 0 {
			t.Fatalf("uid %d: the body was opened %d times for a structure key", m.meta.UID, n)
		}
	}
	// A message without a recorded structure has no attachment.
	if HasAttachment(nil) {
		t.Error("HasAttachment(nil)")
	}
	m, err := Compile(&Key{Op: "HASATTACHMENT"}, Context{})
	if err != nil || !m.NeedsContent() {
		t.Fatalf("Compile: %v, NeedsContent %v", err, m != nil && m.NeedsContent())
	}
	if ok, err := m.Match(context.Background(), &testMsg{}); ok || err != nil {
		t.Fatalf("no structure: %v %v", ok, err)
	}
}
