package mime

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// TestBodyLinesCountLineEnds: body-fld-lines is the number of LFs in the
// part's body, as Dovecot (lib-mail/message-parser.c counts '\n' in each
// body block) and Cyrus report it; a last line without line end does not
// count, and the CRLF before a boundary line is the boundary's (RFC 2046
// 5.1.1), not the part's.
func TestBodyLinesCountLineEnds(t *testing.T) {
	const mp = "Subject: m\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
	cases := []struct {
		name, in, path string
		want           int64
	}{
		{"ends with CRLF", "Subject: a\r\n\r\nline1\r\nline2\r\n", "", 2},
		{"no final line end", "Subject: a\r\n\r\nline1\r\nline2", "", 1},
		{"one line without line end", "Subject: a\r\n\r\nonly", "", 0},
		{"bare LF", "Subject: a\n\nline1\nline2\n", "", 2},
		{"empty body", "Subject: a\r\n\r\n", "", 0},
		{"no body", "Subject: a\r\n", "", 0},
		// Before a boundary the part's last CRLF goes to the delimiter.
		{"multipart part", mp + "--b\r\nContent-Type: text/plain\r\n\r\nline1\r\nline2\r\n--b--\r\n", "1", 1},
		{"multipart part ending in an empty line", mp + "--b\r\n\r\nline1\r\nline2\r\n\r\n--b--\r\n", "1", 2},
		{"multipart empty part", mp + "--b\r\nContent-Type: text/plain\r\n\r\n\r\n--b--\r\n", "1", 0},
		{"multipart second part", mp + "--b\r\n\r\na\r\n--b\r\n\r\nx\r\ny\r\nz\r\n--b--\r\n", "2", 2},
		{"multipart bare LF", "Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\ntwo\n--b--\n", "1", 1},
		// The multipart's own body: everything from its blank line to the
		// end of input (preamble, delimiters, epilogue).
		{"multipart root", mp + "--b\r\n\r\nline1\r\nline2\r\n--b--\r\n", "", 5},
		// message/rfc822: the LFs of the whole encapsulated message.
		{"message/rfc822", mp + "--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nin1\r\nin2\r\n--b--\r\n", "1", 3},
		{"message/rfc822 inner body", mp + "--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nin1\r\nin2\r\n--b--\r\n", "1.1", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Chunkings that split CR from LF and boundaries across writes
			// must not change the count.
			for _, sizes := range [][]int{nil, {1}, {2}, {3, 5}, {7}} {
				m := scanChunks(t, []byte(c.in), Limits{}, sizes...)
				checkInvariants(t, m, []byte(c.in))
				p := partAt(t, m, c.path)
				if p.BodyLines != c.want {
					t.Fatalf("chunks %v: part %q body %q has BodyLines %d, want %d", sizes, c.path, c.in[p.BodyStart:p.End], p.BodyLines, c.want)
				}
			}
		})
	}
}

// TestBodyLinesOldRecord: counting line ends changed what BodyLines means,
// not the binary format. A record written by the scanner before the change
// (which counted lines started, so 2 for "one\r\ntwo") still decodes, with
// its count as recorded: the store keeps such records, and a BODYSTRUCTURE
// a client has cached must not change under it.
func TestBodyLinesOldRecord(t *testing.T) {
	const in = "Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\ntwo\r\n--b--\r\n"
	old, _ := hex.DecodeString("015100076f6e652074776f0039180305096d756c746970617274056d697865640108626f756e6461727901620000" +
		"04376269740000000000000100017301730000000000000000013e02080102047465787405706c61696e00000004376269740000000000000000")
	var m Message
	if err := m.UnmarshalBinary(old); err != nil {
		t.Fatalf("old record: %v", err)
	}
	if p := m.Root.Parts[0]; p.BodyLines != 2 || p.End-p.BodyStart != int64(len("one\r\ntwo")) {
		t.Fatalf("old record decoded to %+v", p)
	}
	// Scanning the same message now gives the same bytes but for that count.
	b, err := mustScan(t, in, Limits{}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != len(old) {
		t.Fatalf("record is %d bytes, was %d: the format changed", len(b), len(old))
	}
	var diff []int
	for i := range b {
		if b[i] != old[i] {
			diff = append(diff, i)
		}
	}
	if len(diff) != 1 || old[diff[0]] != 2 || b[diff[0]] != 1 {
		t.Fatalf("records differ at %v:\n old %x\n new %x", diff, old, b)
	}
	if !bytes.Equal(old[:diff[0]], b[:diff[0]]) {
		t.Fatal("prefix differs")
	}
}
