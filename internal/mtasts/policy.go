// Package mtasts implements the sending side of SMTP MTA Strict Transport
// Security (RFC 8461): it finds a domain's policy through its _mta-sts TXT
// record, fetches it over HTTPS, keeps it in a cache that survives
// restarts, and tells whether an MX host may receive the domain's mail. It
// also renders the policy Mailroom publishes for its own domains.
package mtasts

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Mode is what a policy asks of senders (RFC 8461 section 5).
type Mode string

// The modes of RFC 8461 section 3.2.
const (
	// Enforce: deliver only to matching MX hosts over verified TLS.
	Enforce Mode = "enforce"
	// Testing: check, report failures through TLS-RPT, deliver anyway.
	Testing Mode = "testing"
	// None: the domain withdrew its policy.
	None Mode = "none"
)

// MaxMaxAge is the longest lifetime a policy may claim: one year (RFC 8461
// section 3.2). Longer values are capped, not refused, as the section
// allows no more but a sender gains nothing by rejecting the policy.
const MaxMaxAge = 31557600 * time.Second

// MaxPolicySize bounds a policy body. RFC 8461 section 3.3 suggests 64 KiB;
// real policies are a few hundred octets.
const MaxPolicySize = 64 << 10

// Policy is a parsed MTA-STS policy.
type Policy struct {
	Mode   Mode
	MX     []string // patterns, lower case: "mx.example.org" or "*.example.org"
	MaxAge time.Duration
	// Text is the policy as served, for TLS-RPT's policy-string (RFC 8460
	// section 4.4), which lists its lines.
	Text string
}

// Lines returns the policy's lines as TLS-RPT's policy-string wants them.
func (p *Policy) Lines() []string {
	var out []string
	for l := range strings.SplitSeq(strings.ReplaceAll(p.Text, "\r\n", "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// Parse parses a policy body (RFC 8461 section 3.2): "key: value" lines
// separated by LF or CRLF. The version must be STSv1; unknown keys are
// ignored; a key other than mx given twice keeps its first value, as the
// section says. A policy in a mode other than none must list an MX pattern.
func Parse(body []byte) (*Policy, error) {
	if len(body) > MaxPolicySize {
		return nil, fmt.Errorf("mta-sts policy: %d octets, more than %d", len(body), MaxPolicySize)
	}
	p := &Policy{Text: string(body)}
	seen := map[string]bool{}
	var version, mode, maxAge string
	for i, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("mta-sts policy: line %d: no colon in %q", i+1, truncate(line))
		}
		k = strings.TrimSpace(k)
		v = strings.TrimSpace(v)
		if k == "mx" {
			pat, err := parsePattern(v)
			if err != nil {
				return nil, fmt.Errorf("mta-sts policy: line %d: %w", i+1, err)
			}
			p.MX = append(p.MX, pat)
			continue
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		switch k {
		case "version":
			version = v
		case "mode":
			mode = v
		case "max_age":
			maxAge = v
		}
	}
	if version != "STSv1" {
		return nil, fmt.Errorf("mta-sts policy: version %q, want STSv1", truncate(version))
	}
	switch Mode(mode) {
	case Enforce, Testing, None:
		p.Mode = Mode(mode)
	default:
		return nil, fmt.Errorf("mta-sts policy: mode %q, want enforce, testing or none", truncate(mode))
	}
	// sts-policy-max-age-value = 1*10(DIGIT)
	if maxAge == "" || len(maxAge) > 10 || strings.Trim(maxAge, "0123456789") != "" {
		return nil, fmt.Errorf("mta-sts policy: max_age %q is not a number of seconds", truncate(maxAge))
	}
	// Ten digits overflow a Duration once in nanoseconds: cap first.
	secs, _ := strconv.ParseInt(maxAge, 10, 64)
	p.MaxAge = time.Duration(min(secs, int64(MaxMaxAge/time.Second))) * time.Second
	if p.Mode != None && len(p.MX) == 0 {
		return nil, errors.New("mta-sts policy: no mx pattern")
	}
	return p, nil
}

// parsePattern checks an mx value: a host name, or "*." and a host name.
func parsePattern(v string) (string, error) {
	v = strings.ToLower(strings.TrimSuffix(v, "."))
	name := strings.TrimPrefix(v, "*.")
	if !validHost(name) {
		return "", fmt.Errorf("mx %q is not a host name pattern", truncate(v))
	}
	return v, nil
}

// validHost accepts an A-label host name with at least two labels.
func validHost(s string) bool {
	if len(s) == 0 || len(s) > 253 || !strings.Contains(s, ".") {
		return false
	}
	for l := range strings.SplitSeq(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// Matches reports whether host (an MX host name, A-label) is one the
// policy allows. A wildcard stands for exactly one leftmost label (RFC 8461
// section 4.1): "*.example.org" matches "mx.example.org" but neither
// "example.org" nor "a.mx.example.org".
func (p *Policy) Matches(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, pat := range p.MX {
		if suffix, ok := strings.CutPrefix(pat, "*."); ok {
			first, rest, found := strings.Cut(host, ".")
			if found && first != "" && rest == suffix {
				return true
			}
			continue
		}
		if host == pat {
			return true
		}
	}
	return false
}

// ParseRecord parses the _mta-sts TXT records of a domain (RFC 8461
// section 3.1) and returns the policy id. Records that do not start with
// "v=STSv1;" are not MTA-STS records and are ignored; none, or more than
// one, means the domain has no policy (ok false), as does a record whose
// id is malformed.
func ParseRecord(txts []string) (id string, ok bool) {
	n := 0
	for _, txt := range txts {
		fields := strings.Split(txt, ";")
		if strings.TrimSpace(fields[0]) != "v=STSv1" || len(fields) < 2 {
			continue
		}
		n++
		id = ""
		for _, f := range fields[1:] {
			k, v, found := strings.Cut(strings.TrimSpace(f), "=")
			if found && k == "id" && id == "" {
				id = v
			}
		}
	}
	// sts-id = 1*32(ALPHA / DIGIT)
	if n != 1 || id == "" || len(id) > 32 || !alnum(id) {
		return "", false
	}
	return id, true
}

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
