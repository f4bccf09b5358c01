package msgauth

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Header returns the Authentication-Results field (RFC 8601) recording r,
// folded one method per line, CRLF-terminated.
func (r *Result) Header(authservID string) string {
	var items []string
	if r.SPF.Result != "" {
		ptype := "smtp.mailfrom"
		if r.SPF.Identity == "helo" {
			ptype = "smtp.helo"
		}
		items = append(items, "spf="+r.SPF.Result+reason(r.SPF.Reason)+" "+ptype+"="+value(r.SPF.Value))
	}
	if len(r.DKIM) == 0 {
		items = append(items, "dkim=none")
	}
	for _, d := range r.DKIM {
		s := "dkim=" + d.Result + reason(d.Reason) + " header.d=" + value(d.Domain)
		if d.Selector != "" {
			s += " header.s=" + value(d.Selector)
		}
		if d.B != "" {
			s += " header.b=" + value(d.B)
		}
		items = append(items, s)
	}
	if r.DMARC.Result != "" {
		s := "dmarc=" + r.DMARC.Result + reason(r.DMARC.Reason)
		if r.DMARC.Policy != "" {
			c := "p=" + string(r.DMARC.Policy) + " dis=" + string(r.DMARC.Disposition)
			if r.DMARC.Override != "" {
				c += " override=" + r.DMARC.Override
			}
			s += " (" + c + ")"
		}
		if r.DMARC.FromDomain != "" {
			s += " header.from=" + value(r.DMARC.FromDomain)
		}
		if r.DMARC.Policy != "" {
			s += " policy.dmarc=" + string(r.DMARC.Disposition)
		}
		items = append(items, s)
	}
	if r.ARC.Result != "" {
		s := "arc=" + r.ARC.Result + reason(r.ARC.Reason)
		if r.ARC.Instances > 0 && r.ARC.Result == "pass" {
			s += " (i=" + fmt.Sprint(r.ARC.Instances) + " sealer=" + r.ARC.Sealer + ")"
		}
		if r.IPRev.IP.IsValid() {
			s += " smtp.remote-ip=" + r.IPRev.IP.String()
		}
		items = append(items, s)
	}
	if r.IPRev.Result != "" {
		s := "iprev=" + r.IPRev.Result + reason(r.IPRev.Reason)
		if r.IPRev.Name != "" {
			s += " (" + comment(r.IPRev.Name) + ")"
		}
		if r.IPRev.IP.IsValid() {
			s += " policy.iprev=" + r.IPRev.IP.String()
		}
		if r.HELO.Result != "" {
			// No registered method checks HELO names (RFC 8601 6.2):
			// a comment keeps the finding for readers and filters.
			s += " (helo " + r.HELO.Result
			if r.HELO.Reason != "" {
				s += ": " + comment(r.HELO.Reason)
			}
			s += ")"
		}
		items = append(items, s)
	}
	return AuthResultsHeader(authservID, items)
}

// AuthResultsHeader builds an Authentication-Results field from resinfo
// items ("method=result ptype.prop=value"); none gives "none" (RFC 8601
// 2.2).
func AuthResultsHeader(authservID string, items []string) string {
	if len(items) == 0 {
		return "Authentication-Results: " + value(authservID) + "; none\r\n"
	}
	return "Authentication-Results: " + value(authservID) + ";\r\n\t" + strings.Join(items, ";\r\n\t") + "\r\n"
}

// DNSBLHeader records the blocklist answers in X-Mailroom-DNSBL; "" if no
// zone was asked. (Authentication-Results has no registered method for
// blocklists: RFC 8904's dnswl is for allow lists.)
func (r *Result) DNSBLHeader() string {
	if len(r.DNSBL) == 0 {
		return ""
	}
	var items []string
	for _, d := range r.DNSBL {
		s := value(d.Zone) + " "
		if d.Listed {
			s += "listed=" + d.Code.String()
		} else {
			s += "not-listed"
		}
		if d.Reason != "" {
			s += " " + reason(d.Reason)[1:]
		}
		items = append(items, s)
	}
	return "X-Mailroom-DNSBL: " + strings.Join(items, ";\r\n\t") + "\r\n"
}

// Action is what the SMTP layer does with a checked message.
type Action int

// The actions.
const (
	Accept     Action = iota
	Quarantine        // deliver to Junk
	Reject            // 550 5.7.1, nothing stored, no bounce
	Defer             // 451, the sender retries
)

// Verdict is local policy applied to a Result.
type Verdict struct {
	Action Action
	// Quarantine lists why the message goes to Junk (for
	// delivery.Envelope.Quarantine), if Action is Quarantine.
	Quarantine []string
	// Reply is the SMTP reply text for Reject and Defer.
	Reply string
}

// Verdict decides. DMARC p=reject (after pct and overrides) rejects; so
// does a message with an ambiguous author (several From fields or
// domains), if enforcing (RFC 7489 6.6.1: typically rejected). A temporary DNS
// failure never rejects: it accepts, or defers if configured (6.6.3).
func (c *Checker) Verdict(r *Result) Verdict {
	d := r.DMARC
	switch {
	case d.Result == "fail" && d.Disposition == DispositionReject:
		return Verdict{Action: Reject, Reply: "message refused: the DMARC policy of " + d.FromDomain +
			" rejects mail that neither SPF nor DKIM authenticates for it"}
	case d.Result == "permerror" && d.Ambiguous && c.opts.Enforce:
		return Verdict{Action: Reject, Reply: "message refused: " + d.Reason +
			"; one From field with one author domain is required (RFC 5322 3.6, RFC 7489 6.6.1)"}
	case d.Result == "temperror" && c.opts.TempErrorDefer:
		return Verdict{Action: Defer, Reply: "temporary DNS failure checking the sender's DMARC policy, try again later"}
	}
	var v Verdict
	if d.Result == "fail" && d.Disposition == DispositionQuarantine {
		v.Quarantine = append(v.Quarantine, "dmarc=fail policy=quarantine from="+d.FromDomain)
	}
	for _, b := range r.DNSBL {
		if b.Listed {
			v.Quarantine = append(v.Quarantine, "dnsbl="+b.Zone)
		}
	}
	if len(v.Quarantine) > 0 {
		v.Action = Quarantine
	}
	return v
}

// value writes a pvalue: as is if it is a token or an address, else as a
// quoted-string (RFC 8601 2.2, RFC 2045 token).
func value(s string) string {
	if s == "" {
		return `""`
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>,;:\"/[]?=`, c) >= 0 {
			return quote(s)
		}
	}
	return s
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range clean(s) {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// reason is a " reason=..." reasonspec, or "" (RFC 8601 2.2).
func reason(s string) string {
	if s == "" {
		return ""
	}
	return " reason=" + quote(s)
}

// comment makes s safe inside a comment.
func comment(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '(' || r == ')' || r == '\\' {
			return -1
		}
		return r
	}, clean(s))
}

// clean drops control characters (no header injection) and bounds length.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
