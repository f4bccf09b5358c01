package emailprops

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"mailroom/internal/mime"
)

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal(%#v): %v", v, err)
	}
	return string(b)
}

func TestParseForms(t *testing.T) {
	// The address example of RFC 8621 4.1.2.3 and 4.1.2.4, as Headers
	// gives its value (leading space and folding kept).
	rfcTo := " \"  James Smythe\" <james@example.com>, Friends:\r\n  jane@example.com, =?UTF-8?Q?John_Sm=C3=AEth?=\r\n  <john@example.com>;"
	tests := []struct {
		name  string
		value string
		form  Form
		want  string // JSON
	}{
		{"raw keeps everything", " a\r\n b ", FormRaw, `" a\r\n b "`},
		{"text unfolds and drops leading SP", "  Hello\r\n  world ", FormText, `"Hello  world "`},
		{"text decodes RFC 2047", " =?UTF-8?Q?caf=C3=A9?= =?UTF-8?B?IGF1IGxhaXQ=?=", FormText, `"café au lait"`},
		{"text keeps unknown charset words", " =?x-nonsense?Q?abc?=", FormText, `"=?x-nonsense?Q?abc?="`},
		{"text drops encoded controls", " =?UTF-8?Q?a=00b=07c?=", FormText, `"abc"`},
		{"text is NFC", " e\u0301", FormText, `"é"`},
		{"RFC addresses", rfcTo, FormAddresses,
			`[{"name":"James Smythe","email":"james@example.com"},{"name":null,"email":"jane@example.com"},{"name":"John Smîth","email":"john@example.com"}]`},
		{"RFC grouped addresses", rfcTo, FormGroupedAddresses,
			`[{"name":null,"addresses":[{"name":"James Smythe","email":"james@example.com"}]},{"name":"Friends","addresses":[{"name":null,"email":"jane@example.com"},{"name":"John Smîth","email":"john@example.com"}]}]`},
		{"empty address list is empty, not null", " ", FormAddresses, `[]`},
		{"comment as name", " joe@example.com (Joe Bloggs)", FormAddresses, `[{"name":"Joe Bloggs","email":"joe@example.com"}]`},
		{"empty group", " undisclosed-recipients:;", FormGroupedAddresses, `[{"name":"undisclosed-recipients","addresses":[]}]`},
		{"mailboxes around a group", " a@x, G: b@x;, c@x, d@x", FormGroupedAddresses,
			`[{"name":null,"addresses":[{"name":null,"email":"a@x"}]},{"name":"G","addresses":[{"name":null,"email":"b@x"}]},{"name":null,"addresses":[{"name":null,"email":"c@x"},{"name":null,"email":"d@x"}]}]`},
		{"message ids", " <a@b> (comment)\r\n <\"q\"@c>", FormMessageIds, `["a@b","q@c"]`},
		{"message ids unparseable", " no ids here", FormMessageIds, `null`},
		{"date keeps its offset", " Thu, 30 Oct 2014 14:12:00 +0800", FormDate, `"2014-10-30T14:12:00+08:00"`},
		{"date with comment and folding", " Fri, 21 Nov 1997 09:55:06\r\n -0600 (MDT)", FormDate, `"1997-11-21T09:55:06-06:00"`},
		{"date UTC", " 1 Jan 2020 00:00:00 +0000", FormDate, `"2020-01-01T00:00:00Z"`},
		{"date unparseable", " yesterday", FormDate, `null`},
		{"urls", " <mailto:list@host.com?subject=help> (List Instructions),\r\n <https://example.com/\r\n help>", FormURLs,
			`["mailto:list@host.com?subject=help","https://example.com/help"]`},
		{"urls stop without comma", " <a:1> junk, <b:2>", FormURLs, `["a:1"]`},
		{"urls not starting with bracket", " NO (posting not allowed)", FormURLs, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustJSON(t, Parse(tt.value, tt.form)); got != tt.want {
				t.Errorf("Parse(%q, %v) = %s\nwant %s", tt.value, tt.form, got, tt.want)
			}
		})
	}
}

func TestAllowedForm(t *testing.T) {
	tests := []struct {
		name string
		form Form
		want bool
	}{
		{"From", FormAddresses, true},
		{"from", FormGroupedAddresses, true},
		{"Resent-Reply-To", FormAddresses, true},
		{"From", FormText, false},
		{"Subject", FormText, true},
		{"Subject", FormAddresses, false},
		{"List-Id", FormText, true},
		{"Message-ID", FormMessageIds, true},
		{"References", FormDate, false},
		{"Date", FormDate, true},
		{"Resent-Date", FormDate, true},
		{"Date", FormText, false},
		{"List-Unsubscribe", FormURLs, true},
		{"List-Unsubscribe", FormText, false},
		{"Received", FormText, false},
		{"Received", FormRaw, true},
		{"X-Anything", FormText, true},
		{"X-Anything", FormURLs, true},
		{"X-Anything", Form(99), false},
	}
	for _, tt := range tests {
		if got := AllowedForm(tt.name, tt.form); got != tt.want {
			t.Errorf("AllowedForm(%q, %v) = %v, want %v", tt.name, tt.form, got, tt.want)
		}
	}
}

