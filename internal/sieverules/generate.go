package sieverules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// header is the script's first line, for a person who opens it.
const header = "# Mailroom filters, written by the webmail (Settings → Filters). Changed by hand, they show there as this text only.\n"

// modelPrefix starts the comment line that carries the model.
const modelPrefix = "# mailroom-rules v1 "

// attachmentTypes are the media types of the parts that make a message
// one "with an attachment": every type but text and multipart, as the
// webmail's has:attachment counts every leaf that is not text.
var attachmentTypes = []string{"application", "audio", "font", "image", "message", "model", "video"}

// Generate writes the Sieve script of a model (normalized first). The
// script uses only sieve.Extensions(); user text is quoted so that it is
// never anything but a string, and no variables or encoded characters
// are required, so "${" in a value stays as it is.
func Generate(r Rules) (string, error) {
	r = r.Normalized()
	if err := r.Validate(); err != nil {
		return "", err
	}
	var model bytes.Buffer
	enc := json.NewEncoder(&model)
	enc.SetEscapeHTML(false) // "<list.example.org>" stays readable
	if err := enc.Encode(r); err != nil {
		return "", fmt.Errorf("sieverules: encode the model: %w", err)
	}
	g := &gen{req: map[string]bool{}}
	g.vacation(r.Vacation)
	g.forwarding(r.Forwarding)
	for i, rule := range r.Rules {
		g.rule(i, rule)
	}
	var out strings.Builder
	out.WriteString(header)
	// JSON has no raw line breaks: the model stays on its one line.
	out.WriteString(modelPrefix + model.String()) // Encode ends it with "\n"
	if len(g.req) > 0 {
		var req []string
		for ext := range g.req {
			req = append(req, quote(ext))
		}
		slices.Sort(req)
		out.WriteString("require [" + strings.Join(req, ", ") + "];\n")
	}
	out.WriteString(g.body.String())
	return out.String(), nil
}

// gen collects the script's commands and the extensions they need.
type gen struct {
	body strings.Builder
	req  map[string]bool
}

func (g *gen) need(ext ...string) {
	for _, e := range ext {
		g.req[e] = true
	}
}

func (g *gen) line(indent int, s string) {
	g.body.WriteString(strings.Repeat("    ", indent) + s + "\n")
}

func (g *gen) vacation(v Vacation) {
	if !v.Enabled {
		return // its text stays in the model, for the form
	}
	g.need("vacation")
	g.line(0, "")
	g.line(0, "# Vacation notice")
	var when []string
	if v.From != "" {
		when = append(when, `currentdate :value "ge" "date" `+quote(v.From))
	}
	if v.Until != "" {
		when = append(when, `currentdate :value "le" "date" `+quote(v.Until))
	}
	cmd := "vacation :days " + strconv.Itoa(v.Days)
	if v.Subject != "" {
		cmd += " :subject " + quote(v.Subject)
	}
	cmd += " " + str(v.Body) + ";"
	if len(when) == 0 {
		g.line(0, cmd)
		return
	}
	g.need("date", "relational")
	g.line(0, "if "+allOf(when)+" {")
	g.line(1, cmd)
	g.line(0, "}")
}

func (g *gen) forwarding(f Forwarding) {
	if len(f.To) == 0 {
		return
	}
	g.line(0, "")
	g.line(0, "# Forwarding")
	for _, to := range f.To {
		if f.Keep {
			g.need("copy")
			g.line(0, "redirect :copy "+quote(to)+";")
		} else {
			g.line(0, "redirect "+quote(to)+";")
		}
	}
	if !f.Keep {
		// Forwarded and not kept: no rule files it anywhere here.
		g.line(0, "stop;")
	}
}

