package search

import (
	"slices"
	"testing"
)

// partHeaderMsgs are messages whose search word is only in the header of
// a MIME part (RFC 9051 6.4.4: TEXT covers "MIME header fields", BODY
// only the body), each with the word in a different place and encoding.
var partHeaderMsgs = []struct {
	name, raw string
	needle    string // what a user types
}{
	{"plain filename", "Subject: offer\n" +
		"Content-Type: multipart/mixed; boundary=b\n\n" +
		"--b\nContent-Type: text/plain\n\nsee attached\n" +
		"--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=Kostenvoranschlag.pdf\nContent-Transfer-Encoding: base64\n\nJVBERg==\n--b--\n",
		"kostenvoranschlag"},
	{"RFC 2231 encoded filename", "Subject: offer\n" +
		"Content-Type: multipart/mixed; boundary=b\n\n" +
		"--b\nContent-Type: text/plain\n\nsee attached\n" +
		"--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename*=UTF-8''Kostenvoranschl%C3%A4ge%20M%C3%BCnchen.pdf\n\n%PDF\n--b--\n",
		"kostenvoranschläge münchen"},
	{"RFC 2231 continued filename", "Subject: offer\n" +
		"Content-Type: multipart/mixed; boundary=b\n\n" +
		"--b\nContent-Type: text/plain\n\nsee attached\n" +
		"--b\nContent-Type: application/pdf\nContent-Disposition: attachment;\n filename*0*=UTF-8''Jahres%C3%BC;\n filename*1=bersicht;\n filename*2=\"2026.pdf\"\n\n%PDF\n--b--\n",
		"JAHRESÜBERSICHT2026"},
	{"RFC 2047 in a name parameter", "Subject: offer\n" +
		"Content-Type: multipart/mixed; boundary=b\n\n" +
		"--b\nContent-Type: text/plain\n\nsee attached\n" +
		"--b\nContent-Type: application/vnd.ms-excel; name=\"=?ISO-8859-1?Q?Kalkulation_f=FCr_K=F6ln.xls?=\"\n\nxls\n--b--\n",
		"kalkulation für köln"},
	{"a part inside an attached message", "Subject: fwd\n" +
		"Content-Type: multipart/mixed; boundary=o\n\n" +
		"--o\nContent-Type: text/plain\n\nforwarding\n" +
		"--o\nContent-Type: message/rfc822\n\n" +
		"Subject: inner\nContent-Type: multipart/mixed; boundary=i\n\n" +
		"--i\nContent-Type: text/plain\n\ninner text\n" +
		"--i\nContent-Type: image/png\nContent-Disposition: inline; filename=\"Baustellenfoto.png\"\n\nPNG\n--i--\n--o--\n",
		"baustellenfoto"},
	{"a Content-Description of a part", "Subject: offer\n" +
		"Content-Type: multipart/mixed; boundary=b\n\n" +
		"--b\nContent-Type: text/plain\n\nhi\n" +
		"--b\nContent-Type: application/octet-stream\nContent-Description: =?UTF-8?B?UXVhcnRhbHNiZXJpY2h0?=\n\nbin\n--b--\n",
		"quartalsbericht"},
	{"RFC 2231 filename of a single-part message", "Subject: scan\n" +
		"Content-Type: application/pdf\nContent-Disposition: attachment; filename*=UTF-8''Lieferschein%E2%84%962.pdf\n\n%PDF\n",
		"lieferschein№2"},
}

// TestPartHeaders: a word only in a MIME part header (or its decoded
// parameters) matches TEXT, not BODY, SUBJECT or HEADER, and the index's
// text agrees with the evaluator on every key.
func TestPartHeaders(t *testing.T) {
	var msgs []*testMsg
	for i, c := range partHeaderMsgs {
		msgs = append(msgs, newMsg(t, crlf(c.raw), msgMeta(uint32(i+1)), uint32(i+1), false))
	}
	for i, c := range partHeaderMsgs {
		uid := uint32(i + 1)
		for _, k := range []struct {
			key  *Key
			want bool
		}{
			{&Key{Op: "TEXT", Value: c.needle}, true},
			{&Key{Op: "BODY", Value: c.needle}, false},
			{&Key{Op: "SUBJECT", Value: c.needle}, false},
			{&Key{Op: "HEADER", Field: "Content-Disposition", Value: c.needle}, false},
			{&Key{Op: "HEADER", Field: "Content-Type", Value: c.needle}, false},
			{&Key{Op: "NOT", Children: []*Key{{Op: "TEXT", Value: c.needle}}}, false},
		} {
			got := slices.Contains(run(t, k.key, Context{MaxSeq: 10, MaxUID: 10}, msgs), uid)
			if got != k.want {
				t.Errorf("%s: %s %q matched %v, want %v", c.name, k.key.Op, c.needle, got, k.want)
			}
		}
		checkIndexAgrees(t, crlf(c.raw), c.needle)
		checkIndexAgrees(t, crlf(c.raw), string(foldString(nil, c.needle)))
	}
	// The word is in no other message: TEXT finds exactly its message.
	for i, c := range partHeaderMsgs {
		if got := run(t, &Key{Op: "TEXT", Value: c.needle}, Context{MaxSeq: 10, MaxUID: 10}, msgs); !slices.Equal(got, []uint32{uint32(i + 1)}) {
			t.Errorf("%s: TEXT %q matched %v", c.name, c.needle, got)
		}
	}
}
