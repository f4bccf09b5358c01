package sieverules

import (
	"context"
	"errors"
	"net/mail"
	"reflect"
	"strings"
	"testing"

	"mailroom/internal/sieve"
)

// scriptOf generates r and checks what every generated script must be:
// accepted by sieve.Check, and parsed back into r (normalized).
func scriptOf(t *testing.T, r Rules) string {
	t.Helper()
	s, err := Generate(r)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if err := sieve.Check(s); err != nil {
		t.Fatalf("the script does not compile: %v\n%s", err, s)
	}
	back, ok := Parse(s)
	if !ok {
		t.Fatalf("Parse does not take back its own script:\n%s", s)
	}
	if want := r.Normalized(); !reflect.DeepEqual(back, want) {
		t.Fatalf("parsed back\n%+v\nwant\n%+v", back, want)
	}
	return s
}

// body is the script without its two comment lines.
func body(s string) string {
	_, rest, _ := strings.Cut(s, "\n")
	_, rest, _ = strings.Cut(rest, "\n")
	return rest
}

func TestGenerateExact(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Rules
		want string
	}{
		{"empty", Rules{}, ""},
		{"move by sender", Rules{Rules: []Rule{{Name: "Bob", Conditions: []Condition{{Field: FieldFrom, Op: OpIs, Value: "bob@example.org"}},
			Actions: []Action{{Kind: ActionMove, Folder: "Bob"}}}}}, `require ["fileinto"];

# Rule 1: Bob
if address :all :is "from" "bob@example.org" {
    fileinto "Bob";
}
`},
		{"all of, flags first, stop last", Rules{Rules: []Rule{{Name: "Big lists",
			Conditions: []Condition{{Field: FieldHeader, Header: "List-Id", Op: OpContains, Value: "<dev.example.org>"}, {Field: FieldSize, Op: OpOver, Value: "100k"}},
			Actions:    []Action{{Kind: ActionStop}, {Kind: ActionCopy, Folder: "Lists/dev"}, {Kind: ActionRead}, {Kind: ActionFlag}}}}}, `require ["copy", "fileinto", "imap4flags"];

# Rule 1: Big lists
if allof (header :contains "List-Id" "<dev.example.org>", size :over 100K) {
    addflag "\\Seen";
    addflag "\\Flagged";
    fileinto :copy "Lists/dev";
    stop;
}
`},
		{"any of, negation, begins with, disabled", Rules{Rules: []Rule{{Name: "Off", Disabled: true, Any: true,
			Conditions: []Condition{{Field: FieldSubject, Op: OpBegins, Value: "[spam*]"}, {Field: FieldTo, Op: OpMatches, Not: true, Value: "*@example.test"}},
			Actions:    []Action{{Kind: ActionDiscard}}}}}, `
# Rule 1: Off (disabled)
if allof (false, anyof (header :matches "subject" "[spam\\*]*", not address :all :matches ["to", "cc"] "*@example.test")) {
    discard;
}
`},
		{"no conditions, disabled", Rules{Rules: []Rule{{Name: "All", Disabled: true, Actions: []Action{{Kind: ActionForward, Address: "Kim@Example.org"}}}}}, `
# Rule 1: All (disabled)
if false {
    redirect "kim@example.org";
}
`},
		{"forwarding kept", Rules{Forwarding: Forwarding{To: []string{"a@example.org", "b@example.org"}, Keep: true}}, `require ["copy"];

# Forwarding
redirect :copy "a@example.org";
redirect :copy "b@example.org";
`},
		{"forwarding not kept", Rules{Forwarding: Forwarding{To: []string{"a@example.org"}},
			Rules: []Rule{{Name: "x", Conditions: []Condition{{Field: FieldAttachment}}, Actions: []Action{{Kind: ActionMove, Folder: "Files"}}}}}, `require ["body", "fileinto"];

# Forwarding
redirect "a@example.org";
stop;

# Rule 1: x
if anyof (body :content ["application", "audio", "font", "image", "message", "model", "video"] :contains "", body :raw :contains "Content-Disposition: attachment") {
    fileinto "Files";
}
`},
		{"vacation open-ended", Rules{Vacation: Vacation{Enabled: true, Subject: "Away", Body: "Back on Monday."}}, `require ["vacation"];

# Vacation notice
vacation :days 7 :subject "Away" "Back on Monday.";
`},
		{"vacation with dates and lines", Rules{Vacation: Vacation{Enabled: true, Body: "Hello,\r\n\r\n.I am away.\r\n", From: "2026-12-01", Until: "2026-12-24", Days: 3}}, `require ["date", "relational", "vacation"];

# Vacation notice
if allof (currentdate :value "ge" "date" "2026-12-01", currentdate :value "le" "date" "2026-12-24") {
    vacation :days 3 text:
Hello,

..I am away.
.
;
}
`},
		{"vacation off: text kept, nothing run", Rules{Vacation: Vacation{Subject: "Away", Body: "Later."}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := scriptOf(t, tc.r)
			if !strings.HasPrefix(s, header+modelPrefix+"{") {
				t.Fatalf("script does not start with the comments:\n%s", s)
			}
			if got := body(s); got != tc.want {
				t.Fatalf("script\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// TestGenerateRejectAndJunk: the commands only the full interpreter
// accepts (reject, spamtest).
func TestGenerateRejectAndJunk(t *testing.T) {
	s := scriptOf(t, Rules{Rules: []Rule{{Name: "Junk", Conditions: []Condition{{Field: FieldJunk, Value: "7"}},
		Actions: []Action{{Kind: ActionReject, Text: "No thanks.\nReally."}}}}})
	want := `require ["comparator-i;ascii-numeric", "reject", "relational", "spamtest"];

# Rule 1: Junk
if spamtest :value "ge" :comparator "i;ascii-numeric" "7" {
    reject text:
No thanks.
Really.
.
;
}
`
	if got := body(s); got != want {
		t.Fatalf("script\n%s\nwant\n%s", got, want)
	}
}

// TestQuoting: whatever a user types stays a string: quotes,
// backslashes, line breaks, unicode, "${" (no variables are required, so
// it is not expanded), wildcards in "begins with", a "#" or "*/".
func TestQuoting(t *testing.T) {
	nasty := "a \"quoted\" \\back\\ ${var} ${hex:41} \r\n# not a comment */ \x00\x07 ünïcødé 日本 \u2028 end\\"
	r := Rules{
		Rules: []Rule{{Name: nasty, Conditions: []Condition{
			{Field: FieldSubject, Op: OpContains, Value: nasty},
			{Field: FieldHeader, Header: "X-Tag", Op: OpBegins, Value: nasty},
			{Field: FieldFrom, Op: OpMatches, Value: nasty},
		}, Actions: []Action{{Kind: ActionMove, Folder: nasty}, {Kind: ActionCopy, Folder: "Ä\"/\\b"}}}},
		Vacation: Vacation{Enabled: true, Subject: nasty, Body: nasty + "\n.\n..\nlast"},
	}
	s := scriptOf(t, r)
	oneLineNasty := `a \"quoted\" \\back\\ ${var} ${hex:41}  # not a comment */  ünïcødé 日本  end\\`
	for _, want := range []string{
		`header :contains "subject" "` + oneLineNasty + `"`,
		`header :matches "X-Tag" "a \"quoted\" \\\\back\\\\ ${var} ${hex:41}  # not a comment \\*/  ünïcødé 日本  end\\\\*"`,
		`fileinto "` + oneLineNasty + `";`,
		`fileinto :copy "Ä\"/\\b";`,
		":subject \"" + oneLineNasty + "\" text:\na \"quoted\" \\back\\ ${var} ${hex:41} \n# not a comment */  ünïcødé 日本  end\\\n..\n...\nlast\n.\n;\n",
		"# Rule 1: a \"quoted\" \\back\\ ${var} ${hex:41}  # not a comment */  ünïcødé 日本  end\\\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks\n%s\n---\n%s", want, s)
		}
	}
	if strings.Contains(s, "\r") || strings.Contains(s, "\x00") || strings.Contains(s, "\u2028") {
		t.Error("a CR, NUL or line separator reached the script")
	}
	if strings.Contains(s, `"variables"`) || strings.Contains(s, `"encoded-character"`) {
		t.Error("the script requires an extension that expands ${…}")
	}
}

// TestParseHandEdited: a script changed in any way, or written by
// someone else, is not taken for the model's.
func TestParseHandEdited(t *testing.T) {
	r := Rules{Rules: []Rule{{Name: "Bob", Conditions: []Condition{{Field: FieldFrom, Op: OpIs, Value: "bob@example.org"}},
		Actions: []Action{{Kind: ActionMove, Folder: "Bob"}}}}}
	s := scriptOf(t, r)
	if _, ok := Parse(strings.ReplaceAll(s, "\n", "\r\n")); !ok {
		t.Error("the same script with CRLF line ends (a browser's text area) is not parsed")
	}
	for name, edited := range map[string]string{
		"value changed":        strings.Replace(s, `"Bob";`, `"Robert";`, 1),
		"line added":           s + "discard;\n",
		"comment added":        s + "# mine\n",
		"blank line removed":   strings.Replace(s, "\n\n", "\n", 1),
		"model changed":        strings.Replace(s, `"folder":"Bob"`, `"folder":"Rob"`, 1),
		"model line removed":   strings.Replace(s, modelPrefix, "# ", 1),
		"model not JSON":       strings.Replace(s, modelPrefix+"{", modelPrefix+"{{", 1),
		"model with a field":   strings.Replace(s, modelPrefix+"{", modelPrefix+`{"extra":1,`, 1),
		"model twice":          strings.Replace(s, "}\n", "} {}\n", 1),
		"someone else's":       "require \"fileinto\";\nfileinto \"Bob\";\n",
		"empty":                "",
		"header line changed":  strings.Replace(s, "Mailroom filters", "My filters", 1),
		"trailing space added": s + " ",
	} {
		if _, ok := Parse(edited); ok {
			t.Errorf("%s: parsed as the model's", name)
		}
	}
}

func TestValidate(t *testing.T) {
	move := []Action{{Kind: ActionMove, Folder: "X"}}
	for _, tc := range []struct {
		name string
		r    Rules
		want string
	}{
		{"no action", Rules{Rules: []Rule{{Name: "a"}}}, "choose an action"},
		{"no folder", Rules{Rules: []Rule{{Name: "a", Actions: []Action{{Kind: ActionMove}}}}}, "choose the folder"},
		{"bad forward", Rules{Rules: []Rule{{Name: "a", Actions: []Action{{Kind: ActionForward, Address: "nobody"}}}}}, "not a mail address"},
		{"reject and move", Rules{Rules: []Rule{{Name: "a", Actions: []Action{{Kind: ActionReject, Text: "no"}, move[0]}}}}, "cannot also"},
		{"empty reject", Rules{Rules: []Rule{{Name: "a", Actions: []Action{{Kind: ActionReject}}}}}, "saying why"},
		{"bad op", Rules{Rules: []Rule{{Name: "a", Conditions: []Condition{{Field: FieldFrom, Op: OpOver}}, Actions: move}}}, "not a way to compare"},
		{"bad header", Rules{Rules: []Rule{{Name: "a", Conditions: []Condition{{Field: FieldHeader, Header: "X Y", Op: OpIs}}, Actions: move}}}, "not the name of a header"},
		{"bad size", Rules{Rules: []Rule{{Name: "a", Conditions: []Condition{{Field: FieldSize, Op: OpOver, Value: "1T"}}, Actions: move}}}, "not a size"},
		{"junk 11", Rules{Rules: []Rule{{Name: "a", Conditions: []Condition{{Field: FieldJunk, Value: "11"}}, Actions: move}}}, "1 to 10"},
		{"unknown field", Rules{Rules: []Rule{{Name: "a", Conditions: []Condition{{Field: "body"}}, Actions: move}}}, "not a condition"},
		{"unknown action", Rules{Rules: []Rule{{Name: "a", Actions: []Action{{Kind: "vacation"}}}}}, "not an action"},
		{"forward address", Rules{Forwarding: Forwarding{To: []string{"a@b@c"}}}, "not a mail address"},
		{"vacation without text", Rules{Vacation: Vacation{Enabled: true}}, "write the message"},
		{"vacation bad date", Rules{Vacation: Vacation{Enabled: true, Body: "x", From: "1.12.2026"}}, "not a date"},
		{"vacation backwards", Rules{Vacation: Vacation{Enabled: true, Body: "x", From: "2026-12-02", Until: "2026-12-01"}}, "before the first"},
		{"vacation days", Rules{Vacation: Vacation{Enabled: true, Body: "x", Days: 400}}, "from 1 to 365"},
	} {
		_, err := Generate(tc.r)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

// TestCombinations: every condition with every way to compare it, each
// negated or not, with every action, alone and together, compiles and
// parses back.
func TestCombinations(t *testing.T) {
	var conds []Condition
	for _, f := range []string{FieldFrom, FieldTo, FieldSubject, FieldHeader} {
		for _, op := range []string{OpContains, OpIs, OpBegins, OpMatches} {
			conds = append(conds, Condition{Field: f, Header: "X-Mailer", Op: op, Value: "v*a?l\\"})
		}
	}
	conds = append(conds, Condition{Field: FieldSize, Op: OpOver, Value: "1"}, Condition{Field: FieldSize, Op: OpUnder, Value: "20M"},
		Condition{Field: FieldAttachment}, Condition{Field: FieldJunk, Value: "10"})
	actions := []Action{{Kind: ActionMove, Folder: "A"}, {Kind: ActionCopy, Folder: "B/c"}, {Kind: ActionFlag}, {Kind: ActionRead},
		{Kind: ActionForward, Address: "f@example.org"}, {Kind: ActionForward, Address: "g@example.org", Keep: true},
		{Kind: ActionDiscard}, {Kind: ActionStop}}
	var rules []Rule
	for i, c := range conds {
		for _, not := range []bool{false, true} {
			c.Not = not
			rules = append(rules, Rule{Name: c.Field, Disabled: i%3 == 0, Conditions: []Condition{c}, Actions: []Action{actions[i%len(actions)]}})
		}
	}
	for _, any := range []bool{false, true} {
		rules = append(rules, Rule{Name: "all", Any: any, Conditions: conds, Actions: actions})
	}
	rules = append(rules, Rule{Name: "reject", Conditions: conds[:3], Actions: []Action{{Kind: ActionReject, Text: "x"}, {Kind: ActionFlag}, {Kind: ActionStop}}})
	if len(rules) > MaxRules {
		t.Fatalf("%d rules", len(rules))
	}
	for _, fwd := range []Forwarding{{}, {To: []string{"a@example.org"}}, {To: []string{"a@example.org", "b@example.org"}, Keep: true}} {
		for _, vac := range []Vacation{{}, {Enabled: true, Body: "x"}, {Enabled: true, Body: "x\ny", Subject: "s", From: "2026-01-01"},
			{Enabled: true, Body: "x", Until: "2026-01-01", Days: 1}, {Enabled: true, Body: "x", From: "2026-01-01", Until: "2026-01-01", Days: 365}} {
			scriptOf(t, Rules{Rules: rules, Forwarding: fwd, Vacation: vac})
			// And each rule alone: its own set of requires.
			for _, rule := range rules {
				scriptOf(t, Rules{Rules: []Rule{rule}, Forwarding: fwd, Vacation: vac})
			}
		}
	}
}

// FuzzGenerate: whatever the text in a model, a script Generate accepts
// compiles and parses back into the model.
func FuzzGenerate(f *testing.F) {
	f.Add("name", "value", "Folder", "List-Id", "a@example.org", "body\ntext", uint16(0))
	f.Add("\"\\${", "*?\\", "Ä/\"", "X-\"", "B@EXAMPLE.ORG", ".\n..\r\n", uint16(0xffff))
	f.Fuzz(func(t *testing.T, name, value, folder, hdr, addr, text string, bits uint16) {
		fields := []string{FieldFrom, FieldTo, FieldSubject, FieldHeader, FieldSize, FieldAttachment, FieldJunk}
		ops := []string{OpContains, OpIs, OpBegins, OpMatches}
		kinds := []string{ActionMove, ActionCopy, ActionFlag, ActionRead, ActionForward, ActionDiscard, ActionStop, ActionReject}
		c := Condition{Field: fields[int(bits)%len(fields)], Header: hdr, Op: ops[int(bits>>3)%len(ops)], Not: bits&0x20 != 0, Value: value}
		switch c.Field {
		case FieldSize:
			c.Op = OpOver
		}
		a := Action{Kind: kinds[int(bits>>6)%len(kinds)], Folder: folder, Address: addr, Keep: bits&0x200 != 0, Text: text}
		r := Rules{
			Rules:      []Rule{{Name: name, Disabled: bits&0x400 != 0, Any: bits&0x800 != 0, Conditions: []Condition{c, {Field: FieldSubject, Op: OpIs, Value: text}}, Actions: []Action{a}}},
			Forwarding: Forwarding{To: []string{addr}, Keep: bits&0x1000 != 0},
			Vacation:   Vacation{Enabled: bits&0x2000 != 0, Subject: value, Body: text, Days: int(bits >> 14)},
		}
		if bits&0x4000 != 0 {
			r.Forwarding = Forwarding{}
		}
		s, err := Generate(r)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Generate: %v", err)
			}
			return
		}
		if err := sieve.Check(s); err != nil {
			t.Fatalf("the script does not compile: %v\n%s", err, s)
		}
		back, ok := Parse(s)
		if !ok || !reflect.DeepEqual(back, r.Normalized()) {
			t.Fatalf("not parsed back (%v):\n%s", ok, s)
		}
	})
}

// TestAttachmentRuleRuns: the "has an attachment" condition, run by the
// interpreter delivery uses, finds a PDF part and a text file attached,
// and not a plain message or an HTML one with its text alternative.
func TestAttachmentRuleRuns(t *testing.T) {
	text, err := Generate(Rules{Rules: []Rule{{Name: "x", Conditions: []Condition{{Field: FieldAttachment}}, Actions: []Action{{Kind: ActionMove, Folder: "Files"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := sieve.Compile(text, nil, sieve.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	const head = "From: a@example.com\r\nTo: b@example.org\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
	for _, tc := range []struct {
		name, raw string
		want      bool
	}{
		{"plain", head + "Content-Type: text/plain\r\n\r\nhello\r\n", false},
		{"alternative", head + "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n--b--\r\n", false},
		{"pdf", head + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n", true},
		{"text file", head + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nnotes\r\n--b\r\nContent-Type: text/plain; name=notes.txt\r\nContent-Disposition: attachment; filename=notes.txt\r\n\r\nthe notes\r\n--b--\r\n", true},
	} {
		m, err := mail.ReadMessage(strings.NewReader(tc.raw))
		if err != nil {
			t.Fatal(err)
		}
		body := tc.raw[strings.Index(tc.raw, "\r\n\r\n")+4:]
		msg := sieve.NewMessage(m.Header, len(tc.raw), func() ([]byte, error) { return []byte(body), nil })
		res, err := sieve.Run(context.Background(), sieve.Input{Message: msg, SpamPercent: -1}, nil, s)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := len(res.FileInto) == 1; got != tc.want {
			t.Errorf("%s: has an attachment = %v, want %v", tc.name, got, tc.want)
		}
	}
}
