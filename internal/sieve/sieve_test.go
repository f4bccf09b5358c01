package sieve

import (
	"context"
	"errors"
	"net/mail"
	"reflect"
	"strings"
	"testing"
	"time"
)

func parseMsg(t testing.TB, raw string) Message {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(strings.ReplaceAll(raw, "\n", "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(raw, "\n\n")
	body := raw[i+2:]
	return NewMessage(m.Header, len(raw), func() ([]byte, error) { return []byte(strings.ReplaceAll(body, "\n", "\r\n")), nil })
}

const testMsg = `From: Boss <boss@example.com>
To: me@example.org
Subject: Quarterly report
Message-ID: <q1@example.com>
Content-Type: text/plain

Numbers inside.
`

type env struct {
	mailboxes map[string]bool
	seen      map[string]bool
}

func (e *env) MailboxExists(_ context.Context, name string) (bool, error) {
	return e.mailboxes[name], nil
}

func (e *env) DuplicateSeen(_ context.Context, id string) (bool, error) { return e.seen[id], nil }

func run(t *testing.T, script string, in Input) *Result {
	t.Helper()
	s, err := Compile(script, nil, Limits{})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	if in.Message == nil {
		in.Message = parseMsg(t, testMsg)
	}
	res, err := Run(context.Background(), in, &env{}, s)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

func TestActions(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		want         Result
	}{
		{"implicit keep", ``, Result{Keep: true}},
		{"fileinto", `require "fileinto"; if header :contains "subject" "report" { fileinto "Work"; }`,
			Result{FileInto: []FileInto{{Mailbox: "Work"}}}},
		{"fileinto copy create", `require ["fileinto", "copy", "mailbox"]; fileinto :copy :create "Work/Reports";`,
			Result{Keep: true, FileInto: []FileInto{{Mailbox: "Work/Reports", Create: true}}}},
		{"addflag on keep", `require "imap4flags"; if address :is "from" "boss@example.com" { addflag "\\Flagged"; }`,
			Result{Keep: true, KeepFlags: []string{`\Flagged`}}},
		{"flags keep their case", `require ["fileinto", "imap4flags"]; addflag "$Label1"; addflag "$label1 \\Seen"; removeflag "\\SEEN"; fileinto :flags "$Forwarded" "X"; keep :flags ["$Junk"];`,
			Result{Keep: true, KeepFlags: []string{"$Junk"}, FileInto: []FileInto{{Mailbox: "X", Flags: []string{"$Forwarded"}}}}},
		{"flags per action", `require ["fileinto", "imap4flags"]; addflag "a"; fileinto :flags "b" "X"; fileinto "Y";`,
			Result{FileInto: []FileInto{{Mailbox: "X", Flags: []string{"b"}}, {Mailbox: "Y", Flags: []string{"a"}}}}},
		{"redirect", `redirect "acct@example.net"; redirect "acct@example.net";`,
			Result{Redirect: []Redirect{{Address: "acct@example.net"}}}},
		{"redirect copy", `require "copy"; redirect :copy "acct@example.net";`,
			Result{Keep: true, Redirect: []Redirect{{Address: "acct@example.net", Copy: true}}}},
		{"discard", `discard;`, Result{Discard: true}},
		{"stop", `require "fileinto"; fileinto "A"; stop; fileinto "B";`, Result{FileInto: []FileInto{{Mailbox: "A"}}}},
		{"reject", `require "reject"; reject "go away";`, Result{Reject: &Reject{Reason: "go away"}}},
		{"ereject", `require "ereject"; ereject "no";`, Result{Reject: &Reject{Reason: "no", Extended: true}}},
		{"elsif else", `require "fileinto"; if header :is "subject" "x" { fileinto "A"; } elsif false { fileinto "B"; } else { fileinto "C"; }`,
			Result{FileInto: []FileInto{{Mailbox: "C"}}}},
		{"variables", `require ["fileinto", "variables"]; if header :matches "subject" "Quarterly *" { fileinto "R/${1}"; }`,
			Result{FileInto: []FileInto{{Mailbox: "R/report"}}}},
		{"hasflag", `require ["imap4flags", "fileinto"]; addflag "\\Seen"; if hasflag :is "\\seen" { fileinto "Read"; }`,
			Result{FileInto: []FileInto{{Mailbox: "Read", Flags: []string{`\Seen`}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, tc.script, Input{})
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("got %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

func TestSpamtest(t *testing.T) {
	script := `require ["spamtest", "relational", "comparator-i;ascii-numeric", "fileinto"];
if spamtest :value "ge" :comparator "i;ascii-numeric" "7" { fileinto "Junk"; stop; }
if spamtest :is "0" { fileinto "Untested"; }`
	for _, tc := range []struct {
		score int
		want  string
	}{{9, "Junk"}, {7, "Junk"}, {3, ""}, {0, "Untested"}} {
		res := run(t, script, Input{SpamScore: tc.score, SpamPercent: -1})
		got := ""
		if len(res.FileInto) > 0 {
			got = res.FileInto[0].Mailbox
		}
		if got != tc.want {
			t.Errorf("score %d: fileinto %q, want %q", tc.score, got, tc.want)
		}
	}
}

func TestVacation(t *testing.T) {
	res := run(t, `require ["vacation", "vacation-seconds"]; vacation :seconds 3600 :subject "Away" "Back Monday.";`, Input{From: "a@example.com"})
	v := res.Vacation
	if v == nil || v.Period != time.Hour || v.Subject != "Away" || v.Reason != "Back Monday." || v.Handle != "" || !res.Keep {
		t.Fatalf("vacation %+v keep %v", v, res.Keep)
	}
	res = run(t, `require "vacation"; vacation :days 0 "x";`, Input{})
	if res.Vacation.Period != 24*time.Hour {
		t.Errorf(":days 0 → %v, want the one-day floor", res.Vacation.Period)
	}
	if _, err := Compile(`require "vacation"; vacation :seconds 5 "x";`, nil, Limits{}); err == nil {
		t.Error(":seconds without vacation-seconds compiled")
	}
}

func TestDuplicate(t *testing.T) {
	s, err := Compile(`require ["duplicate", "fileinto"]; if duplicate { fileinto "Dups"; }`, nil, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{seen: map[string]bool{}}
	res, err := Run(context.Background(), Input{Message: parseMsg(t, testMsg)}, e, s)
	if err != nil || len(res.FileInto) != 0 || len(res.Duplicates) != 1 {
		t.Fatalf("first: %+v %v", res, err)
	}
	e.seen[res.Duplicates[0].ID] = true
	res, err = Run(context.Background(), Input{Message: parseMsg(t, testMsg)}, e, s)
	if err != nil || len(res.FileInto) != 1 || len(res.Duplicates) != 0 {
		t.Fatalf("second: %+v %v", res, err)
	}
}

type includes map[string]string

func (i includes) Personal(_ context.Context, name string) (string, error) {
	if s, ok := i[name]; ok {
		return s, nil
	}
	return "", ErrNoScript
}

func (i includes) Global(ctx context.Context, name string) (string, error) {
	return i.Personal(ctx, "global:"+name)
}

func TestInclude(t *testing.T) {
	inc := includes{
		"work":        `require ["fileinto", "include", "variables"]; global "dest"; if header :contains "subject" "report" { fileinto "${dest}"; return; } fileinto "Never";`,
		"global:spam": `require "fileinto"; fileinto "G";`,
		"loop1":       `require "include"; include "loop2";`,
		"loop2":       `require "include"; include "loop1";`,
	}
	s, err := Compile(`require ["include", "variables"]; global "dest"; set "dest" "Work"; include "work"; include :global "spam"; include :optional "missing";`, inc, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Input{Message: parseMsg(t, testMsg)}, &env{}, s)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range res.FileInto {
		got = append(got, f.Mailbox)
	}
	if !reflect.DeepEqual(got, []string{"Work", "G"}) {
		t.Errorf("fileinto %v", got)
	}
	_, err = Compile(`require "include"; include "loop1";`, inc, Limits{})
	if err == nil || !strings.Contains(err.Error(), "loop") {
		t.Errorf("include loop: %v", err)
	}
	if _, err = Compile(`require "include"; include "missing";`, inc, Limits{}); err == nil {
		t.Error("missing include compiled")
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct{ script, want string }{
		{"require \"fileinto\";\nfileinto;", "line 2"},
		{"if true {\n  fileinto \"x\";\n}", "line 2"},
		{`require "nonesuch";`, "unsupported extension"},
		{`keep; require "fileinto";`, "require must come before"},
		{`else { keep; }`, "without a preceding if"},
		{`reject "x";`, "require \"reject\""},
		{`require "editheader";`, "unsupported extension"},
		{"if header :contains \"subject\" \"x\" {", ""},
	} {
		err := Check(tc.script)
		var se *Error
		if !errors.As(err, &se) {
			t.Errorf("%q: %v, want an *Error", tc.script, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.script, err, tc.want)
		}
	}
}

func TestRuntimeErrorKeeps(t *testing.T) {
	s, err := Compile(`require ["reject", "fileinto"]; fileinto "X"; reject "no";`, nil, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Input{Message: parseMsg(t, testMsg)}, &env{}, s)
	if err == nil || !res.Keep || len(res.FileInto) != 0 {
		t.Fatalf("reject with fileinto: %+v %v", res, err)
	}
}

func TestGlobalThenUser(t *testing.T) {
	g, _ := Compile(`require ["fileinto", "spamtest", "relational", "comparator-i;ascii-numeric"]; if spamtest :value "ge" :comparator "i;ascii-numeric" "8" { fileinto "Junk"; stop; }`, nil, Limits{})
	u, _ := Compile(`require "fileinto"; fileinto "User";`, nil, Limits{})
	res, err := Run(context.Background(), Input{Message: parseMsg(t, testMsg), SpamScore: 9}, &env{}, g, u)
	if err != nil || len(res.FileInto) != 1 || res.FileInto[0].Mailbox != "Junk" {
		t.Fatalf("spam: %+v %v", res, err)
	}
	res, err = Run(context.Background(), Input{Message: parseMsg(t, testMsg), SpamScore: 2}, &env{}, g, u)
	if err != nil || len(res.FileInto) != 1 || res.FileInto[0].Mailbox != "User" {
		t.Fatalf("ham: %+v %v", res, err)
	}
}

func TestWildcard(t *testing.T) {
	for _, tc := range []struct {
		s, p string
		want bool
	}{
		{"abc", "a*c", true}, {"abc", "a?c", true}, {"abc", "a?", false}, {"", "*", true},
		{"a*c", `a\*c`, true}, {"abc", `a\*c`, false}, {"aaaa", "*a*a*a*a*a*", false},
		{strings.Repeat("a", 5000), strings.Repeat("*a", 200) + "b", false},
	} {
		if got := wildcard(tc.s, tc.p); got != tc.want {
			t.Errorf("wildcard(%.20q, %.20q) = %v", tc.s, tc.p, got)
		}
	}
}

func TestCurrentDateIsTheDeliveryTime(t *testing.T) {
	script := `require ["date", "relational", "fileinto"];
if allof (currentdate :value "ge" "date" "2026-07-01", currentdate :value "le" "date" "2026-07-02") { fileinto "Window"; }`
	in := Input{Now: time.Date(2026, 7, 1, 12, 0, 0, 0, time.Local)}
	if res := run(t, script, in); len(res.FileInto) != 1 {
		t.Errorf("inside the window: %+v", res)
	}
	in.Now = time.Date(2026, 7, 3, 12, 0, 0, 0, time.Local)
	if res := run(t, script, in); len(res.FileInto) != 0 {
		t.Errorf("after the window: %+v", res)
	}
}

// TestLibraryExtensions: the tests go-sieve evaluates, as scripts use
// them here: envelope and subaddress, body, relational, date with index,
// mailboxexists through the Environment, copy.
func TestLibraryExtensions(t *testing.T) {
	msg := `From: Boss <boss@example.com>
To: me@example.org
Subject: Quarterly report
Date: Tue, 1 Dec 2026 10:00:00 +0000
Received: from a by b; Tue, 1 Dec 2026 10:00:05 +0000
Received: from c by d; Mon, 30 Nov 2026 09:00:00 +0000
Message-ID: <q1@example.com>
Content-Type: text/plain

Numbers inside: the invoice is attached.
`
	for _, tc := range []struct {
		name, test string
		want       bool
	}{
		{"envelope from", `require "envelope"; if envelope :is "from" "sender@example.net"`, true},
		{"envelope to detail", `require ["envelope", "subaddress"]; if envelope :detail "to" "work"`, true},
		{"envelope to user", `require ["envelope", "subaddress"]; if envelope :user "to" "me"`, true},
		{"address domain", `if address :domain :is "from" "example.com"`, true},
		{"body text", `require "body"; if body :text :contains "invoice"`, true},
		{"body not", `require "body"; if body :text :contains "lottery"`, false},
		{"relational count", `require "relational"; if header :count "ge" :comparator "i;ascii-numeric" "received" "2"`, true},
		{"size", `if size :under 10K`, true},
		{"date year", `require "date"; if date :is "date" "year" "2026"`, true},
		{"index", `require ["date", "index"]; if date :index 1 "date" "date" "2026-12-01"`, true},
		{"index last", `require ["date", "index"]; if date :index 1 :last "received" "date" "2026-11-30"`, true},
		{"regex octet", `require ["regex", "comparator-i;octet"]; if header :regex :comparator "i;octet" "subject" "^quarterly"`, false},
		{"mailboxexists", `require "mailbox"; if mailboxexists "Work"`, true},
		{"mailboxexists missing", `require "mailbox"; if mailboxexists "Nope"`, false},
		{"exists", `if exists ["from", "date"]`, true},
		{"regex", `require "regex"; if header :regex "subject" "^Quarterly (rep|summ)ort$"`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Compile(`require "fileinto"; `+tc.test+` { fileinto "Yes"; }`, nil, Limits{})
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			res, err := Run(context.Background(), Input{Message: parseMsg(t, msg), From: "sender@example.net", To: "me+work@example.org", SpamPercent: -1},
				&env{mailboxes: map[string]bool{"Work": true}}, s)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(res.FileInto) == 1; got != tc.want {
				t.Errorf("%s: %v, want %v", tc.test, got, tc.want)
			}
		})
	}
}
