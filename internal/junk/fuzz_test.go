package junk

import (
	"bytes"
	"encoding/base64"
	"testing"
	"unicode/utf8"
)

// FuzzTokens: any input gives distinct, valid, bounded tokens without a
// panic, and the same tokens every time.
func FuzzTokens(f *testing.F) {
	for _, s := range []string{
		"",
		"Subject: hi\r\n\r\nhello world\r\n",
		"From x\nFrom: \"A\" <a@b.c>\nTo: g:;\n\nbody",
		"Content-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<a href=3D\"http://x.y.z/\">caf=E9</a><!--\r\n",
		"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			base64.StdEncoding.EncodeToString([]byte("spam spam http://www.example.com/")) + "\r\n--b\r\nContent-Type: text/html\r\n\r\n<script>x</script>&#x41;&amp\r\n--b--\r\n",
		"Received: from a.b (c [1.2.3.4])\r\nSubject: =?utf-8?q?=E2=82=AC?= FREE!!!\r\n\r\n$$$ www. https:// http://@/ <a <",
		"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		toks := Tokens(msg)
		if len(toks) > maxTokens {
			t.Fatalf("%d tokens", len(toks))
		}
		seen := make(map[string]bool, len(toks))
		for _, tok := range toks {
			if tok == "" || seen[tok] {
				t.Fatalf("empty or repeated token %q", tok)
			}
			// Tokens reach people (Verdict.Reasons, the webmail).
			if !utf8.ValidString(tok) {
				t.Fatalf("token %q is not UTF-8", tok)
			}
			seen[tok] = true
		}
		again := Tokens(msg)
		if len(again) != len(toks) {
			t.Fatalf("not deterministic: %d then %d tokens", len(toks), len(again))
		}
		// Classifying what we tokenized never fails either.
		m := NewModel()
		m.Learn(toks, true)
		m.Learn(Tokens([]byte("Subject: x\r\n\r\nsomething else\r\n")), false)
		v := m.Classify(toks, nil)
		if v.Score < 0 || v.Score > 1 {
			t.Fatalf("score %v", v.Score)
		}
		for _, r := range v.Reasons {
			if !utf8.ValidString(r) {
				t.Fatalf("invalid UTF-8 in reason %q", r)
			}
		}
	})
}

// FuzzUnmarshalBinary: stored models are read back from a database; bad
// bytes must give an error, never a panic, and a good decoding re-encodes
// to the same bytes.
func FuzzUnmarshalBinary(f *testing.F) {
	m := NewModel()
	m.Learn([]string{"a", "b"}, true)
	m.Learn([]string{"b", "c"}, false)
	good, _ := m.MarshalBinary()
	f.Add(good)
	f.Add([]byte(binaryMagic))
	f.Add([]byte("MRJ1\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := NewModel()
		if err := m.UnmarshalBinary(b); err != nil {
			return
		}
		out, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		// Entries with zero counts are dropped on reading, so only an
		// encoding without them is canonical; re-decoding must agree.
		m2 := NewModel()
		if err := m2.UnmarshalBinary(out); err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		out2, _ := m2.MarshalBinary()
		if !bytes.Equal(out, out2) {
			t.Fatal("encoding not stable")
		}
	})
}