func TestParseHeaderProperty(t *testing.T) {
	tests := []struct {
		prop string
		name string
		form Form
		all  bool
		ok   bool
	}{
		{"header:Subject", "Subject", FormRaw, false, true},
		{"header:List-Unsubscribe:asURLs:all", "List-Unsubscribe", FormURLs, true, true},
		{"header:from:asAddresses", "from", FormAddresses, false, true},
		{"header:X-Foo:all", "X-Foo", FormRaw, true, true},
		{"header:X-Foo:asRaw", "X-Foo", FormRaw, false, true},
		{"header:X:asGroupedAddresses:all", "X", FormGroupedAddresses, true, true},
		{"header:X:all:asText", "", 0, false, false},
		{"header:X:astext", "", 0, false, false},
		{"header:X:asBogus", "", 0, false, false},
		{"header:", "", 0, false, false},
		{"header:A B", "", 0, false, false},
		{"header:X:asText:all:more", "", 0, false, false},
		{"Header:Subject", "", 0, false, false},
		{"subject", "", 0, false, false},
	}
	for _, tt := range tests {
		name, form, all, ok := ParseHeaderProperty(tt.prop)
		if name != tt.name || form != tt.form || all != tt.all || ok != tt.ok {
			t.Errorf("ParseHeaderProperty(%q) = %q, %v, %v, %v; want %q, %v, %v, %v",
				tt.prop, name, form, all, ok, tt.name, tt.form, tt.all, tt.ok)
		}
	}
}

func TestHeaders(t *testing.T) {
	msg := "From Sender Mon Jan 1 00:00:00 2024\r\n" +
		"Subject: hello\r\n  world\r\n" +
		"X-Bare: lf\n\tfolded\n" +
		"Bad Name: x\r\n" +
		"X-Obs  : obsolete\r\n" +
		"Subject:second\r\n" +
		"\r\n" +
		"Body: not a header\r\n"
	m := scan(t, msg)
	hs, err := Headers(strings.NewReader(msg), m.Root, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []Header{
		{"Subject", " hello\r\n  world"},
		{"X-Bare", " lf\n\tfolded"},
		{"X-Obs", " obsolete"},
		{"Subject", "second"},
	}
	if got, w := mustJSON(t, hs), mustJSON(t, want); got != w {
		t.Fatalf("Headers = %s\nwant %s", got, w)
	}
	if got := mustJSON(t, HeaderValue(hs, "subject", FormText, true)); got != `["hello  world","second"]` {
		t.Errorf("all subjects = %s", got)
	}
	if got := mustJSON(t, HeaderValue(hs, "SUBJECT", FormRaw, false)); got != `"second"` {
		t.Errorf("last subject = %s", got)
	}
	if got := mustJSON(t, HeaderValue(hs, "X-None", FormRaw, false)); got != `null` {
		t.Errorf("absent = %s", got)
	}
	if got := mustJSON(t, HeaderValue(hs, "X-None", FormRaw, true)); got != `[]` {
		t.Errorf("absent all = %s", got)
	}

	// A limit inside the second Subject: the fields before it only.
	cut := strings.Index(msg, "Subject:second") + 5
	hs, err = Headers(strings.NewReader(msg), m.Root, cut)
	if !errors.Is(err, ErrHeaderTruncated) {
		t.Fatalf("err = %v, want ErrHeaderTruncated", err)
	}
	if len(hs) != 3 || hs[2].Name != "X-Obs" {
		t.Fatalf("truncated Headers = %+v", hs)
	}
}

func TestSummary(t *testing.T) {
	msg := crlf(`From: "Joe" <joe@example.com>
From: Second <second@example.com>
To: a@example.com, B <b@example.com>
Subject: =?UTF-8?Q?R=C3=A9sum=C3=A9?=
Date: Thu, 30 Oct 2014 14:12:00 +0800
Message-ID: <id1@example.com>
References: <r1@x> <r2@x>

body
`)
	m := scan(t, msg)
	s, err := SummaryOf(strings.NewReader(msg), m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"messageId":["id1@example.com"],"inReplyTo":null,"references":["r1@x","r2@x"],"sender":null,` +
		`"from":[{"name":"Second","email":"second@example.com"}],"to":[{"name":null,"email":"a@example.com"},{"name":"B","email":"b@example.com"}],` +
		`"cc":null,"bcc":null,"replyTo":null,"subject":"Résumé","sentAt":"2014-10-30T14:12:00+08:00"}`
	if got := mustJSON(t, s); got != want {
		t.Errorf("Summary = %s\nwant %s", got, want)
	}
}

func scan(t testing.TB, msg string) *mime.Message {
	t.Helper()
	return scanLimits(t, msg, mime.Limits{})
}

func scanLimits(t testing.TB, msg string, l mime.Limits) *mime.Message {
	t.Helper()
	m, err := mime.Scan(strings.NewReader(msg), l)
	if err != nil {
		t.Fatalf("mime.Scan: %v", err)
	}
	return m
}

func mimeLimits(maxDepth int) mime.Limits { return mime.Limits{MaxDepth: maxDepth} }
