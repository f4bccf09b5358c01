package junkfilter

import (
	"bytes"
	"math"
	"reflect"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	for _, r := range []Record{
		{Junk: true, Scored: true, Score: 0.987, Threshold: 0.9, Clues: []string{`"viagra" (spam 99%)`, `"a\"b;c=d" (spam 91%)`}},
		{Scored: true, Score: 0.012, Threshold: 0.9, Clues: []string{`"meeting" (ham 95%)`}},
		{Junk: true, Quarantine: []string{"dmarc=fail (p=quarantine) header.from=example.com"}},
		{Junk: true, Scored: true, Score: 1, Threshold: 0.5, Quarantine: []string{"dnsbl: zen.example"}, Clues: []string{"ünïcödé ✓ \x00\r\n\tX-Evil: 1"}},
	} {
		field := r.Field()
		for _, line := range bytes.Split(bytes.TrimSuffix(field, []byte("\r\n")), []byte("\r\n")) {
			if len(line) > 998 || bytes.ContainsAny(line, "\r\n\x00") {
				t.Fatalf("bad line %q", line)
			}
			for _, c := range line {
				if c >= 0x80 {
					t.Fatalf("non-ASCII in %q", line)
				}
			}
		}
		msg := append(append([]byte("Return-Path: <x@y.example>\r\nDelivered-To: ann@example.test\r\n"), field...), "Received: from x\r\n\r\nbody\r\n"...)
		got, ok := Find(msg)
		if !ok {
			t.Fatalf("Find(%q) found nothing", msg)
		}
		want := r
		want.Score, want.Threshold = round3(r.Score), round3(r.Threshold)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip of %q:\n got %+v\nwant %+v", field, got, want)
		}
	}
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// Only the field in our place counts: a sender's own X-Mailroom-Junk
// further down (after our Received line) is not a verdict.
func TestFindIgnoresForgedFields(t *testing.T) {
	forged := "X-Mailroom-Junk: inbox; score=0.000; threshold=0.900\r\n"
	for _, msg := range []string{
		"Return-Path: <x@y.example>\r\nDelivered-To: ann@example.test\r\nReceived: from evil\r\n" + forged + "\r\nbody",
		"Received: from evil\r\n" + forged + "\r\n",
		"Subject: hi\r\n" + forged + "\r\n",
		"\r\n" + forged,
		"Return-Path: <x@y.example>\r\n\r\n" + forged,
	} {
		if r, ok := Find([]byte(msg)); ok {
			t.Errorf("Find(%q) = %+v, want nothing", msg, r)
		}
	}
	// Ours, even after several forwarding Delivered-To lines.
	msg := "Return-Path: <>\r\nDelivered-To: a@example.test\r\nDelivered-To: b@example.test\r\n" +
		"X-Mailroom-Junk: junk;\r\n\tquarantine=\"blocklist\"\r\nReceived: x\r\n" + forged + "\r\n"
	if r, ok := Find([]byte(msg)); !ok || !r.Junk || r.Scored || len(r.Quarantine) != 1 || r.Quarantine[0] != "blocklist" {
		t.Errorf("Find = %+v, %v", r, ok)
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	for _, v := range []string{
		"", "maybe", "junk; score=2", "junk; score=-0.1", "junk; score=NaN", "junk; score", `junk; clue="unterminated`,
		`junk; clue="a" extra`, "junk; other=1", `junk; clue="\q"`,
	} {
		if r, ok := Parse(v); ok {
			t.Errorf("Parse(%q) = %+v, want failure", v, r)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("junk; score=0.987; threshold=0.900; clue=\"\\\"viagra\\\" (spam 99%)\"")
	f.Add("inbox; quarantine=\"dmarc\"")
	f.Add(`junk; clue="\u00fc"; clue="\x00"`)
	f.Fuzz(func(t *testing.T, v string) {
		r, ok := Parse(v)
		if !ok {
			return
		}
		// What parses renders to a field that parses to the same.
		field := r.Field()
		name, value, _, found := nextField(field)
		if !found || name != FieldName {
			t.Fatalf("Field() = %q", field)
		}
		r2, ok := Parse(value)
		if !ok || r2.Junk != r.Junk || r2.Scored != r.Scored || len(r2.Clues) != len(r.Clues) || len(r2.Quarantine) != len(r.Quarantine) {
			t.Fatalf("%q: %+v, then %q: %+v", v, r, field, r2)
		}
	})
}

func FuzzFind(f *testing.F) {
	f.Add([]byte("Return-Path: <>\r\nDelivered-To: a@example.test\r\nX-Mailroom-Junk: junk; score=0.950; threshold=0.900\r\n\r\n"))
	f.Add([]byte("Return-Path: <>\r\nX-Mailroom-Junk: inbox;\r\n\tclue=\"x\"\r\n"))
	f.Add([]byte("X-Mailroom-Junk: junk\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		Find(msg) // must not panic or hang
	})
}
