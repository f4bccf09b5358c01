package search

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"mailroom/internal/mime"
	"mailroom/internal/store"
)

var indexKeys = []string{"FROM", "TO", "CC", "BCC", "SUBJECT", "BODY", "TEXT"}

// indexAnswer is what the full-text index answers for leaf l of a
// message with text doc: a substring test on the stored column(s).
func indexAnswer(doc *store.TextDoc, l IndexLeaf) (hit, known bool) {
	switch l.Field {
	case store.TextBody:
		return strings.Contains(doc.Body, l.Needle), doc.BodyComplete
	case store.TextAll:
		return strings.Contains(doc.Header, l.Needle) || strings.Contains(doc.Body, l.Needle), doc.BodyComplete
	}
	return strings.Contains(doc.Field(l.Field), l.Needle), true
}

// checkIndexAgrees: for every key kind, the index's answer for needle is
// the evaluator's, and the stored text is valid UTF-8 without NUL.
func checkIndexAgrees(t *testing.T, raw, needle string) {
	t.Helper()
	ctx := context.Background()
	st, err := mime.Scan(strings.NewReader(raw), mime.Limits{})
	if err != nil {
		return
	}
	doc, err := IndexText(ctx, st, strings.NewReader(raw))
	if err != nil {
		t.Fatalf("IndexText: %v", err)
	}
	for _, f := range []string{doc.From, doc.To, doc.Cc, doc.Bcc, doc.Subject, doc.Header, doc.Body} {
		if !utf8.ValidString(f) || strings.IndexByte(f, 0) >= 0 {
			t.Fatalf("stored text not valid UTF-8 or holds NUL: %q", f)
		}
	}
	msg := &testMsg{meta: store.MessageMeta{UID: 1, Size: int64(len(raw))}, seq: 1, ra: strings.NewReader(raw), size: int64(len(raw)), st: st}
	for _, op := range indexKeys {
		m, err := Compile(&Key{Op: op, Value: needle}, Context{MaxSeq: 1, MaxUID: 1})
		if err != nil {
			return
		}
		leaves := m.IndexLeaves()
		if len(leaves) != 1 {
			continue // not for the index (empty needle, '\n' in it)
		}
		hit, known := indexAnswer(doc, leaves[0])
		if !known {
			continue
		}
		ok, err := m.Match(ctx, msg)
		if err != nil {
			t.Fatal(err)
		}
		if ok != hit {
			t.Fatalf("%s %q: evaluator %v, index %v\nmessage %q\ndoc %+v", op, needle, ok, hit, raw, doc)
		}
	}
}

// TestIndexTextAgrees runs checkIndexAgrees over the mime and msgfmt
// corpora with needles taken from each message's own text.
func TestIndexTextAgrees(t *testing.T) {
	files, _ := filepath.Glob("../../imap/msgfmt/testdata/*.eml")
	more, _ := filepath.Glob("../../mime/testdata/*")
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatal("no corpus")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || len(b) > 1<<20 {
			continue
		}
		raw := string(b)
		// Needles: slices of the message's lines, and some across lines.
		lines := strings.Split(raw, "\n")
		for i, l := range lines {
			l = strings.TrimSpace(l)
			for _, n := range []string{l, strings.ToUpper(l), l[:len(l)/2], l[len(l)/2:]} {
				checkIndexAgrees(t, raw, n)
			}
			if i > 0 {
				checkIndexAgrees(t, raw, lines[i-1][max(0, len(lines[i-1])-4):]+" "+l[:min(len(l), 4)])
			}
		}
	}
}

// FuzzIndexText: whatever the message and the needle, the index's answer
// for each text key is the evaluator's.
func FuzzIndexText(f *testing.F) {
	for _, s := range [][2]string{
		{"From: =?UTF-8?Q?J=C3=B6rg?= <j@example.de>\r\nSubject: Grüße\r\n\r\nDas Wetter\r\n", "jörg"},
		{"From: a@b.c\r\nTo: \"Müller, Hans\" <h@x.de>\r\n\r\nx", "müller, hans <h@"},
		{"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<b>K=F6ln</b>\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody\r\n--x--\r\n", "köln</b>"},
		{"Subject: a\r\n\r\nline one\r\nline two\x00three \xff\xfe", "two\x00"},
		{"Content-Type: text/plain; charset=shift_jis\r\nContent-Transfer-Encoding: base64\r\n\r\nk4yLngpJ\r\n", "東京"},
		{"Cc: (comment) x@y.z, Group: a@b.c;\r\n\r\n", "x@y.z"},
		// MIME part headers and their decoded parameters: TEXT only.
		{"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Disposition: attachment; filename*0*=UTF-8''Gr%C3%BC;\r\n filename*1=sse.pdf\r\n\r\nx\r\n--b--\r\n", "grüsse.pdf"},
		{"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: image/png; name=\"=?UTF-8?Q?Foto_K=C3=B6ln.png?=\"\r\n\r\nP\r\n--c--\r\n--b--\r\n", "foto köln"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, raw, needle string) {
		if len(raw) > 64<<10 || len(needle) > 256 {
			return
		}
		checkIndexAgrees(t, raw, needle)
	})
}
