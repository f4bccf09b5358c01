package wire

import "testing"

func TestMUTF7(t *testing.T) {
	for _, c := range []struct{ utf8, mutf7 string }{
		// RFC 3501 5.1.3
		{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
		// RFC 2152-derived classics
		{"☺!", "&Jjo-!"},
		{"&", "&-"},
		{"A&B&&", "A&-B&-&-"},
		{"", ""},
		{"INBOX", "INBOX"},
		{"Entwürfe", "Entw&APw-rfe"},
		{"Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"},
		{"𝄞", "&2DTdHg-"},       // outside the BMP: a surrogate pair
		{"a\tb", "a&AAk-b"},     // control characters are encoded
		{"~\x7f", "~&AH8-"},     // DEL too
		{"日&本", "&ZeU-&-&Zyw-"}, // "&" between shifts
	} {
		if got := EncodeMUTF7(c.utf8); got != c.mutf7 {
			t.Errorf("EncodeMUTF7(%q) = %q, want %q", c.utf8, got, c.mutf7)
		}
		got, err := DecodeMUTF7(c.mutf7)
		if err != nil || got != c.utf8 {
			t.Errorf("DecodeMUTF7(%q) = %q, %v; want %q", c.mutf7, got, err, c.utf8)
		}
	}
	// invalid UTF-8 is encoded as U+FFFD
	if got := EncodeMUTF7("a\xffb"); got != "a&,,0-b" {
		t.Errorf("invalid UTF-8: %q", got)
	}
}

func TestDecodeMUTF7Adjacent(t *testing.T) {
	// RFC 2152 allows two shift sequences in a row; they decode the same
	got, err := DecodeMUTF7("&ZeU-&Zyw-")
	if err != nil || got != "日本" {
		t.Fatalf("%q %v", got, err)
	}
}

func TestDecodeMUTF7Invalid(t *testing.T) {
	for _, in := range []string{
		"caf\xc3\xa9",  // raw 8-bit
		"a\tb",         // raw control character
		"&U,BTFw",      // unterminated
		"&U,BTF-",      // leftover bits that are not zero
		"&A-",          // six bits: no UTF-16 unit at all
		"&AGE-",        // "a" encoded: printable ASCII must represent itself
		"&ACY-",        // "&" encoded
		"&2DQ-",        // lone high surrogate
		"&3R4-",        // lone low surrogate
		"&2DTYNA-",     // high surrogate followed by a high surrogate
		"&U/BTFw-",     // "/" is not in modified BASE64
		"&U=BTFw-",     // nor "="
		"&ZeVnLIqeAA-", // leftover 12 bits... a partial unit
		"&Jjo-&",       // unterminated after a valid sequence
	} {
		if got, err := DecodeMUTF7(in); err == nil {
			t.Errorf("DecodeMUTF7(%q) = %q, want an error", in, got)
		}
	}
}
