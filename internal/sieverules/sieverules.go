// Package sieverules is the model behind the webmail's filter rules and
// its Forwarding and Vacation forms, and its translation into one Sieve
// script (RFC 5228), the account's managed script, named ScriptName.
//
// The script is what delivery runs; the model is what the forms edit. The
// script carries the model on one comment line, so Parse gives it back,
// but only when generating that model again gives exactly the script: a
// script edited by hand (in the raw editor or over ManageSieve) is no
// longer the model's, and the webmail shows it as text only, rather than
// silently dropping what was added to it.
package sieverules

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"mailroom/internal/address"
)

// ScriptName is the name of the managed script among the account's Sieve
// scripts (ManageSieve lists it under this name too).
const ScriptName = "mailroom"

// Bounds on a model, so that one account cannot make its script, which
// delivery runs on every message, arbitrarily large.
const (
	MaxRules      = 200
	MaxConditions = 20
	MaxActions    = 20
	MaxForward    = 10       // forwarding addresses, as forward.to allowed
	MaxValue      = 1000     // octets of one name, value, folder or address
	MaxText       = 16 << 10 // octets of a vacation text or reject message
	MaxDays       = 365      // vacation: the longest interval (store.MaxVacationInterval)
	DefaultDays   = 7        // vacation: RFC 3834's recommendation, Sieve's default
)

// Rules is the account's filters: the rules in order, then forwarding and
// the vacation notice. In the script, the vacation notice and forwarding
// come first, as they did when they were settings: every message gets
// them whatever the rules do with it.
type Rules struct {
	Rules      []Rule     `json:"rules,omitempty"`
	Forwarding Forwarding `json:"forwarding,omitzero"`
	Vacation   Vacation   `json:"vacation,omitzero"`
}

// Rule is one "if these conditions, do these actions".
type Rule struct {
	Name     string `json:"name"`
	Disabled bool   `json:"disabled,omitempty"`
	// Any: the rule applies when any condition holds; otherwise all must.
	// A rule without conditions applies to every message.
	Any        bool        `json:"any,omitempty"`
	Conditions []Condition `json:"conditions,omitempty"`
	Actions    []Action    `json:"actions"`
}

// What a condition looks at.
const (
	FieldFrom       = "from"       // the sender's address (From)
	FieldTo         = "to"         // a recipient's address (To or Cc)
	FieldSubject    = "subject"    // the Subject field
	FieldHeader     = "header"     // the header field Condition.Header
	FieldSize       = "size"       // the message's size: OpOver, OpUnder
	FieldAttachment = "attachment" // the message has an attachment
	FieldJunk       = "junk"       // the junk filter's score is at least Value (1–10)
)

// How a condition compares.
const (
	OpContains = "contains"
	OpIs       = "is"
	OpBegins   = "begins"  // begins with
	OpMatches  = "matches" // a pattern: * any text, ? one character
	OpOver     = "over"    // size
	OpUnder    = "under"   // size
)

// Condition is one test of a rule. Not negates it.
type Condition struct {
	Field  string `json:"field"`
	Header string `json:"header,omitempty"` // FieldHeader: the field's name
	Op     string `json:"op,omitempty"`
	Not    bool   `json:"not,omitempty"`
	// Value: the text compared; FieldSize: octets with an optional K, M
	// or G ("100K"); FieldJunk: the least score, 1 to 10.
	Value string `json:"value,omitempty"`
}

// What an action does.
const (
	ActionMove    = "move"    // file into Folder instead of INBOX
	ActionCopy    = "copy"    // file a copy into Folder
	ActionFlag    = "flag"    // mark it flagged
	ActionRead    = "read"    // mark it read
	ActionForward = "forward" // redirect to Address; Keep: keep it too
	ActionReject  = "reject"  // refuse it with Text
	ActionDiscard = "discard" // drop it silently
	ActionStop    = "stop"    // apply no later rule
)

// Action is one thing a rule does.
type Action struct {
	Kind    string `json:"kind"`
	Folder  string `json:"folder,omitempty"`
	Address string `json:"address,omitempty"`
	Keep    bool   `json:"keep,omitempty"`
	Text    string `json:"text,omitempty"`
}

// Forwarding sends every message on to To, and keeps it here with Keep.
type Forwarding struct {
	To   []string `json:"to,omitempty"`
	Keep bool     `json:"keep,omitempty"`
}