func (g *gen) rule(i int, rule Rule) {
	g.line(0, "")
	comment := "# Rule " + strconv.Itoa(i+1)
	if rule.Name != "" {
		comment += ": " + rule.Name
	}
	if rule.Disabled {
		comment += " (disabled)"
	}
	g.line(0, comment)
	var tests []string
	for _, c := range rule.Conditions {
		tests = append(tests, g.test(c))
	}
	test := "true"
	switch {
	case len(tests) == 1:
		test = tests[0]
	case len(tests) > 1 && rule.Any:
		test = "anyof (" + strings.Join(tests, ", ") + ")"
	case len(tests) > 1:
		test = allOf(tests)
	}
	if rule.Disabled {
		// Kept, compiled and never true: a disabled rule is still
		// checked, and reads the same as when it was on.
		if test == "true" {
			test = "false"
		} else {
			test = "allof (false, " + test + ")"
		}
	}
	g.line(0, "if "+test+" {")
	// Flags first: they are what the copies filed after them get.
	for _, a := range rule.Actions {
		switch a.Kind {
		case ActionFlag:
			g.need("imap4flags")
			g.line(1, `addflag "\\Flagged";`)
		case ActionRead:
			g.need("imap4flags")
			g.line(1, `addflag "\\Seen";`)
		}
	}
	stop := false
	for _, a := range rule.Actions {
		switch a.Kind {
		case ActionMove:
			g.need("fileinto")
			g.line(1, "fileinto "+quote(a.Folder)+";")
		case ActionCopy:
			g.need("fileinto", "copy")
			g.line(1, "fileinto :copy "+quote(a.Folder)+";")
		case ActionForward:
			if a.Keep {
				g.need("copy")
				g.line(1, "redirect :copy "+quote(a.Address)+";")
			} else {
				g.line(1, "redirect "+quote(a.Address)+";")
			}
		case ActionReject:
			g.need("reject")
			g.line(1, "reject "+str(a.Text)+";")
		case ActionDiscard:
			g.line(1, "discard;")
		case ActionStop:
			stop = true
		}
	}
	if stop {
		g.line(1, "stop;") // last: the rule's other actions still happen
	}
	g.line(0, "}")
}

func allOf(tests []string) string {
	if len(tests) == 1 {
		return tests[0]
	}
	return "allof (" + strings.Join(tests, ", ") + ")"
}

// test is the Sieve test of one condition.
func (g *gen) test(c Condition) string {
	var t string
	switch c.Field {
	case FieldFrom:
		t = "address :all " + match(c.Op, c.Value, `"from"`)
	case FieldTo:
		t = "address :all " + match(c.Op, c.Value, `["to", "cc"]`)
	case FieldSubject:
		t = "header " + match(c.Op, c.Value, `"subject"`)
	case FieldHeader:
		t = "header " + match(c.Op, c.Value, quote(c.Header))
	case FieldSize:
		t = "size :" + c.Op + " " + c.Value
	case FieldAttachment:
		// A part of a type that is not text, or one marked as an
		// attachment (a text file attached).
		g.need("body")
		types := make([]string, len(attachmentTypes))
		for i, ty := range attachmentTypes {
			types[i] = quote(ty)
		}
		t = `anyof (body :content [` + strings.Join(types, ", ") + `] :contains "", body :raw :contains "Content-Disposition: attachment")`
	case FieldJunk:
		// RFC 5235: the junk filter's score on 1 to 10 (0: not scored).
		g.need("spamtest", "relational", "comparator-i;ascii-numeric")
		t = `spamtest :value "ge" :comparator "i;ascii-numeric" ` + quote(c.Value)
	}
	if c.Not {
		t = "not " + t
	}
	return t
}

// match is the match type, header names and key of a string test.
func match(op, value, names string) string {
	switch op {
	case OpIs:
		return ":is " + names + " " + quote(value)
	case OpBegins:
		return ":matches " + names + " " + quote(wildcardEscape(value)+"*")
	case OpMatches:
		return ":matches " + names + " " + quote(value)
	}
	return ":contains " + names + " " + quote(value)
}

// wildcardEscape makes the wildcards of :matches (*, ? and the backslash
// that escapes them) plain characters.
func wildcardEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '*' || r == '?' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// quote is a Sieve quoted string (RFC 5228 2.4.2): only the backslash and
// the double quote are escaped. s has no line breaks (oneLine).
func quote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

// str is a string of several lines: quoted when it has one line, else a
// multi-line string (RFC 5228 2.4.2), whose lines are taken as they are
// and whose lines starting with a dot get a second one.
func str(s string) string {
	if !strings.Contains(s, "\n") {
		return quote(s)
	}
	var b strings.Builder
	b.WriteString("text:\n")
	for l := range strings.SplitSeq(s, "\n") {
		if strings.HasPrefix(l, ".") {
			b.WriteByte('.')
		}
		b.WriteString(l + "\n")
	}
	b.WriteString(".\n")
	return b.String()
}
