package mime

import (
	"reflect"
	"testing"
)

func TestParseParams(t *testing.T) {
	tests := []struct {
		in   string
		want []Param
	}{
		{"", nil},
		{"; charset=us-ascii", []Param{{"charset", "us-ascii"}}},
		{`; CHARSET="utf-8"; Format=Flowed`, []Param{{"charset", "utf-8"}, {"format", "Flowed"}}},
		{`;charset="a\"b";;x=1;`, []Param{{"charset", `a"b`}, {"x", "1"}}},
		{"; name=my file.pdf; x=y", []Param{{"name", "my file.pdf"}, {"x", "y"}}},
		{"; a=1 (comment); b=2", []Param{{"a", "1"}, {"b", "2"}}},
		{"; novalue; a=1", []Param{{"a", "1"}}},
		{"; a=1; a=2", []Param{{"a", "1"}}},
		{`; a="unterminated`, []Param{{"a", "unterminated"}}},
		{"; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A", []Param{{"title", "This is ***fun***"}}},
		{"; title*0*=us-ascii'en'This%20is%20even%20more%20; title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2=\"isn't it!\"",
			[]Param{{"title", "This is even more ***fun*** isn't it!"}}},
		{"; f*1=b; f*0=a; f*3=d", []Param{{"f", "ab"}}}, // out of order, gap stops
		{"; f*=utf-8''%E2%82%AC; f=fallback", []Param{{"f", "€"}}},
		{"; f=fallback; f*=utf-8''%E2%82%AC", []Param{{"f", "€"}}},
		{"; f*=iso-8859-1''%E9", []Param{{"f", "é"}}},
		{"; f*=x-no-such-charset''%E9", []Param{{"f", "\xe9"}}},
		{"; f*=no-quotes%41", []Param{{"f", "no-quotesA"}}},
		{"; f*99999999999=x", []Param{{"f*99999999999", "x"}}},
		{"; *=x; =y", []Param{{"*", "x"}}},
	}
	for _, tc := range tests {
		if got := parseParams(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseParams(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseDisposition(t *testing.T) {
	d, ps := parseDisposition(" Attachment ; filename=a.txt; size=3")
	if d != "attachment" || !reflect.DeepEqual(ps, []Param{{"filename", "a.txt"}, {"size", "3"}}) {
		t.Errorf("%q %q", d, ps)
	}
	if d, _ := parseDisposition("inl ine"); d != "" {
		t.Errorf("bad disposition kept: %q", d)
	}
}

func TestDecodeHeader(t *testing.T) {
	tests := map[string]string{
		"plain":                                  "plain",
		"=?utf-8?q?caf=C3=A9?=":                  "café",
		"=?UTF-8?B?w6lsw6h2ZQ==?=":               "élève",
		"=?iso-8859-1?q?a?= =?iso-8859-1?q?b?=":  "ab",
		"=?iso-8859-1?q?a?=\r\n =?utf-8?q?b?= c": "ab c",
		"x =?utf-8?q?a?= y":                      "x a y",
		"=?windows-1252?q?=80?=":                 "€",
		"=?koi8-r?b?8NLJ18XU?=":                  "Привет",
		"=?utf-8*en?q?lang?=":                    "lang",
		"=?unknown-cs?q?x?=":                     "=?unknown-cs?q?x?=",
		"=?utf-8?x?bad?=":                        "=?utf-8?x?bad?=",
		"=?utf-8?b?!!!?=":                        "=?utf-8?b?!!!?=",
		"=?utf-8?q?not closed":                   "=?utf-8?q?not closed",
		"=?":                                     "=?",
		"a=?b":                                   "a=?b",
		"=?utf-8?q?=FF?=":                        "\uFFFD",
		"raw \xff":                               "raw \uFFFD",
		"=?utf-8?q?a?==?utf-8?q?b?=":             "ab",
		// Words decode as bodies do: ISO-8859-1 is Windows-1252 (the
		// standard library's word decoder made 0x80 a C1 control), a
		// missing padding and a malformed Q escape are tolerated (it kept
		// such words encoded).
		"=?iso-8859-1?q?=80_K=F6ln?=": "€ Köln",
		"=?utf-8?B?SGVsbG8?=":         "Hello",
		"=?utf-8?q?a_b_?=":            "a b ",
		"=?utf-8?q?=5F_?=":            "_ ",
		"=?utf-8?q?bad=ZZ?=":          "bad=ZZ",
		"=?utf-8?q??=":                "",
		"=?us-ascii?q?=E9?=":          "\uFFFD",
		"=?x-no-such?b?SGk=?= x":      "=?x-no-such?b?SGk=?= x",
	}
	for in, want := range tests {
		if got := DecodeHeader(in); got != want {
			t.Errorf("DecodeHeader(%q) = %q, want %q", in, got, want)
		}
	}
}