// Vacation is the automatic answer. Delivery applies RFC 3834's rules
// (no answer to lists, automatic mail, the null sender or the account
// itself); the script only says when and what.
type Vacation struct {
	Enabled bool   `json:"enabled,omitempty"`
	Subject string `json:"subject,omitempty"` // "": "Auto: " and the subject answered
	Body    string `json:"body,omitempty"`
	// From and Until are the first and last day ("2006-01-02", the
	// server's time zone), "" for open-ended.
	From  string `json:"from,omitempty"`
	Until string `json:"until,omitempty"`
	Days  int    `json:"days,omitempty"` // between two answers to one sender; 0: DefaultDays
}

// ErrInvalid is wrapped by every error Validate returns; their text is
// meant for the user.
var ErrInvalid = errors.New("invalid filter")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Normalized returns the model as Generate writes it: text made valid
// UTF-8 without control characters, one-line fields on one line,
// line breaks as "\n", sizes upper case, addresses lower case, Days set.
// Parse gives back normalized models.
func (r Rules) Normalized() Rules {
	out := Rules{Forwarding: Forwarding{Keep: r.Forwarding.Keep}}
	for _, rule := range r.Rules {
		n := Rule{Name: oneLine(rule.Name), Disabled: rule.Disabled, Any: rule.Any}
		for _, c := range rule.Conditions {
			c.Header = strings.TrimSpace(oneLine(c.Header))
			c.Value = oneLine(c.Value)
			switch c.Field {
			case FieldSize:
				c.Value = strings.ToUpper(strings.ReplaceAll(c.Value, " ", ""))
			case FieldJunk:
				c.Value = strings.TrimSpace(c.Value)
			}
			// What the field does not use is dropped, so that the
			// model holds nothing the script does not show.
			switch c.Field {
			case FieldAttachment:
				c.Op, c.Value = "", ""
			case FieldJunk:
				c.Op = ""
			}
			if c.Field != FieldHeader {
				c.Header = ""
			}
			n.Conditions = append(n.Conditions, c)
		}
		for _, a := range rule.Actions {
			n.Actions = append(n.Actions, a.normalized())
		}
		out.Rules = append(out.Rules, n)
	}
	for _, to := range r.Forwarding.To {
		if to = strings.ToLower(strings.TrimSpace(oneLine(to))); to != "" {
			out.Forwarding.To = append(out.Forwarding.To, to)
		}
	}
	if len(out.Forwarding.To) == 0 {
		out.Forwarding.Keep = false // nothing forwarded: nothing to keep
	}
	v := r.Vacation
	out.Vacation = Vacation{Enabled: v.Enabled, Subject: strings.TrimSpace(oneLine(v.Subject)), Body: multiLine(v.Body),
		From: strings.TrimSpace(v.From), Until: strings.TrimSpace(v.Until), Days: v.Days}
	if out.Vacation.Days == 0 {
		out.Vacation.Days = DefaultDays
	}
	if out.Vacation == (Vacation{Days: DefaultDays}) {
		out.Vacation = Vacation{} // none at all: nothing in the model
	}
	return out
}

// normalized keeps what the kind of action uses.
func (a Action) normalized() Action {
	switch a.Kind {
	case ActionMove, ActionCopy:
		return Action{Kind: a.Kind, Folder: oneLine(a.Folder)}
	case ActionForward:
		return Action{Kind: a.Kind, Address: strings.ToLower(strings.TrimSpace(oneLine(a.Address))), Keep: a.Keep}
	case ActionReject:
		return Action{Kind: a.Kind, Text: multiLine(a.Text)}
	}
	return Action{Kind: a.Kind}
}

// clean makes s valid UTF-8 without control characters but line breaks
// ("\n") and tabs.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\r':
			return '\n'
		case r == '\n' || r == '\t':
			return r
		case unicode.IsControl(r), r == '\u2028', r == '\u2029':
			return -1
		}
		return r
	}, s)
}

// oneLine is clean for a field of one line: line breaks and tabs become
// spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return ' '
		}
		return r
	}, clean(s))
}

// multiLine is clean for a text of several lines, without trailing
// blank lines.
func multiLine(s string) string {
	return strings.TrimRight(clean(s), "\n")
}

var (
	sizeRE   = regexp.MustCompile(`^[0-9]{1,9}[KMG]?$`)
	headerRE = regexp.MustCompile(`^[!-9;-~]{1,100}$`) // RFC 5322 field name
)

// Validate checks a normalized model; the error says what to change, in
// words for the user.
func (r Rules) Validate() error {
	if len(r.Rules) > MaxRules {
		return invalid("at most %d rules", MaxRules)
	}
	for i, rule := range r.Rules {
		if err := rule.validate(); err != nil {
			name := rule.Name
			if name == "" {
				name = "number " + strconv.Itoa(i+1)
			}
			return fmt.Errorf("rule %q: %w", name, err)
		}
	}
	if len(r.Forwarding.To) > MaxForward {
		return invalid("forwarding: at most %d addresses", MaxForward)
	}
	for _, to := range r.Forwarding.To {
		if err := checkAddress(to); err != nil {
			return fmt.Errorf("forwarding: %w", err)
		}
	}
	return r.Vacation.validate()
}

