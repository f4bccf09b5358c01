package search

import (
	"context"
	"testing"

	"mailroom/internal/store"
)

// FuzzSearch builds key trees from fuzz bytes through the wire decoder and
// evaluates them against well-formed and broken messages: no panic, no
// error, and NOT k is always the negation of k.
func FuzzSearch(f *testing.F) {
	for _, s := range []string{
		`ALL`, `OR SEEN FLAGGED`, `NOT (OR BODY xyzzy DELETED)`, `HEADER X-Empty ""`,
		`SUBJECT "köln"`, `TEXT alice`, `SENTON 1-Feb-1994`, `2:*`, `UID $`, `$`,
		`MODSEQ "/flags/\\seen" all 300`, `EMAILID M8`, `THREADID T1`, `KEYWORD work`,
		`CHARSET ISO-8859-1 BODY {3+}` + "\r\n\xfcxy", `BODY "" LARGER 10 SMALLER 100000`,
		`OR (SEEN BODY nested) (NOT SEEN SUBJECT late)`, `SAVEDSINCE 1-Jan-2000 UNKEYWORD $Junk`,
	} {
		f.Add(s)
	}
	msgs := testMessages(f)
	for _, raw := range []string{
		"no header at all, just text",
		"Subject: =?utf-8?B?!!!?=\r\nContent-Type: text/plain; charset=bogus\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@=\xff\xfe",
		"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=\r\n=Z=4\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nFrom",
		"X: " + string(make([]byte, 300<<10)) + "\r\n",
	} {
		msgs = append(msgs, newMsg(f, raw, store.MessageMeta{UID: uint32(50 + len(msgs))}, uint32(len(msgs)+1), true))
	}
	f.Fuzz(func(t *testing.T, args string) {
		s, err := parseSearch(args)
		if err != nil {
			return
		}
		c := Context{MaxSeq: uint32(len(msgs)), MaxUID: 60, Saved: []uint32{20, 30, 40, 50, 60}, Charset: s.Charset}
		m, err := Compile(keyOf(s.Key), c)
		if err != nil {
			return
		}
		not, err := Compile(&Key{Op: "NOT", Children: []*Key{keyOf(s.Key)}}, c)
		if err != nil {
			t.Fatalf("NOT of a valid key: %v", err)
		}
		for _, msg := range msgs {
			ok, err := m.Match(context.Background(), msg)
			if err != nil {
				t.Fatalf("Match: %v", err)
			}
			nok, err := not.Match(context.Background(), msg)
			if err != nil {
				t.Fatalf("Match NOT: %v", err)
			}
			if ok == nok {
				t.Fatalf("uid %d: key and NOT key both %v", msg.meta.UID, ok)
			}
			if msg.opens.Load() != msg.closes.Load() {
				t.Fatalf("uid %d: body left open", msg.meta.UID)
			}
		}
	})
}