func (rule Rule) validate() error {
	switch {
	case len(rule.Name) > MaxValue:
		return invalid("the name is too long")
	case len(rule.Conditions) > MaxConditions:
		return invalid("at most %d conditions", MaxConditions)
	case len(rule.Actions) == 0:
		return invalid("it does nothing: choose an action")
	case len(rule.Actions) > MaxActions:
		return invalid("at most %d actions", MaxActions)
	}
	for _, c := range rule.Conditions {
		if err := c.validate(); err != nil {
			return err
		}
	}
	rejects, delivers := false, false
	for _, a := range rule.Actions {
		if err := a.validate(); err != nil {
			return err
		}
		switch a.Kind {
		case ActionReject:
			rejects = true
		case ActionMove, ActionCopy, ActionForward, ActionDiscard:
			delivers = true
		}
	}
	if rejects && delivers {
		// RFC 5429 2.1: reject cannot go with fileinto or redirect.
		return invalid("a rule that rejects a message cannot also move, copy, forward or discard it")
	}
	return nil
}

func (c Condition) validate() error {
	if len(c.Value) > MaxValue {
		return invalid("a value is too long")
	}
	switch c.Field {
	case FieldFrom, FieldTo, FieldSubject, FieldHeader:
		switch c.Op {
		case OpContains, OpIs, OpBegins, OpMatches:
		default:
			return invalid("%q is not a way to compare %s", c.Op, c.Field)
		}
		if c.Field == FieldHeader && !headerRE.MatchString(c.Header) {
			return invalid("%q is not the name of a header field", c.Header)
		}
	case FieldSize:
		if c.Op != OpOver && c.Op != OpUnder {
			return invalid("a size is over or under a value")
		}
		if !sizeRE.MatchString(c.Value) {
			return invalid("%q is not a size (a number, optionally followed by K, M or G)", c.Value)
		}
	case FieldAttachment:
	case FieldJunk:
		if n, err := strconv.Atoi(c.Value); err != nil || n < 1 || n > 10 || strconv.Itoa(n) != c.Value {
			return invalid("the junk score is a number from 1 to 10, not %q", c.Value)
		}
	default:
		return invalid("%q is not a condition", c.Field)
	}
	return nil
}

func (a Action) validate() error {
	switch a.Kind {
	case ActionMove, ActionCopy:
		if a.Folder == "" {
			return invalid("choose the folder to %s it to", a.Kind)
		}
		if len(a.Folder) > MaxValue {
			return invalid("the folder name is too long")
		}
	case ActionForward:
		if err := checkAddress(a.Address); err != nil {
			return err
		}
	case ActionReject:
		if strings.TrimSpace(a.Text) == "" {
			return invalid("a rejection needs a message saying why")
		}
		if len(a.Text) > MaxText {
			return invalid("the rejection message is too long")
		}
	case ActionFlag, ActionRead, ActionDiscard, ActionStop:
	default:
		return invalid("%q is not an action", a.Kind)
	}
	return nil
}

func checkAddress(s string) error {
	if _, err := address.Parse(s); err != nil || len(s) > MaxValue {
		return invalid("%q is not a mail address", s)
	}
	return nil
}

func (v Vacation) validate() error {
	if v == (Vacation{}) {
		return nil
	}
	if v.Days < 1 || v.Days > MaxDays {
		return invalid("vacation: the days between two answers are from 1 to %d", MaxDays)
	}
	if len(v.Subject) > MaxValue {
		return invalid("vacation: the subject is too long")
	}
	if len(v.Body) > MaxText {
		return invalid("vacation: the message is too long")
	}
	if v.Enabled && strings.TrimSpace(v.Body) == "" {
		return invalid("vacation: write the message to answer with")
	}
	var from, until time.Time
	for _, d := range []struct {
		s    string
		t    *time.Time
		name string
	}{{v.From, &from, "first"}, {v.Until, &until, "last"}} {
		if d.s == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, d.s)
		if err != nil {
			return invalid("vacation: the %s day %q is not a date (yyyy-mm-dd)", d.name, d.s)
		}
		*d.t = t
	}
	if !from.IsZero() && !until.IsZero() && until.Before(from) {
		return invalid("vacation: the last day is before the first")
	}
	return nil
}
